import * as tf from '@tensorflow/tfjs-core';
import type { ConvBackpropAttrs } from '../conv-attrs.js';
import { backpropConvInfo } from '../conv-attrs.js';
import { type ConvEpilogue, type ConvMethod, conv2dForward, convMethodFor } from '../conv-forward.js';
import { withKernelCalls } from '../kernel-calls.js';
import { methodDefaults } from './defaults.js';
import { type KernelArgs, WASM, runStock, wasmKernel } from './stock.js';

interface ConvAttrs extends ConvBackpropAttrs {
  activation?: string;
  leakyreluAlpha?: number;
  /** otsr's extension: this call's method (tests); else the forced or the per-layer one. */
  convMethod?: ConvMethod;
}

/** Activations applied as the GEMM stores its tiles; the others run as their own kernel after it. */
const GEMM_ACTIVATIONS = new Set(['linear', 'relu', 'leakyrelu']);
/** The kernel of each other activation FusedConv2D accepts. */
const ACTIVATION_KERNELS: Record<string, string> = { prelu: 'Prelu', elu: 'Elu', relu6: 'Relu6', sigmoid: 'Sigmoid' };

/**
 * Conv2D and FusedConv2D (NHWC, float32) on otsr's SIMD GEMM (conv-forward.ts): the bias and relu / leaky
 * relu are applied in the GEMM, other activations and broadcast biases by their own kernels after it.
 * XNNPACK's conv is left only to what the stock kernel must refuse anyway (NCHW, other dtypes).
 */
function forwardConv(name: 'Conv2D' | 'FusedConv2D') {
  return (args: KernelArgs): tf.TensorInfo => {
    const { x, filter } = args.inputs as { x: tf.TensorInfo; filter: tf.TensorInfo };
    const attrs = args.attrs as unknown as ConvAttrs;
    if (attrs.dataFormat === 'NCHW' || x.dtype !== 'float32' || filter.dtype !== 'float32') return runStock(name, args);
    // Conv2D has no epilogue, whatever attributes it is handed.
    const fused = name === 'FusedConv2D';
    const { bias, preluActivationWeights } = (fused ? args.inputs : {}) as Record<string, tf.TensorInfo | undefined>;
    const activation = fused ? (attrs.activation ?? 'linear') : 'linear';
    const info = backpropConvInfo(x.shape, filter.shape, attrs, name);
    return withKernelCalls(args.backend, WASM, (calls) => {
      const biasInGemm = bias !== undefined && bias.dtype === 'float32' && tf.util.sizeFromShape(bias.shape) === info.outChannels;
      const activationInGemm = GEMM_ACTIVATIONS.has(activation);
      const method = attrs.convMethod ?? (methodDefaults.conv === 'auto' ? convMethodFor(info) : methodDefaults.conv);
      const epilogue: ConvEpilogue = {
        bias: biasInGemm ? bias : undefined,
        activation: activationInGemm ? (activation as ConvEpilogue['activation']) : 'linear',
        leakyreluAlpha: attrs.leakyreluAlpha,
      };
      let out = conv2dForward(calls, x, filter, info, epilogue, method);
      if (bias !== undefined && !biasInGemm) out = calls.run('Add', { a: out, b: bias });
      if (!activationInGemm) {
        const kernel = ACTIVATION_KERNELS[activation];
        if (kernel === undefined) throw new Error(`FusedConv2D: activation '${activation}' is not supported`);
        out = calls.run(kernel, kernel === 'Prelu' ? { x: out, alpha: preluActivationWeights! } : { x: out });
      }
      return calls.keep(out);
    });
  };
}

export const conv2dConfig = wasmKernel('Conv2D', forwardConv('Conv2D'));
export const fusedConv2dConfig = wasmKernel('FusedConv2D', forwardConv('FusedConv2D'));
