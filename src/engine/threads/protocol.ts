/**
 * The shared control block of a kernel thread pool (pool.ts, lane-worker.ts), i32 slots: the pool's
 * {@link GLOBAL_SLOTS}, then {@link SLOTS} per worker lane; and per worker lane a run of f64 call records.
 *
 * Pool slots:
 * - `SPIN_US`: how long a waiting thread polls before it sleeps (microseconds; settable while running);
 * - `BARRIER_COUNT`, `BARRIER_GEN`: the lanes' barrier inside a run ({@link barrier});
 * - `ABORT`: 1 once a lane of the current run has thrown, so that the others stop waiting at barriers.
 *
 * Lane slots:
 * - `SEQ`: the run number the main thread posts (Atomics.notify), -1 to stop;
 * - `DONE`: the run number the worker finished (Atomics.notify back);
 * - `FAILED`: 1 when that run threw (the worker prints why);
 * - `LENGTH`: f64s of call records in the run: export index ({@link BARRIER_CALL} for a barrier), argument
 *   count, arguments.
 */
export const SPIN_US = 0;
export const BARRIER_COUNT = 1;
export const BARRIER_GEN = 2;
export const ABORT = 3;
export const GLOBAL_SLOTS = 4;

export const SEQ = 0;
export const DONE = 1;
export const FAILED = 2;
export const LENGTH = 3;
export const SLOTS = 4;
/** f64s of call records per lane: 512 KiB, some ten thousand kernel calls. */
export const CALL_CAPACITY = 1 << 16;
/** The export index that records a barrier. */
export const BARRIER_CALL = -1;

/** What a lane worker is started with. */
export interface LaneWorkerData {
  memory: WebAssembly.Memory;
  control: SharedArrayBuffer;
  calls: SharedArrayBuffer;
  /** This worker's lane (1-based: lane 0 is the main thread). */
  lane: number;
  /** Lanes in all, the main thread's included. */
  lanes: number;
  fma: boolean;
}

/** The i32 slot `which` of `lane` (1-based) in the control block. */
export function slot(lane: number, which: number): number {
  return GLOBAL_SLOTS + (lane - 1) * SLOTS + which;
}

/** Thrown at a barrier when another lane of the run failed. */
export class LaneAborted extends Error {
  constructor() {
    super('another kernel lane of this run failed');
  }
}

/**
 * Waits until the value at `index` is no longer `value`: polls for SPIN_US, then sleeps (Atomics.wait).
 * Polling first saves what waking a sleeping thread costs when the wait is short (pool.ts, DEFAULT_SPIN_US).
 */
export function waitWhile(control: Int32Array, index: number, value: number, abortable = false): void {
  const until = performance.now() + Atomics.load(control, SPIN_US) / 1000;
  while (Atomics.load(control, index) === value) {
    if (abortable && Atomics.load(control, ABORT) !== 0) throw new LaneAborted();
    if (performance.now() >= until) {
      Atomics.wait(control, index, value, abortable ? 1 : undefined);
    }
  }
}

/**
 * The lanes' barrier inside a run: returns once all `lanes` lanes have called it (a generation counter:
 * the last to arrive resets the count and advances the generation). Throws {@link LaneAborted} when a lane
 * of the run has failed, which would otherwise never arrive.
 */
export function barrier(control: Int32Array, lanes: number): void {
  const generation = Atomics.load(control, BARRIER_GEN);
  if (Atomics.add(control, BARRIER_COUNT, 1) === lanes - 1) {
    Atomics.store(control, BARRIER_COUNT, 0);
    Atomics.add(control, BARRIER_GEN, 1);
    Atomics.notify(control, BARRIER_GEN);
    return;
  }
  waitWhile(control, BARRIER_GEN, generation, true);
}

/** Marks the current run failed and wakes every lane waiting at its barrier. */
export function abortRun(control: Int32Array): void {
  Atomics.store(control, ABORT, 1);
  Atomics.notify(control, BARRIER_GEN);
}
