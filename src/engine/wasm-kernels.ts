import * as tf from '@tensorflow/tfjs-core';
import { WASM_KERNEL_CONFIGS } from './kernels/index.js';
import { WASM, rememberStock, stockKernel } from './kernels/stock.js';

export { setConvMethod, setFilterGradStrategy } from './kernels/defaults.js';

/** The kernels otsr registers for wasm (src/engine/kernels/, one file each), replacing the stock one where there is one. */
export const WASM_TRAINING_KERNELS = [
  'Conv2D',
  'FusedConv2D',
  'Conv2DBackpropInput',
  'Conv2DBackpropFilter',
  'Sum',
  'DepthwiseConv2dNativeBackpropInput',
  'DepthwiseConv2dNativeBackpropFilter',
  'OtsrAdam',
  'Identity',
] as const;
export type WasmTrainingKernel = (typeof WASM_TRAINING_KERNELS)[number];

/** otsr's registered kernels, by name. */
const ours = new Map<string, tf.KernelConfig>();

/**
 * Registers otsr's training kernels for the `wasm` backend, all on otsr's SIMD GEMM (wasm/): Conv2D and
 * FusedConv2D (XNNPACK's runs at ~60% of their speed here), Conv2DBackpropInput (the stock one is a naive
 * loop, 10-20x slower) and Conv2DBackpropFilter (which tfjs-backend-wasm 4.22 lacks), for every stride,
 * padding and dilation (NHWC), with Winograd for wide 3x3 stride-1 layers (conv-winograd.ts). Also a Sum
 * that is fast over leading axes (bias gradients), the two depthwise-conv gradients tfjs-backend-wasm lacks
 * (MobileNetV2 perceptual losses need them), a fused Adam update (kernels/otsr-adam.ts) and an Identity that
 * shares data instead of copying it. Idempotent; the stock kernels stay reachable through
 * {@link stockWasmKernel} for benchmarks.
 */
export function registerWasmTrainingKernels(): void {
  for (const config of WASM_KERNEL_CONFIGS) {
    const name = config.kernelName;
    const current = tf.getKernel(name, WASM);
    if (current !== undefined && current === ours.get(name)) continue;
    if (current !== undefined) {
      rememberStock(current);
      tf.unregisterKernel(name, WASM);
    }
    tf.registerKernel(config);
    ours.set(name, config);
  }
}

/** Whether otsr's kernel `name` is the one the active backend will run (so it accepts `dilations`). */
export function otsrKernelActive(name: WasmTrainingKernel): boolean {
  const config = ours.get(name);
  return config !== undefined && tf.getBackend() === WASM && tf.getKernel(name, WASM) === config;
}

/**
 * The kernel tfjs-backend-wasm itself registered under `name` before otsr replaced it (undefined where
 * it has none), with its setup already run on `backend`, so benchmarks can compare against it.
 */
export function stockWasmKernel(name: WasmTrainingKernel, backend: tf.KernelBackend): tf.KernelFunc | undefined {
  return stockKernel(name, backend);
}
