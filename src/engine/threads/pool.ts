import type { Worker } from 'node:worker_threads';
import { spawnModuleWorker, siblingModule } from '../parallel/spawn.js';
import { SimdKernels } from '../wasm/simd-kernels.js';
import { type KernelLanes, setKernelLanes } from './lanes.js';
import {
  ABORT, BARRIER_CALL, BARRIER_COUNT, CALL_CAPACITY, DONE, FAILED, GLOBAL_SLOTS, LENGTH, type LaneWorkerData, SEQ, SLOTS, SPIN_US,
  LaneAborted, abortRun, barrier, slot, waitWhile,
} from './protocol.js';

/**
 * Polling before sleeping, in microseconds. Waking a sleeping thread costs ~50-100 µs on this VM when the core
 * is free, and ~1.7 ms when another process has taken it meanwhile (the 64 -> 64 conv after a 1 ms gap: 3.3-3.8
 * ms on two lanes with 100 µs of polling, 1.5-1.7 ms with 2 ms; one lane 2.8-3.0): the gaps between the kernels
 * of a training step are mostly shorter than 2 ms, so the lanes keep their cores through a step.
 */
const DEFAULT_SPIN_US = 2000;

/**
 * Kernel threads on one shared wasm heap (Node worker_threads): each worker instantiates otsr's SIMD module
 * on the same memory, so a conv's lanes read and write the tensors in place. A run records each worker
 * lane's kernel calls into its slot of a shared block and wakes it (Atomics.notify), runs lane 0 itself,
 * then sleeps until every lane reports done (Atomics.wait; Node allows it on the main thread).
 */
export class KernelThreadPool implements KernelLanes {
  private seq = 0;
  private readonly control: Int32Array;
  private readonly calls: Float64Array[];
  private readonly live: SimdKernels;
  private readonly names: string[];

  private constructor(
    private readonly memory: WebAssembly.Memory,
    private readonly workers: Worker[],
    controlBuffer: SharedArrayBuffer,
    callsBuffer: SharedArrayBuffer,
    private readonly fma: boolean,
  ) {
    this.control = new Int32Array(controlBuffer);
    this.calls = workers.map((_, i) => new Float64Array(callsBuffer, i * CALL_CAPACITY * 8, CALL_CAPACITY));
    const lanes = workers.length + 1;
    this.live = SimdKernels.extended(SimdKernels.on(memory, { fma }), { barrier: () => barrier(this.control, lanes) });
    // The worker's export indices; the barrier, a last name, is recorded as BARRIER_CALL.
    this.names = [...WebAssembly.Module.exports(SimdKernels.module({ shared: true, fma })).map((e) => e.name), 'barrier'];
  }

  /** Runs so far (tests check that a kernel used the lanes). */
  get runs(): number {
    return this.seq;
  }

  get count(): number {
    return this.workers.length + 1;
  }

  /**
   * Starts `lanes - 1` kernel threads on `memory` (a shared WebAssembly.Memory: tfjs's threaded build, see
   * threaded-wasm-node.ts) and installs them as its lanes (lanes.ts).
   */
  static async start(memory: WebAssembly.Memory, lanes: number): Promise<KernelThreadPool> {
    if (!(memory.buffer instanceof SharedArrayBuffer)) throw new Error('kernel threads need a shared wasm heap (tfjs-backend-wasm threaded build)');
    const fma = SimdKernels.on(memory).fma;
    const control = new SharedArrayBuffer((GLOBAL_SLOTS + Math.max(1, lanes - 1) * SLOTS) * 4);
    new Int32Array(control)[SPIN_US] = DEFAULT_SPIN_US;
    const calls = new SharedArrayBuffer(Math.max(1, lanes - 1) * CALL_CAPACITY * 8);
    const url = siblingModule(import.meta.url, 'lane-worker');
    const workers: Worker[] = [];
    for (let lane = 1; lane < lanes; lane++) {
      const data: LaneWorkerData = { memory, control, calls, lane, lanes, fma };
      const worker = spawnModuleWorker(url, data);
      worker.unref(); // an idle pool does not keep the process alive
      workers.push(worker);
    }
    // Each worker says 'ready' once its module is instantiated, so that a first run does not wait for that.
    await Promise.all(
      workers.map(
        (w) =>
          new Promise<void>((resolve, reject) => {
            w.once('message', () => resolve());
            w.once('error', reject);
          }),
      ),
    );
    const pool = new KernelThreadPool(memory, workers, control, calls, fma);
    setKernelLanes(memory, pool);
    return pool;
  }

  run(body: (simd: SimdKernels, lane: number) => void): void {
    const seq = ++this.seq;
    // Every worker lane is recorded before any is woken, so that a body that throws leaves no lane running.
    for (let lane = 1; lane < this.count; lane++) {
      const calls = this.calls[lane - 1]!;
      let length = 0;
      const barrierIndex = this.names.length - 1;
      const sink = (index: number, args: number[]) => {
        if (length + 2 + args.length > CALL_CAPACITY) throw new Error(`kernel lane ${lane}: more calls than its ${CALL_CAPACITY} slots`);
        calls[length++] = index === barrierIndex ? BARRIER_CALL : index;
        calls[length++] = args.length;
        for (let i = 0; i < args.length; i++) calls[length++] = args[i]!;
      };
      body(SimdKernels.recording(this.names, sink, this.fma), lane);
      this.control[slot(lane, LENGTH)] = length;
    }
    for (let lane = 1; lane < this.count; lane++) {
      Atomics.store(this.control, slot(lane, SEQ), seq);
      Atomics.notify(this.control, slot(lane, SEQ));
    }
    let failure: unknown;
    try {
      body(this.live, 0);
    } catch (err) {
      // Aborted at a barrier: another lane failed, and that failure is the one to report.
      if (!(err instanceof LaneAborted)) {
        failure = err;
        abortRun(this.control);
      }
    }
    for (let lane = 1; lane < this.count; lane++) {
      const at = slot(lane, DONE);
      for (let done = Atomics.load(this.control, at); done !== seq; done = Atomics.load(this.control, at)) waitWhile(this.control, at, done);
      if (Atomics.exchange(this.control, slot(lane, FAILED), 0) !== 0) failure ??= new Error(`kernel thread ${lane} failed (its error is printed above)`);
    }
    if (failure !== undefined) {
      // A failed run may leave lanes counted at a barrier: the next run starts from none.
      Atomics.store(this.control, BARRIER_COUNT, 0);
      Atomics.store(this.control, ABORT, 0);
      throw failure;
    }
  }

  /** How long waiting threads poll before they sleep, in microseconds (default {@link DEFAULT_SPIN_US}). */
  set spinMicros(us: number) {
    Atomics.store(this.control, SPIN_US, Math.max(0, Math.round(us)));
  }

  /** Stops the threads and uninstalls the lanes. */
  async close(): Promise<void> {
    setKernelLanes(this.memory, undefined);
    for (let lane = 1; lane < this.count; lane++) {
      Atomics.store(this.control, slot(lane, SEQ), -1);
      Atomics.notify(this.control, slot(lane, SEQ));
    }
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}
