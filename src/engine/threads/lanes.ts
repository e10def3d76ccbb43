import type { KernelCalls } from '../kernel-calls.js';
import type { SimdKernels } from '../wasm/simd-kernels.js';

/**
 * Threads that share one wasm heap and split a kernel's work between them ("lanes"): lane 0 is the calling
 * thread, the others are a pool's threads (pool.ts, Node). Pure, so that the kernels can ask for lanes in any
 * environment; without a pool they run as one lane.
 */
export interface KernelLanes {
  /** Lanes, the calling thread's included. */
  readonly count: number;
  /**
   * Runs `body(simd, lane)` for every lane at once, lane 0 on this thread with live kernels, the others on
   * their threads, and returns when all are done. A lane's body must only call `simd`'s kernels (other
   * lanes' calls are recorded, then replayed on their thread) and must write no heap bytes that another
   * lane reads or writes in the same run.
   */
  run(body: (simd: SimdKernels, lane: number) => void): void;
}

const byMemory = new WeakMap<WebAssembly.Memory, KernelLanes>();

/** Installs (or with undefined removes) the lanes of the kernels on `memory`. */
export function setKernelLanes(memory: WebAssembly.Memory, lanes: KernelLanes | undefined): void {
  if (lanes === undefined) byMemory.delete(memory);
  else byMemory.set(memory, lanes);
}

/** The lanes installed for `memory`, if more than one. */
export function kernelLanes(memory: WebAssembly.Memory): KernelLanes | undefined {
  const lanes = byMemory.get(memory);
  return lanes !== undefined && lanes.count > 1 ? lanes : undefined;
}

/**
 * Lane `lane`'s share [start, end) of `total` items in `count` near-equal runs whose boundaries are multiples
 * of `align` (a GEMM's 4-row tile, so that every lane's tiles are whole).
 */
export function laneRange(total: number, count: number, lane: number, align = 1): [number, number] {
  const units = Math.ceil(total / align);
  const at = (k: number) => Math.min(total, Math.round((units * k) / count) * align);
  return [at(lane), at(lane + 1)];
}

/**
 * Runs `body(kernels, lanes, index)` on every lane of `calls`' heap (see {@link KernelLanes.run}), or once with
 * `simd` as lane 0 of 1 where there are no kernel threads.
 */
export function onLanes(calls: KernelCalls, simd: SimdKernels, body: (kernels: SimdKernels, lanes: number, index: number) => void): void {
  const lanes = calls.lanes();
  if (lanes === undefined) body(simd, 1, 0);
  else lanes.run((kernels, index) => body(kernels, lanes.count, index));
}
