import type * as tf from '@tensorflow/tfjs-core';
import type { ConvBackpropAttrs } from '../conv-attrs.js';
import { conv2dBackpropInput } from '../conv-backprop-input.js';
import { withKernelCalls } from '../kernel-calls.js';
import { type KernelArgs, WASM, wasmKernel } from './stock.js';

/** Conv2DBackpropInput on forward convs (conv-backprop-input.ts; the stock one is a naive loop, 10-20x slower). */
function backpropInput(args: KernelArgs): tf.TensorInfo {
  const { dy, filter } = args.inputs as { dy: tf.TensorInfo; filter: tf.TensorInfo };
  const attrs = args.attrs as unknown as ConvBackpropAttrs & { inputShape: [number, number, number, number] };
  return withKernelCalls(args.backend, WASM, (calls) => conv2dBackpropInput(calls, dy, filter, attrs.inputShape, attrs));
}

export const conv2dBackpropInputConfig = wasmKernel('Conv2DBackpropInput', backpropInput);
