import * as tf from '@tensorflow/tfjs-core';
import { UsageError } from '../errors.js';

/** The TF.js backends otsr knows how to run on. */
export type BackendName = 'wasm' | 'cpu' | 'webgl' | 'webgpu';

export const NODE_BACKENDS: readonly BackendName[] = ['wasm', 'cpu'];
/** Browser preference order: the first one that initialises wins. */
export const BROWSER_BACKENDS: readonly BackendName[] = ['webgpu', 'webgl', 'wasm'];

const isNode = typeof process !== 'undefined' && !!process.versions?.node;

/**
 * Threads per wasm kernel (otsr's convs split across threads of one wasm heap, engine/threads/), Node only:
 * `OTSR_KERNEL_THREADS`, default 1 (none). More than 1 starts tfjs-backend-wasm's multi-threaded build.
 */
export function kernelThreadsFromEnv(): number {
  const value = process.env.OTSR_KERNEL_THREADS;
  if (value === undefined || value === '') return 1;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`OTSR_KERNEL_THREADS must be a positive integer, not '${value}'`);
  return n;
}

async function importBackend(name: BackendName, kernelThreads: number): Promise<void> {
  // Imported lazily so that a Node process never loads the GPU backends and a page loads only what it uses.
  switch (name) {
    case 'cpu':
      await import('@tensorflow/tfjs-backend-cpu');
      return;
    case 'wasm': {
      if (isNode) await (await import('./wasm/simd-kernels.js')).enableRelaxedSimdInNode();
      if (isNode && kernelThreads > 1) await (await kernelThreadsModule()).enableThreadedWasmInNode(kernelThreads);
      await import('@tensorflow/tfjs-backend-wasm');
      const { registerWasmTrainingKernels } = await import('./wasm-kernels.js');
      registerWasmTrainingKernels();
      return;
    }
    case 'webgl':
      // @ts-ignore optional browser-only dependency
      await import('@tensorflow/tfjs-backend-webgl');
      return;
    case 'webgpu':
      // @ts-ignore optional browser-only dependency
      await import('@tensorflow/tfjs-backend-webgpu');
      return;
  }
}

/**
 * Chooses and initialises the TF.js backend, in one place for the whole library.
 *
 * - Node: `wasm` (with otsr's training kernels) unless `cpu` is asked for (reference numerics).
 * - Browser: webgpu, then webgl, then wasm, unless one is asked for.
 *
 * Also registers tfjs-core's gradients (the core package alone registers none) and the ones it lacks
 * (pixel shuffle, double backprop, dilated convs), unless `gradients: false` (inference only). Idempotent.
 * @returns the name of the backend now active.
 */
export async function initBackend(requested?: BackendName, options: { gradients?: boolean } = {}): Promise<BackendName> {
  // Inference (upscale) needs no gradients; registering tfjs-core's takes seconds in Node (hundreds of
  // ESM files), a cost every `otsr upscale` would pay at start.
  if (options.gradients ?? true) {
    const { registerCoreGradients, registerMissingGradients } = await import('./gradients.js');
    await registerCoreGradients();
    registerMissingGradients();
    (await import('./matmul-gradient.js')).registerUntransposedMatMulGradient();
  }
  const kernelThreads = isNode ? kernelThreadsFromEnv() : 1;
  const allowed = isNode ? NODE_BACKENDS : BROWSER_BACKENDS;
  if (requested !== undefined && !allowed.includes(requested)) {
    throw new UsageError(
      `backend '${requested}' is not available ${isNode ? 'in Node' : 'in the browser'}; choose one of: ${allowed.join(', ')}`,
    );
  }
  const candidates = requested !== undefined ? [requested] : isNode ? ['wasm' as const] : BROWSER_BACKENDS;
  for (const name of candidates) {
    if (tf.getBackend() === name) return name;
    try {
      await importBackend(name, kernelThreads);
      if (await tf.setBackend(name)) {
        await tf.ready();
        if (name === 'wasm' && kernelThreads > 1) await (await kernelThreadsModule()).startKernelThreads(kernelThreads);
        silenceCpuBanner();
        return name;
      }
    } catch (err) {
      if (requested !== undefined) throw err;
    }
  }
  throw new UsageError(`none of the backends ${candidates.join(', ')} could be initialised`);
}

/** Parses a `--backend` value. */
export function parseBackendName(value: string): BackendName {
  const all: BackendName[] = ['wasm', 'cpu', 'webgl', 'webgpu'];
  if ((all as string[]).includes(value)) return value as BackendName;
  throw new UsageError(`unknown backend '${value}'; choose one of: ${all.join(', ')}`);
}

/**
 * tfjs's cpu backend prints "install our node backend" on its first tensor in Node. otsr deliberately does not
 * use tfjs-node (its install downloads libtensorflow), so that advice would only mislead users.
 */
function silenceCpuBanner(): void {
  if (!isNode || !tf.engine().registryFactory.cpu) return;
  const cpu = tf.engine().findBackend('cpu') as unknown as { firstUse?: boolean } | undefined;
  if (cpu && 'firstUse' in cpu) cpu.firstUse = false;
}

/**
 * The Node-only kernel-thread start-up (threads/node.ts), imported by a computed URL so that the page's bundler
 * leaves it, and the worker_threads it needs, out (scripts/build-web.ts); `.ts` when running from source.
 */
async function kernelThreadsModule(): Promise<typeof import('./threads/node.js')> {
  const ext = import.meta.url.endsWith('.ts') ? 'ts' : 'js';
  return (await import(new URL(`./threads/node.${ext}`, import.meta.url).href)) as typeof import('./threads/node.js');
}
