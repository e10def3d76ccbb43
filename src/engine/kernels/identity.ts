import type * as tf from '@tensorflow/tfjs-core';
import { type KernelArgs, runStock, wasmKernel } from './stock.js';

/**
 * Identity shares its input's data (one more reference) instead of copying it, as tfjs's cpu backend does.
 * tfjs-core clones every tensor a gradient saves for the backward pass through Identity, so the stock wasm
 * kernel copied each conv's input and filter on every training step (118 copies, up to 19 MB each, ~20 ms
 * of the reference EDSR step). Sharing is safe because tensor data is never written in place: kernels write
 * only outputs they allocate, and a variable's assign replaces its data.
 */
function identity(args: KernelArgs): tf.TensorInfo {
  const { x } = args.inputs as { x: tf.TensorInfo };
  if (x.dtype === 'string') return runStock('Identity', args);
  (args.backend as { incRef(dataId: tf.DataId): void }).incRef(x.dataId);
  return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
}

export const identityConfig = wasmKernel('Identity', identity);
