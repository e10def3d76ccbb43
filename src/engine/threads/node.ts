import * as tf from '@tensorflow/tfjs-core';
import { kernelLanes } from './lanes.js';
import { KernelThreadPool } from './pool.js';

export { enableThreadedWasmInNode } from './threaded-wasm-node.js';

/**
 * Starts `lanes - 1` kernel threads on the active wasm backend's shared heap (tfjs's threaded build, see
 * threaded-wasm-node.ts), once per process. Node only: the engine loads this module by a computed URL, which
 * keeps it (and worker_threads) out of the page's bundle.
 */
export async function startKernelThreads(lanes: number): Promise<void> {
  const memory = (tf.backend() as unknown as { wasm: { wasmMemory?: unknown } }).wasm.wasmMemory;
  if (!(memory instanceof WebAssembly.Memory)) throw new Error('kernel threads: the wasm backend has no shared heap');
  if (kernelLanes(memory) !== undefined) return;
  await KernelThreadPool.start(memory, lanes);
}
