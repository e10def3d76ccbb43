import { workerData } from 'node:worker_threads';
import { parentPort } from 'node:worker_threads';
import { SimdKernels, enableRelaxedSimdInNode } from '../wasm/simd-kernels.js';
import { BARRIER_CALL, CALL_CAPACITY, DONE, FAILED, LENGTH, type LaneWorkerData, LaneAborted, SEQ, abortRun, barrier, slot, waitWhile } from './protocol.js';

/**
 * A kernel thread (pool.ts): otsr's SIMD module instantiated on the shared heap; waits for a run number,
 * replays that run's call records (kernel calls and barriers), reports it done, and waits again.
 */
const data = workerData as LaneWorkerData;
await enableRelaxedSimdInNode();
const module = SimdKernels.module({ shared: true, fma: data.fma });
const exports = new WebAssembly.Instance(module, { env: { memory: data.memory } }).exports as Record<string, (...args: number[]) => void>;
const fns = WebAssembly.Module.exports(module).map((e) => exports[e.name]!);
const control = new Int32Array(data.control);
const calls = new Float64Array(data.calls, (data.lane - 1) * CALL_CAPACITY * 8, CALL_CAPACITY);
const [seqAt, doneAt] = [slot(data.lane, SEQ), slot(data.lane, DONE)];

let seen = Atomics.load(control, doneAt);
parentPort!.postMessage('ready');
for (;;) {
  waitWhile(control, seqAt, seen);
  const seq = Atomics.load(control, seqAt);
  if (seq < 0) break;
  try {
    const length = control[slot(data.lane, LENGTH)]!;
    for (let i = 0; i < length; ) {
      const index = calls[i]!;
      const argc = calls[i + 1]!;
      if (index === BARRIER_CALL) barrier(control, data.lanes);
      else fns[index]!(...calls.subarray(i + 2, i + 2 + argc));
      i += 2 + argc;
    }
  } catch (err) {
    if (!(err instanceof LaneAborted)) {
      console.error(`otsr kernel thread ${data.lane}:`, err);
      abortRun(control);
    }
    Atomics.store(control, slot(data.lane, FAILED), 1);
  }
  seen = seq;
  Atomics.store(control, doneAt, seq);
  Atomics.notify(control, doneAt);
}
