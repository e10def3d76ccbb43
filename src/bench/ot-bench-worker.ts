/** Worker thread of the OT benchmark: trains and scores the runs the main thread sends, one at a time. */
import { parentPort, workerData } from 'node:worker_threads';
import { initBackend } from '../engine/backend.js';
import { type OtBenchConfig, type OtBenchRun, trainAndScore } from './ot-bench.js';
import { type OtBenchmarkPair, makePair } from './ot-pairs.js';

const port = parentPort!;
const ready = initBackend((workerData as { backend: 'wasm' | 'cpu' }).backend);
/** Pairs built so far (the mixture pair estimates Var(Q) from 2^16 samples: worth keeping). */
const pairs = new Map<string, OtBenchmarkPair>();

port.on('message', async (msg: { id: number; run: OtBenchRun; config: OtBenchConfig }) => {
  try {
    await ready;
    const { run, config } = msg;
    const key = `${run.pair}:${run.dim}:${config.seed}`;
    let pair = pairs.get(key);
    if (!pair) pairs.set(key, (pair = makePair(run.pair, run.dim, config.seed)));
    const row = await trainAndScore(pair, run.solver, run.lambda, config);
    port.postMessage({ id: msg.id, row });
  } catch (err) {
    port.postMessage({ id: msg.id, error: err instanceof Error ? (err.stack ?? err.message) : String(err) });
  }
});
