import * as tf from '@tensorflow/tfjs-core';
import type { ConvBackpropAttrs } from './conv-attrs.js';
import { type FilterGradStrategy, conv2dBackpropFilter } from './conv-backprop-filter.js';
import { conv2dBackpropInput } from './conv-backprop-input.js';
import { KernelCalls, type WasmBackendLike } from './kernel-calls.js';

const BACKEND = 'wasm';

/** The kernels otsr registers for wasm, replacing the stock one where there is one. */
export const WASM_TRAINING_KERNELS = ['Conv2DBackpropInput', 'Conv2DBackpropFilter', 'Sum'] as const;
export type WasmTrainingKernel = (typeof WASM_TRAINING_KERNELS)[number];

/** tfjs-backend-wasm's own kernels that otsr replaced, and otsr's, by kernel name. */
const stock = new Map<string, tf.KernelConfig>();
const ours = new Map<string, tf.KernelConfig>();
/** Stock kernels whose setup (binding their wasm function) has run, per backend instance. */
const stockReady = new WeakMap<object, Set<string>>();

/** The stock kernel `name`, set up on `backend` (otsr unregisters it before the backend runs setups). */
function stockKernel(name: string, backend: object): tf.KernelFunc | undefined {
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

let filterGradStrategy: FilterGradStrategy = 'auto';

/** Forces a filter-gradient method (benchmarks and tests compare them); `auto` picks per layer. */
export function setFilterGradStrategy(strategy: FilterGradStrategy): void {
  filterGradStrategy = strategy;
}

function backpropInput(args: { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: tf.NamedAttrMap }): tf.TensorInfo {
  const { dy, filter } = args.inputs as { dy: tf.TensorInfo; filter: tf.TensorInfo };
  const attrs = args.attrs as unknown as ConvBackpropAttrs & { inputShape: [number, number, number, number] };
  const calls = new KernelCalls(args.backend as WasmBackendLike, BACKEND);
  try {
    return conv2dBackpropInput(calls, dy, filter, attrs.inputShape, attrs);
  } finally {
    calls.dispose();
  }
}

function backpropFilter(args: { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: tf.NamedAttrMap }): tf.TensorInfo {
  const { x, dy } = args.inputs as { x: tf.TensorInfo; dy: tf.TensorInfo };
  const attrs = args.attrs as unknown as ConvBackpropAttrs & { filterShape: [number, number, number, number] };
  const calls = new KernelCalls(args.backend as WasmBackendLike, BACKEND);
  try {
    return conv2dBackpropFilter(calls, x, dy, attrs.filterShape, attrs, filterGradStrategy);
  } finally {
    calls.dispose();
  }
}

/**
 * Sum over leading axes (the bias gradient of a conv sums dy over batch, rows and columns): a column sum
 * in JS with float64 accumulators. The stock kernel first transposes the reduced axes innermost, which
 * costs more than the sum. Every other Sum goes to the stock kernel.
 */
function sum(args: { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: tf.NamedAttrMap }): tf.TensorInfo {
  const { x } = args.inputs as { x: tf.TensorInfo };
  const { axis, keepDims } = args.attrs as unknown as { axis: number | number[]; keepDims: boolean };
  const axes = tf.util.parseAxisParam(axis, x.shape).sort((a, b) => a - b);
  const leading = axes.length > 0 && axes.length < x.shape.length && axes.every((a, i) => a === i);
  if (x.dtype !== 'float32' || !leading) {
    return stockKernel('Sum', args.backend as object)!(args as unknown as Parameters<tf.KernelFunc>[0]) as tf.TensorInfo;
  }
  const backend = args.backend as WasmBackendLike;
  const kept = x.shape.slice(axes.length);
  const cols = kept.reduce((a, b) => a * b, 1);
  const rows = x.shape.slice(0, axes.length).reduce((a, b) => a * b, 1);
  const out = backend.makeOutput(keepDims ? [...axes.map(() => 1), ...kept] : kept, 'float32');
  const src = backend.typedArrayFromHeap(x) as Float32Array;
  const dst = backend.typedArrayFromHeap(out) as Float32Array;
  const acc = new Float64Array(cols);
  for (let r = 0, i = 0; r < rows; r++) for (let c = 0; c < cols; c++, i++) acc[c]! += src[i]!;
  dst.set(acc);
  return out;
}

/**
 * Registers otsr's training kernels for the `wasm` backend: Conv2DBackpropFilter (which tfjs-backend-wasm
 * 4.22 lacks) and a Conv2DBackpropInput built on XNNPACK's forward conv (the stock one is a naive loop,
 * ~10x slower). Both handle every stride, padding and dilation (NHWC). Also a Sum that is fast over leading
 * axes (bias gradients). Idempotent; the stock kernels stay reachable through {@link stockWasmKernel} for
 * benchmarks.
 */
export function registerWasmTrainingKernels(): void {
  const impls: Record<WasmTrainingKernel, tf.KernelFunc> = {
    Conv2DBackpropInput: backpropInput as unknown as tf.KernelFunc,
    Conv2DBackpropFilter: backpropFilter as unknown as tf.KernelFunc,
    Sum: sum as unknown as tf.KernelFunc,
  };
  for (const name of WASM_TRAINING_KERNELS) {
    const current = tf.getKernel(name, BACKEND);
    if (current !== undefined && current === ours.get(name)) continue;
    if (current !== undefined) {
      stock.set(name, current);
      tf.unregisterKernel(name, BACKEND);
    }
    const config: tf.KernelConfig = { kernelName: name, backendName: BACKEND, kernelFunc: impls[name] };
    tf.registerKernel(config);
    ours.set(name, config);
  }
}

/** Whether otsr's kernel `name` is the one the active backend will run (so it accepts `dilations`). */
export function otsrKernelActive(name: WasmTrainingKernel): boolean {
  const config = ours.get(name);
  return config !== undefined && tf.getBackend() === BACKEND && tf.getKernel(name, BACKEND) === config;
}

/**
 * The kernel tfjs-backend-wasm itself registered under `name` before otsr replaced it (undefined where
 * it has none), with its setup already run on `backend`, so benchmarks can compare against it.
 */
export function stockWasmKernel(name: WasmTrainingKernel, backend: tf.KernelBackend): tf.KernelFunc | undefined {
  return stockKernel(name, backend);
}
