import type * as tf from '@tensorflow/tfjs-core';

/** The backend otsr's kernels are registered for. */
export const WASM = 'wasm';

/** What tfjs passes a kernel function. */
export type KernelArgs = { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: tf.NamedAttrMap };

/** tfjs-backend-wasm's own kernels that otsr replaced, by kernel name (filled at registration). */
const stock = new Map<string, tf.KernelConfig>();
/** Stock kernels whose setup (binding their wasm function) has run, per backend instance. */
const stockReady = new WeakMap<object, Set<string>>();

/** Keeps the stock kernel `config` that otsr's kernel of the same name replaces. */
export function rememberStock(config: tf.KernelConfig): void {
  stock.set(config.kernelName, config);
}

/** The stock kernel `name`, set up on `backend` (otsr unregisters it before the backend runs setups). */
export function stockKernel(name: string, backend: object): tf.KernelFunc | undefined {
  const config = stock.get(name);
  if (config === undefined) return undefined;
  let ready = stockReady.get(backend);
  if (ready === undefined) stockReady.set(backend, (ready = new Set()));
  if (!ready.has(name)) {
    config.setupFunc?.(backend as tf.KernelBackend);
    ready.add(name);
  }
  return config.kernelFunc;
}

/** Runs the stock kernel `name` (one otsr replaced, and still has) on the arguments otsr's was given. */
export function runStock(name: string, args: KernelArgs): tf.TensorInfo {
  return stockKernel(name, args.backend as object)!(args as unknown as Parameters<tf.KernelFunc>[0]) as tf.TensorInfo;
}

/** A KernelConfig for the wasm backend from a kernel function with otsr's argument type. */
export function wasmKernel(kernelName: string, kernelFunc: (args: KernelArgs) => tf.TensorInfo | tf.TensorInfo[]): tf.KernelConfig {
  return { kernelName, backendName: WASM, kernelFunc: kernelFunc as unknown as tf.KernelFunc };
}
