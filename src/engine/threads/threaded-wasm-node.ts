import * as tf from '@tensorflow/tfjs-core';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { Worker as NodeWorker } from 'node:worker_threads';

/**
 * Lets tfjs-backend-wasm 4.22 start its multi-threaded build (a shared WebAssembly.Memory as the heap) in Node,
 * which it refuses: its flag WASM_HAS_MULTITHREAD_SUPPORT returns false when IS_NODE (dist/flags_wasm.js, tfjs
 * issue 3830). Forcing the flag alone fails at start-up with ERR_WORKER_PATH: Emscripten's pthread pool calls
 * `new Worker(locateFile('…threaded-simd.worker.js'))`, and tfjs's locateFile answers with a `blob:` URL
 * (backend_wasm.js), which a browser Worker accepts and Node's worker_threads does not. The glue names `Worker`
 * through the global object (it assigns worker_threads' Worker there first), so a getter that always answers
 * {@link PthreadWorker} takes its place: it runs Emscripten's own worker script (wasm-out/…worker.js) as eval'd
 * code, with the module factory required from its file instead of read from the posted Blob (which Node cannot
 * read synchronously, as that script's importScripts does). Call before the wasm backend initialises; the
 * backend's tfjs kernels then run on the threaded build, with `threads` pthreads of their own (setThreadsCount).
 */
export async function enableThreadedWasmInNode(threads: number): Promise<void> {
  if (installed) return;
  const require = createRequire(import.meta.url);
  const wasmOut = path.join(path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm')), '..', 'wasm-out');
  const factory = path.join(wasmOut, 'tfjs-backend-wasm-threaded-simd.js');
  const { wasmWorkerContents } = require(path.join(wasmOut, 'tfjs-backend-wasm-threaded-simd.worker.js')) as { wasmWorkerContents: string };
  if (!wasmWorkerContents.includes(LOAD_FROM_BLOB)) throw new Error('tfjs-backend-wasm pthread worker script is not the one this shim knows (4.22)');
  // As tfjs does before making its Blob: the template literal turned the script's "\n" escapes into newlines.
  const code =
    `globalThis.WasmBackendModuleThreadedSimd = require(${JSON.stringify(factory)});` +
    wasmWorkerContents.replace(/\n/g, '\\n').replace(LOAD_FROM_BLOB, '');
  class PthreadWorker extends NodeWorker {
    constructor(_url: unknown) {
      super(code, { eval: true });
    }
  }
  Object.defineProperty(globalThis, 'Worker', { configurable: true, get: () => PthreadWorker, set: () => {} });
  const { setThreadsCount } = await import('@tensorflow/tfjs-backend-wasm'); // registers the flag
  tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', true);
  setThreadsCount(threads);
  installed = true;
}

let installed = false;

/** The worker script's load of the factory from the posted URL or Blob (the factory is already global). */
const LOAD_FROM_BLOB =
  'if(typeof e.data.urlOrBlob=="string"){importScripts(e.data.urlOrBlob)}else{var objectUrl=URL.createObjectURL(e.data.urlOrBlob);importScripts(objectUrl);URL.revokeObjectURL(objectUrl)}';
