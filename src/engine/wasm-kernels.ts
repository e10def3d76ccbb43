import * as tf from '@tensorflow/tfjs-core';
import type { ConvBackpropAttrs } from './conv-attrs.js';
import { type FilterGradStrategy, conv2dBackpropFilter } from './conv-backprop-filter.js';
import { conv2dBackpropInput } from './conv-backprop-input.js';
import { KernelCalls, type WasmBackendLike } from './kernel-calls.js';

const BACKEND = 'wasm';

/** The kernels otsr registers for wasm, replacing the stock one where there is one. */
export const WASM_TRAINING_KERNELS = ['Conv2DBackpropInput', 'Conv2DBackpropFilter'] as const;
export type WasmTrainingKernel = (typeof WASM_TRAINING_KERNELS)[number];

const stock = new Map<string, tf.KernelConfig>();
let filterGradStrategy: FilterGradStrategy = 'patches';

/** Picks the filter-gradient method (benchmarks and tests compare them; `patches` is the fast one). */
export function setFilterGradStrategy(strategy: FilterGradStrategy): void {
  filterGradStrategy = strategy;
}
const ours = new Map<string, tf.KernelConfig>();

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
 * Registers otsr's training kernels for the `wasm` backend: Conv2DBackpropFilter (which tfjs-backend-wasm
 * 4.22 lacks) and a Conv2DBackpropInput built on XNNPACK's forward conv (the stock one is a naive loop,
 * ~10x slower). Both handle every stride, padding and dilation (NHWC). Idempotent; the stock kernels stay
 * reachable through {@link stockWasmKernel} for benchmarks.
 */
export function registerWasmTrainingKernels(): void {
  const impls: Record<WasmTrainingKernel, tf.KernelFunc> = {
    Conv2DBackpropInput: backpropInput as unknown as tf.KernelFunc,
    Conv2DBackpropFilter: backpropFilter as unknown as tf.KernelFunc,
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
  const config = stock.get(name);
  if (config === undefined) return undefined;
  config.setupFunc?.(backend);
  return config.kernelFunc;
}
