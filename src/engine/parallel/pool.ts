import * as os from 'node:os';
import type { Worker } from 'node:worker_threads';
import type * as tf from '@tensorflow/tfjs-core';
import type { BackendName } from '../backend.js';
import { Barrier } from './barrier.js';
import type { FromWorker, SharedInput, TaskSpec, ToWorker, WorkerPhases } from './protocol.js';
import { siblingModule, spawnModuleWorker } from './spawn.js';

export interface DataParallelOptions {
  /** Worker threads (each runs one single-threaded backend instance). Default {@link defaultWorkers}. */
  workers?: number;
  /** The task module every worker builds (same options everywhere, so same seeds and same initial weights). */
  task: TaskSpec;
  /** Backend of the workers. Default wasm. */
  backend?: BackendName;
  /**
   * At most this many rows per forward/backward pass in a worker (0: the whole shard at once). Larger shards
   * run in chunks whose gradients are accumulated: the same update up to float rounding, less peak memory
   * (a wasm instance has at most 4 GiB).
   */
  microBatch?: number;
}

/** A batch input: a tensor (read once on the calling thread) or plain float32 rows with their shape. */
export type BatchInput = tf.Tensor | { data: Float32Array; shape: number[] };

export interface ParallelStepResult {
  /** The loss over the whole batch (the shards' means, weighted by their sizes). */
  loss: number;
  metrics: Record<string, number>;
  /** Where the step's time went (epoch ms and ms; see {@link WorkerPhases}). */
  timeline: StepTimeline;
}

/** One step's times on the main thread (epoch ms), and each worker's phases, in rank order. */
export interface StepTimeline {
  /** The step was called. */
  begin: number;
  /** The inputs were in shared memory and the step messages about to be posted. */
  posted: number;
  /** Every worker's reply had arrived. */
  end: number;
  workers: WorkerPhases[];
}

/** A snapshot of a task's state as read from one worker. */
export interface ParallelState {
  values: Record<string, Float32Array>;
  shapes: Record<string, number[]>;
  counters: Record<string, number>;
}

/** The number of cores, capped at 8 (beyond that, gradient exchange and small shards stop paying). */
export function defaultWorkers(): number {
  return Math.max(1, Math.min(8, os.availableParallelism?.() ?? os.cpus().length));
}

/** Epoch ms, comparable with the workers' clocks. */
const clock = () => performance.timeOrigin + performance.now();

interface Pending {
  resolve: (msg: FromWorker) => void;
  reject: (err: Error) => void;
}

/**
 * Data-parallel training over worker threads. Every worker builds the same task (same seeds, so the same initial
 * weights), runs a step on its contiguous share of the batch rows, writes its gradient into its slot of one
 * SharedArrayBuffer, and after a barrier the workers sum the slots chunk by chunk in rank order (a reduce-scatter
 * in shared memory) and each applies the same averaged gradient with the same optimizer. So every worker holds
 * bit-identical weights after every step, and the same seed and worker count give the same numbers on every run.
 * No tensor data crosses threads by structured clone during training: batches and gradients live in shared memory.
 */
export class DataParallel {
  readonly workers: number;
  private readonly threads: Worker[];
  private readonly barrier: Barrier;
  private readonly pending: Map<number, Pending>[];
  private readonly inputs = new Map<string, SharedArrayBuffer>();
  private nextId = 1;
  private failed: Error | undefined;
  /** Parameters per step name, as the workers reported them. */
  readonly paramCounts: Record<string, number>;

  private constructor(threads: Worker[], barrier: Barrier, pending: Map<number, Pending>[], paramCounts: Record<string, number>) {
    this.threads = threads;
    this.workers = threads.length;
    this.barrier = barrier;
    this.pending = pending;
    this.paramCounts = paramCounts;
  }

  /** Starts the workers and waits until each has built its task. */
  static async start(options: DataParallelOptions): Promise<DataParallel> {
    const n = options.workers ?? defaultWorkers();
    if (!Number.isInteger(n) || n < 1) throw new Error(`workers must be a positive integer, got ${n}`);
    const microBatch = options.microBatch ?? 0;
    if (!Number.isInteger(microBatch) || microBatch < 0) throw new Error(`microBatch must be a non-negative integer, got ${microBatch}`);
    const control = new SharedArrayBuffer(Barrier.INTS * 4);
    const barrier = new Barrier(new Int32Array(control), n);
    const threads: Worker[] = [];
    const pending: Map<number, Pending>[] = [];
    const readies: Promise<Record<string, number>>[] = [];
    for (let rank = 0; rank < n; rank++) {
      const w = spawnModuleWorker(siblingModule(import.meta.url, 'worker'), {
        task: options.task,
        rank,
        size: n,
        backend: options.backend ?? 'wasm',
        control,
        microBatch,
      });
      const map = new Map<number, Pending>();
      pending.push(map);
      threads.push(w);
      readies.push(
        new Promise((resolve, reject) => {
          w.on('message', (msg: FromWorker) => {
            if (msg.type === 'ready') return resolve(msg.paramCounts);
            const id = 'id' in msg ? msg.id : undefined;
            const p = id !== undefined ? map.get(id) : undefined;
            if (msg.type === 'error') {
              const err = new Error(`worker ${rank}: ${msg.message}`);
              if (p) {
                map.delete(id!);
                p.reject(err);
              } else reject(err);
              return;
            }
            if (p) {
              map.delete(id!);
              p.resolve(msg);
            }
          });
          const fail = (err: Error) => {
            reject(err);
            for (const p of map.values()) p.reject(err);
            map.clear();
          };
          w.on('error', (err) => fail(err instanceof Error ? err : new Error(String(err))));
          w.on('exit', (code) => fail(new Error(`worker ${rank} exited (code ${code})`)));
        }),
      );
    }
    let counts: Record<string, number>[];
    try {
      counts = await Promise.all(readies);
    } catch (err) {
      await Promise.all(threads.map((t) => t.terminate()));
      throw err;
    }
    const paramCounts = counts[0]!;
    for (const c of counts) {
      if (JSON.stringify(c) !== JSON.stringify(paramCounts)) throw new Error('workers built different tasks');
    }
    const stride = Math.max(1, ...Object.values(paramCounts));
    // One gradient row per worker plus the reduced row.
    const grads = new SharedArrayBuffer((n + 1) * stride * 4);
    for (const t of threads) t.postMessage({ type: 'init', grads, stride } satisfies ToWorker);
    return new DataParallel(threads, barrier, pending, paramCounts);
  }

  /** Sends `make(id)` to the workers `ranks` (default all) and resolves with their replies (in that order). */
  private async broadcast(make: (id: number) => ToWorker, ranks?: number[]): Promise<FromWorker[]> {
    if (this.failed) throw this.failed;
    const id = this.nextId++;
    const replies = (ranks ?? this.threads.map((_, r) => r)).map(
      (rank) =>
        new Promise<FromWorker>((resolve, reject) => {
          this.pending[rank]!.set(id, { resolve, reject });
          this.threads[rank]!.postMessage(make(id));
        }),
    );
    const settled = await Promise.allSettled(replies);
    const errors = settled.filter((s): s is PromiseRejectedResult => s.status === 'rejected').map((s) => s.reason as Error);
    if (errors.length > 0) {
      // The first worker that did not merely see the barrier abort has the real cause.
      const real = errors.find((e) => !e.message.includes('BarrierAborted')) ?? errors[0]!;
      this.failed = real;
      throw real;
    }
    return settled.map((s) => (s as PromiseFulfilledResult<FromWorker>).value);
  }

  /** Shared memory for input `name`, grown as needed (reused across steps: a step only starts after the last ended). */
  private shared(name: string, input: BatchInput): SharedInput {
    const { data, shape } = 'dataSync' in input ? { data: input.dataSync() as Float32Array, shape: input.shape } : input;
    const size = shape.reduce((a, x) => a * x, 1);
    if (data.length !== size) throw new Error(`input ${name}: ${data.length} values for shape [${shape.join(', ')}]`);
    let buffer = this.inputs.get(name);
    if (!buffer || buffer.byteLength < size * 4) {
      buffer = new SharedArrayBuffer(size * 4);
      this.inputs.set(name, buffer);
    }
    new Float32Array(buffer, 0, size).set(data);
    return { buffer, shape: [...shape] };
  }

  /**
   * Runs training step `name` of the task on `batch` (every input has the batch size as its first axis, at least
   * one row per worker) and resolves once every worker has applied the averaged update.
   */
  async step(name: string, batch: Record<string, BatchInput>): Promise<ParallelStepResult> {
    if (!(name in this.paramCounts)) throw new Error(`unknown step '${name}' (the task has ${Object.keys(this.paramCounts).join(', ')})`);
    const begin = clock();
    const shared: Record<string, SharedInput> = {};
    let rows: number | undefined;
    for (const [k, v] of Object.entries(batch)) {
      shared[k] = this.shared(k, v);
      const b = shared[k]!.shape[0]!;
      if (rows !== undefined && b !== rows) throw new Error(`inputs have different batch sizes (${rows} and ${b})`);
      rows = b;
    }
    if (rows === undefined || rows < this.workers) {
      throw new Error(`a batch of ${rows ?? 0} rows cannot be split over ${this.workers} workers`);
    }
    const posted = clock();
    const replies = await this.broadcast((id) => ({ type: 'step', id, name, batch: shared }));
    const end = clock();
    // Sum the weighted shard means in rank order, so the result does not depend on reply timing.
    let loss = 0;
    const metrics: Record<string, number> = {};
    const workers: WorkerPhases[] = [];
    for (const r of replies) {
      if (r.type !== 'step') throw new Error(`unexpected reply ${r.type}`);
      loss += r.loss;
      for (const [k, v] of Object.entries(r.metrics)) metrics[k] = (metrics[k] ?? 0) + v;
      workers.push(r.phases);
    }
    return { loss, metrics, timeline: { begin, posted, end, workers } };
  }

  /**
   * The task state (weights, optimizer slots, counters) of worker `rank` (default 0), only its tensors whose
   * names start with one of `prefixes` when given (e.g. `['map/']`: just the map's weights).
   */
  async readState(rank = 0, prefixes?: string[]): Promise<ParallelState> {
    if (!Number.isInteger(rank) || rank < 0 || rank >= this.workers) throw new Error(`no worker ${rank} (the pool has ${this.workers})`);
    const [reply] = await this.broadcast((id) => ({ type: 'readState', id, ...(prefixes ? { prefixes } : {}) }), [rank]);
    return asState(reply!);
  }

  /** Every worker's state, in rank order (e.g. to check that they agree). */
  async readAllStates(): Promise<ParallelState[]> {
    const replies = await this.broadcast((id) => ({ type: 'readState', id }));
    return replies.map(asState);
  }

  /** Runs the task's command `name` in every worker (see {@link ParallelTask.commands}); resolves with worker 0's result. */
  async call(name: string, args?: unknown): Promise<unknown> {
    const replies = await this.broadcast((id) => ({ type: 'call', id, name, args }));
    const r = replies[0]!;
    if (r.type !== 'result') throw new Error(`unexpected reply ${r.type}`);
    return r.value;
  }

  /** Restores the same state in every worker (e.g. from a checkpoint). */
  async writeState(state: ParallelState): Promise<void> {
    await this.broadcast((id) => ({ type: 'writeState', id, values: state.values, shapes: state.shapes, counters: state.counters }));
  }

  /** Stops the workers. */
  async close(): Promise<void> {
    this.barrier.abort();
    this.failed ??= new Error('the data-parallel pool is closed');
    await Promise.all(this.threads.map((t) => t.terminate()));
  }
}

function asState(r: FromWorker): ParallelState {
  if (r.type !== 'state') throw new Error(`unexpected reply ${r.type}`);
  return { values: r.values, shapes: r.shapes, counters: r.counters };
}
