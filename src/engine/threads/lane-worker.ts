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
      else call(fns[index]!, i + 2, argc);
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

/**
 * Calls `fn` with the `argc` arguments at calls[at...]: by arity, since spreading a typed array (its iterator)
 * cost ~15 ms of this thread's time per reference step.
 */
function call(fn: (...args: number[]) => void, at: number, argc: number): void {
  const c = calls;
  switch (argc) {
    case 4:
      return fn(c[at]!, c[at + 1]!, c[at + 2]!, c[at + 3]!);
    case 5:
      return fn(c[at]!, c[at + 1]!, c[at + 2]!, c[at + 3]!, c[at + 4]!);
    case 6:
      return fn(c[at]!, c[at + 1]!, c[at + 2]!, c[at + 3]!, c[at + 4]!, c[at + 5]!);
    case 8:
      return fn(c[at]!, c[at + 1]!, c[at + 2]!, c[at + 3]!, c[at + 4]!, c[at + 5]!, c[at + 6]!, c[at + 7]!);
    case 12:
      return fn(c[at]!, c[at + 1]!, c[at + 2]!, c[at + 3]!, c[at + 4]!, c[at + 5]!, c[at + 6]!, c[at + 7]!, c[at + 8]!, c[at + 9]!, c[at + 10]!, c[at + 11]!);
    default:
      return fn(...Array.from(c.subarray(at, at + argc)));
  }
}
