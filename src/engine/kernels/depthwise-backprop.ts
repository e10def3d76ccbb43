import type * as tf from '@tensorflow/tfjs-core';
import { type ConvBackpropAttrs, backpropConvInfo } from '../conv-attrs.js';
import { depthwiseBackpropFilter, depthwiseBackpropInput } from '../depthwise-backprop.js';
import { withKernelCalls } from '../kernel-calls.js';
import { type KernelArgs, WASM, wasmKernel } from './stock.js';

/**
 * The gradients of depthwise convolutions (tfjs-backend-wasm 4.22 has neither): JS loops on the heap
 * (depthwise-backprop.ts). The output is allocated before the views are taken (see KernelCalls).
 */
function depthwiseBackprop(which: 'input' | 'filter') {
  return (args: KernelArgs): tf.TensorInfo => {
    const attrs = args.attrs as unknown as ConvBackpropAttrs & { inputShape?: number[]; filterShape?: number[] };
    return withKernelCalls(args.backend, WASM, (calls) => {
      if (which === 'input') {
        const { dy, filter } = args.inputs as { dy: tf.TensorInfo; filter: tf.TensorInfo };
        const info = backpropConvInfo(attrs.inputShape!, filter.shape, attrs, 'DepthwiseConv2dNativeBackpropInput', true);
        const dx = calls.empty(info.inShape);
        depthwiseBackpropInput(calls.view(dy), calls.view(filter), info, calls.view(dx));
        return calls.keep(dx);
      }
      const { x, dy } = args.inputs as { x: tf.TensorInfo; dy: tf.TensorInfo };
      const info = backpropConvInfo(x.shape, attrs.filterShape!, attrs, 'DepthwiseConv2dNativeBackpropFilter', true);
      const dw = calls.empty(attrs.filterShape!);
      depthwiseBackpropFilter(calls.view(x), calls.view(dy), info, calls.view(dw));
      return calls.keep(dw);
    });
  };
}

export const depthwiseBackpropInputConfig = wasmKernel('DepthwiseConv2dNativeBackpropInput', depthwiseBackprop('input'));
export const depthwiseBackpropFilterConfig = wasmKernel('DepthwiseConv2dNativeBackpropFilter', depthwiseBackprop('filter'));
