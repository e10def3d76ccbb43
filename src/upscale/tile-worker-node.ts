/**
 * Entry of an upscaling worker thread (see {@link TilePool}): loads the model named by its `source` on its own
 * backend instance, then runs the tile batches the main thread sends, one at a time.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { type BackendName, initBackend } from '../engine/backend.js';
import type { TileFromWorker, TileToWorker } from './tile-pool-node.js';
import { type Upscaler, type UpscalerSource, loadUpscaler } from './upscaler-node.js';

const port = parentPort!;
const { source, backend } = workerData as { source: UpscalerSource; backend: BackendName };
const post = (msg: TileFromWorker, transfer: ArrayBuffer[] = []) => port.postMessage(msg, transfer);
const describe = (err: unknown) => (err instanceof Error ? (err.stack ?? err.message) : String(err));

let upscaler: Upscaler | undefined;

async function start(): Promise<void> {
  await initBackend(backend, { gradients: false });
  upscaler = await loadUpscaler(source.spec, source.options);
  post({ type: 'ready', scale: upscaler.scale });
}

start().catch((err: unknown) => post({ type: 'error', message: describe(err) }));

// The pool sends a worker its next batch only after this one's result, so batches never overlap here.
port.on('message', (msg: TileToWorker) => {
  upscaler!.runner.run(msg.pixels, msg.shape).then(
    ({ data, shape }) => {
      // A copy: a backend may hand out its own storage, which must not be transferred away.
      const copy = data.slice();
      post({ type: 'result', id: msg.id, data: copy, shape }, [copy.buffer]);
    },
    (err: unknown) => post({ type: 'error', id: msg.id, message: describe(err) }),
  );
});
