import type * as tf from '@tensorflow/tfjs-core';

/**
 * One kind of training step that {@link DataParallel} runs in every worker on that worker's rows of the batch.
 *
 * The contract that makes data parallelism exact: `loss` returns the **mean over the samples it is given** of a
 * per-sample objective (a mean over a batch is the sample-count-weighted mean of the shards' means), and
 * `update` is deterministic, so that the same averaged gradients give bit-identical weights in every worker.
 */
export interface ParallelStep {
  /** The variables this step trains, by stable name; their order fixes the layout of the shared gradients. */
  params: ReadonlyMap<string, tf.Variable>;
  /**
   * The objective on a shard: `batch` holds each named input's rows for this worker. Called inside
   * `tf.variableGrads`; `metrics` (scalars, e.g. a transport cost) are averaged the same way as the loss.
   */
  loss(batch: Record<string, tf.Tensor>): tf.Scalar | { loss: tf.Scalar; metrics: Record<string, tf.Scalar> };
  /** Applies the averaged gradients, keyed by tf.Variable name (as `tf.variableGrads` returns them). */
  update(grads: tf.NamedTensorMap): void;
}

/** What a task module's `createTask` returns in each worker (and may return on the main thread for tests). */
export interface ParallelTask {
  steps: Record<string, ParallelStep>;
  /**
   * Everything that must stay identical across workers and that a caller may read or restore: network weights,
   * optimizer moments (tensors, owned by the caller) and plain-number counters (e.g. Adam step counts).
   */
  getState(): { tensors: Record<string, tf.Tensor>; counters: Record<string, number> };
  /** Restores a state from {@link ParallelTask.getState} (copies the values; does not dispose `tensors`). */
  setState(tensors: Record<string, tf.Tensor>, counters: Record<string, number>): void;
  /**
   * Other deterministic actions that every worker runs when {@link DataParallel.call} asks (e.g. "the outer
   * step ended": refresh a frozen reference). They must change every worker's state the same way.
   * Arguments and results are structured-cloneable.
   */
  commands?: Record<string, (args: unknown) => unknown>;
  dispose(): void;
}

/** Where a worker finds its task: a module URL exporting `createTask(options, info)`. */
export interface TaskSpec {
  /** file: URL of an ES module (use {@link siblingModule} so that it works from src under tsx and from dist). */
  url: string;
  /** Structured-cloneable options passed to `createTask`. */
  options?: unknown;
}

export interface WorkerInfo {
  rank: number;
  size: number;
}

export type CreateTask = (options: unknown, info: WorkerInfo) => ParallelTask | Promise<ParallelTask>;

/** A named input of a step: rows along the first axis, float32, in a SharedArrayBuffer owned by the pool. */
export interface SharedInput {
  buffer: SharedArrayBuffer;
  shape: number[];
}

/**
 * Where one worker's share of a step went, in ms (epoch-based clocks, so that the main thread can line the
 * workers' times up with its own): what {@link DataParallel} reports to find the time that a split step loses.
 */
export interface WorkerPhases {
  /** When the worker took the step message (epoch ms). */
  begin: number;
  /** Copying its rows of the inputs out of shared memory into tensors. */
  input: number;
  /** Forward and backward pass (`tf.variableGrads`). */
  compute: number;
  /** Reading the gradients out of the backend into its shared slot. */
  gradCopy: number;
  /** Waiting at the barrier for the other workers' slots (their extra compute shows here). */
  wait: number;
  /** Summing its chunk of every slot. */
  reduce: number;
  /** Waiting at the barrier for the other workers' chunks. */
  wait2: number;
  /** The reduced gradients into tensors, and the optimizer's update. */
  update: number;
  /** When it posted its reply (epoch ms). */
  end: number;
}

export type ToWorker =
  | { type: 'init'; grads: SharedArrayBuffer; stride: number }
  | { type: 'step'; id: number; name: string; batch: Record<string, SharedInput> }
  | { type: 'readState'; id: number; prefixes?: string[] }
  | { type: 'call'; id: number; name: string; args: unknown }
  | { type: 'writeState'; id: number; values: Record<string, Float32Array>; shapes: Record<string, number[]>; counters: Record<string, number> };

export type FromWorker =
  | { type: 'ready'; paramCounts: Record<string, number> }
  | { type: 'step'; id: number; loss: number; metrics: Record<string, number>; phases: WorkerPhases }
  | { type: 'state'; id: number; values: Record<string, Float32Array>; shapes: Record<string, number[]>; counters: Record<string, number> }
  | { type: 'ok'; id: number }
  | { type: 'result'; id: number; value: unknown }
  | { type: 'error'; id?: number; message: string };
