import type { Worker } from 'node:worker_threads';
import * as tf from '@tensorflow/tfjs-core';
import type { BackendName } from '../engine/backend.js';
import { defaultWorkers, siblingModule, spawnModuleWorker } from '../engine/parallel/index.js';
import { OtsrError, UsageError } from '../errors.js';
import { type FloatImage, type TileOptions, type TileRunner, upscaleTiles } from './tiles.js';
import type { Upscaler, UpscalerSource } from './upscaler-node.js';

/** Messages to a tile worker: one batch of tiles. */
export type TileToWorker = { id: number; pixels: Float32Array; shape: [number, number, number, number] };
/** Messages from a tile worker. */
export type TileFromWorker =
  | { type: 'ready'; scale: number }
  | { type: 'result'; id: number; data: Float32Array; shape: number[] }
  | { type: 'error'; id?: number; message: string };

interface Job {
  msg: TileToWorker;
  resolve: (r: { data: Float32Array; shape: number[] }) => void;
  reject: (err: Error) => void;
}

export interface TilePoolOptions {
  /** Worker threads (default: the number of cores, at most 8). */
  workers?: number;
  /** Their backend: use the main thread's, so that workers and main thread compute alike. Default wasm. */
  backend?: BackendName;
}

/**
 * Worker threads that each load the same upscaling model and run tile batches for {@link upscaleTiles}: the image
 * is cut, blended and normalised on the calling thread exactly as with one thread, so the output is bit-identical
 * to in-thread upscaling on the same backend; only the model calls are spread over the workers.
 */
export class TilePool implements TileRunner {
  readonly workers: number;
  /** Batches handed out ahead: two per worker, so a worker never waits while the main thread blends. */
  readonly concurrency: number;
  private readonly idle: Worker[];
  private readonly queue: Job[] = [];
  private readonly busy = new Map<Worker, Job>();
  private nextId = 1;
  private failed: Error | undefined;
  private readonly onExit: ((code: number) => void)[] = [];

  private constructor(private readonly threads: Worker[]) {
    this.workers = threads.length;
    this.concurrency = 2 * threads.length;
    this.idle = [...threads];
    for (const [rank, w] of threads.entries()) {
      w.on('message', (msg: TileFromWorker) => this.onMessage(w, msg, rank));
      w.on('error', (err) => this.fail(new OtsrError(`upscaling worker ${rank} failed: ${err instanceof Error ? err.message : String(err)}`)));
      const onExit = (code: number) => this.fail(new OtsrError(`upscaling worker ${rank} exited (code ${code})`));
      this.onExit.push(onExit);
      w.on('exit', onExit);
    }
  }

  /** Starts the workers, each loading the model of `upscaler` (which must come from `loadUpscaler`). */
  static async start(upscaler: Pick<Upscaler, 'source' | 'name'>, options: TilePoolOptions = {}): Promise<TilePool> {
    const n = options.workers ?? defaultWorkers();
    if (!Number.isInteger(n) || n < 1) throw new UsageError(`workers must be a positive integer, got ${n}`);
    const source: UpscalerSource | undefined = upscaler.source;
    if (!source) throw new UsageError(`${upscaler.name}: this upscaler was not made by loadUpscaler, so worker threads cannot load it`);
    const url = siblingModule(import.meta.url, 'tile-worker-node');
    const threads = Array.from({ length: n }, () => spawnModuleWorker(url, { source, backend: options.backend ?? 'wasm' }));
    const cleanups: (() => void)[] = [];
    try {
      await Promise.all(
        threads.map(
          (w, rank) =>
            new Promise<void>((resolve, reject) => {
              const onMessage = (msg: TileFromWorker) => {
                if (msg.type === 'ready') resolve();
                else if (msg.type === 'error') reject(new OtsrError(`upscaling worker ${rank} could not load ${upscaler.name}: ${msg.message.split('\n')[0]}`));
              };
              const onExit = (code: number) => reject(new OtsrError(`upscaling worker ${rank} exited (code ${code})`));
              w.on('message', onMessage);
              w.on('error', reject);
              w.on('exit', onExit);
              cleanups.push(() => {
                w.off('message', onMessage);
                w.off('error', reject);
                w.off('exit', onExit);
              });
            }),
        ),
      );
    } catch (err) {
      await Promise.all(threads.map((t) => t.terminate()));
      throw err;
    } finally {
      // Only our own listeners: a Worker keeps internal ones (its port's referencing) that must stay.
      for (const c of cleanups) c();
    }
    return new TilePool(threads);
  }

  /** Runs the model on a batch of tiles in the next free worker. `pixels` is transferred (unusable afterwards). */
  run(pixels: Float32Array, shape: [number, number, number, number]): Promise<{ data: Float32Array; shape: number[] }> {
    if (this.failed) return Promise.reject(this.failed);
    return new Promise((resolve, reject) => {
      this.queue.push({ msg: { id: this.nextId++, pixels, shape }, resolve, reject });
      this.dispatch();
    });
  }

  /** Upscales one image with its tiles spread over the workers (see {@link upscaleTiles}). */
  upscale(image: FloatImage, options: TileOptions = {}): Promise<FloatImage> {
    return upscaleTiles(image, options, this);
  }

  private dispatch(): void {
    while (this.idle.length > 0 && this.queue.length > 0) {
      const w = this.idle.shift()!;
      const job = this.queue.shift()!;
      this.busy.set(w, job);
      w.postMessage(job.msg, [job.msg.pixels.buffer as ArrayBuffer]);
    }
  }

  private onMessage(w: Worker, msg: TileFromWorker, rank: number): void {
    const job = this.busy.get(w);
    if (!job || msg.type === 'ready') return;
    this.busy.delete(w);
    this.idle.push(w);
    if (msg.type === 'result') job.resolve({ data: msg.data, shape: msg.shape });
    else job.reject(new OtsrError(`upscaling worker ${rank}: ${msg.message.split('\n')[0]}`));
    this.dispatch();
  }

  private fail(err: Error): void {
    this.failed ??= err;
    for (const job of [...this.busy.values(), ...this.queue]) job.reject(this.failed);
    this.busy.clear();
    this.queue.length = 0;
  }

  /** Stops the workers. */
  async close(): Promise<void> {
    this.failed ??= new OtsrError('the upscaling worker pool is closed');
    this.threads.forEach((w, rank) => w.off('exit', this.onExit[rank]!));
    await Promise.all(this.threads.map((t) => t.terminate()));
    this.fail(this.failed);
  }
}

/** The main thread's backend, for {@link TilePoolOptions.backend}. */
export function currentBackend(): BackendName {
  return tf.getBackend() as BackendName;
}
