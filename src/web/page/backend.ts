/** Starts TF.js in the page: webgpu, else webgl, else wasm (binaries served next to the page, in wasm/). */
import * as tf from '@tensorflow/tfjs-core';
import { getThreadsCount, setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { type BackendName, initBackend, parseBackendName } from '../../engine/backend.js';

/**
 * Initialises the backend (`requested`, e.g. from `?backend=wasm`, or the best available one).
 * @returns its name.
 */
export async function startBackend(requested?: string | null): Promise<BackendName> {
  setWasmPaths(new URL('wasm/', document.baseURI).href);
  return initBackend(requested ? parseBackendName(requested) : undefined);
}

/** A one-line description of the running backend, for the page. */
export function describeBackend(name: BackendName): string {
  if (name === 'wasm') {
    const threads = getThreadsCount();
    const simd = tf.env().getBool('WASM_HAS_SIMD_SUPPORT');
    return `wasm (CPU${simd ? ', SIMD' : ''}, ${threads} thread${threads === 1 ? '' : 's'})`;
  }
  if (name === 'webgl') return `webgl (GPU, WebGL ${tf.env().getNumber('WEBGL_VERSION')})`;
  if (name === 'webgpu') return 'webgpu (GPU)';
  return name;
}
