import type * as tf from '@tensorflow/tfjs-core';
import type { ConvBackpropAttrs } from '../conv-attrs.js';
import { type FilterGradOptions, type FilterGradStrategy, conv2dBackpropFilter } from '../conv-backprop-filter.js';
import { withKernelCalls } from '../kernel-calls.js';
import { methodDefaults } from './defaults.js';
import { type KernelArgs, WASM, wasmKernel } from './stock.js';

/** Conv2DBackpropFilter (which tfjs-backend-wasm 4.22 lacks), see conv-backprop-filter.ts. */
function backpropFilter(args: KernelArgs): tf.TensorInfo {
  const { x, dy } = args.inputs as { x: tf.TensorInfo; dy: tf.TensorInfo };
  // otsr's extensions: this call's method and contraction split (tests).
  const attrs = args.attrs as unknown as ConvBackpropAttrs & { filterShape: [number, number, number, number] } & FilterGradOptions & {
    filterGradStrategy?: FilterGradStrategy;
  };
  const options = { strategy: attrs.filterGradStrategy ?? methodDefaults.filterGrad, maxContraction: attrs.maxContraction };
  return withKernelCalls(args.backend, WASM, (calls) => conv2dBackpropFilter(calls, x, dy, attrs.filterShape, attrs, options));
}

export const conv2dBackpropFilterConfig = wasmKernel('Conv2DBackpropFilter', backpropFilter);
