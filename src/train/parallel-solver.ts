import * as tf from '@tensorflow/tfjs-core';
import type { BackendName } from '../engine/backend.js';
import { DataParallel, type ParallelState, siblingModule } from '../engine/parallel/index.js';
import type { Sampler } from '../data/sampler.js';
import type { PairSampler } from '../data/synthetic-pairs.js';
import { PAIRED_UPDATES_PER_STEP } from '../ot/objectives.js';
import type { Module } from '../nn/module.js';
import { type StepLosses, type SolverState, drawBatch, flattenSolverState, refreshedAtFromCounter, refreshedAtToCounter, unflattenSolverState } from '../ot/solver.js';
import { Rng } from '../util/rng.js';
import type { OtTaskOptions } from './run-spec.js';

export interface ParallelSolverOptions {
  /** Worker threads (at least 1, at most `batchSize`). */
  workers: number;
  /** The networks, cost and optimizers each worker builds. */
  task: OtTaskOptions;
  batchSize: number;
  /** OTS: map steps per potential step. GAN: critic steps per map step. */
  innerSteps: number;
  /** Seed of the solver's own randomness (the GAN's interpolation weights), as the in-process solvers'. */
  seed: number;
  /** Backend of the workers (use the main thread's, so that both compute alike). Default wasm. */
  backend?: BackendName;
  /** Pretraining pairs, drawn on this thread, for the first `task.pretrainSteps` steps (as OtSolver's `pretrain`). */
  pairs?: PairSampler;
}

/**
 * The OTS and GAN solvers of `otsr train` on {@link DataParallel} worker threads: the samplers and the solver's
 * randomness stay on this thread and draw exactly what NeuralOT / RegularizedGAN draw, in the same order; each
 * update runs in every worker on its share of the batch, with averaged gradients, so the workers hold identical
 * weights after every step and the same seed and worker count give the same numbers. The main thread's copy of
 * the map is only brought up to date by {@link ParallelSolver.syncMap} (for samples, validation, export).
 *
 * Its state is a {@link SolverState} like the in-process solvers' (same checkpoint format); the solver keeps
 * no loss history (otsr train logs losses to log.jsonl).
 */
export class ParallelSolver {
  readonly kind: 'ots' | 'gan';
  readonly batchSize: number;
  private readonly rng: Rng;
  private completed = 0;

  private constructor(
    private readonly pool: DataParallel,
    readonly source: Sampler,
    readonly target: Sampler,
    private readonly options: ParallelSolverOptions,
  ) {
    this.kind = options.task.solver;
    this.batchSize = options.batchSize;
    this.rng = new Rng(options.seed);
  }

  /** Starts the workers (each builds the networks from the same seeds, so they start identical). */
  static async start(source: Sampler, target: Sampler, options: ParallelSolverOptions): Promise<ParallelSolver> {
    const { workers, batchSize, innerSteps } = options;
    if (!Number.isInteger(batchSize) || batchSize < 1) throw new Error(`batchSize must be a positive integer, got ${batchSize}`);
    if (!Number.isInteger(workers) || workers < 1 || workers > batchSize) {
      throw new Error(`workers must be an integer from 1 to the batch size ${batchSize}, got ${workers}`);
    }
    if (!Number.isInteger(innerSteps) || innerSteps < 1) throw new Error(`innerSteps must be a positive integer, got ${innerSteps}`);
    const pool = await DataParallel.start({
      workers,
      task: { url: siblingModule(import.meta.url, 'parallel-task'), options: options.task },
      backend: options.backend ?? 'wasm',
    });
    return new ParallelSolver(pool, source, target, options);
  }

  get workers(): number {
    return this.pool.workers;
  }

  /** Outer steps completed so far. */
  get stepCount(): number {
    return this.completed;
  }

  /** One outer iteration (OTS: k map updates + 1 potential update; GAN: n critic updates + 1 map update). */
  async step(): Promise<StepLosses> {
    const { pretrainSteps, refreshEvery, emaDecay } = this.options.task;
    const pretraining = this.completed < pretrainSteps;
    const partial = pretraining ? await this.pairedStep() : this.kind === 'ots' ? await this.otsStep() : await this.ganStep();
    this.completed += 1;
    const averaged = emaDecay > 0 && !pretraining;
    if (refreshEvery > 0 || this.completed === pretrainSteps || averaged) await this.pool.call('afterStep', this.completed);
    return { step: this.completed, ...partial };
  }

  private async otsStep(): Promise<Omit<StepLosses, 'step'>> {
    const k = this.options.innerSteps;
    let mapLoss = 0;
    let cost = 0;
    for (let i = 0; i < k; i++) {
      const r = await this.update('map', ['source']);
      mapLoss += r.loss / k;
      cost += r.metrics.cost! / k;
    }
    const { loss: potentialLoss, metrics } = await this.update('potential', ['source', 'target']);
    return { mapLoss, potentialLoss, cost, ...(this.options.task.potentialPenalty > 0 ? { gradientPenalty: metrics.r1! } : {}) };
  }

  private async pairedStep(): Promise<Omit<StepLosses, 'step'>> {
    const pairs = this.options.pairs;
    if (!pairs) throw new Error('this run pretrains (task.pretrainSteps > 0) but was given no pair sampler');
    let paired = 0;
    // Degrading the next batch's crops (JS and sharp, on this thread) overlaps the workers' update on the current
    // one. The draws stay in order and none crosses the step's end, so batches and checkpoints are as without it.
    let next: Promise<{ x: tf.Tensor4D; y: tf.Tensor4D }> | undefined = pairs.samplePairs(this.batchSize);
    try {
      for (let i = 0; i < PAIRED_UPDATES_PER_STEP; i++) {
        const { x, y } = await next!;
        next = undefined;
        const update = this.run('paired', { x, y });
        if (i + 1 < PAIRED_UPDATES_PER_STEP) {
          next = pairs.samplePairs(this.batchSize);
          // Handled now (so a failed draw is not an unhandled rejection while the update runs), thrown when awaited.
          next.catch(() => undefined);
        }
        paired += (await update).loss / PAIRED_UPDATES_PER_STEP;
      }
    } finally {
      // After a failed update: the batch drawn ahead is not used.
      if (next) await next.then(({ x, y }) => tf.dispose([x, y]), () => undefined);
    }
    return { mapLoss: 0, potentialLoss: 0, cost: 0, paired };
  }

  private async ganStep(): Promise<Omit<StepLosses, 'step'>> {
    const n = this.options.innerSteps;
    let potentialLoss = 0;
    let gradientPenalty = 0;
    for (let i = 0; i < n; i++) {
      const r = await this.update('critic', ['source', 'target'], true);
      potentialLoss += r.loss / n;
      gradientPenalty += r.metrics.gp! / n;
    }
    const { loss: mapLoss, metrics } = await this.update('map', ['source']);
    return { mapLoss, potentialLoss, cost: metrics.cost!, gradientPenalty };
  }

  /** Draws the step's batches (x from the source, then y from the target, then eta) and runs it in the workers. */
  private async update(name: string, draws: ('source' | 'target')[], eta = false): Promise<{ loss: number; metrics: Record<string, number> }> {
    const batch: Record<string, tf.Tensor | { data: Float32Array; shape: number[] }> = {};
    try {
      for (const which of draws) batch[which === 'source' ? 'x' : 'y'] = await this.draw(which);
    } catch (err) {
      tf.dispose(Object.values(batch).filter((t): t is tf.Tensor => t instanceof tf.Tensor));
      throw err;
    }
    if (eta) {
      const b = this.batchSize;
      const e = new Float32Array(b);
      for (let i = 0; i < b; i++) e[i] = this.rng.next();
      const rank = (batch.y as tf.Tensor).rank;
      batch.eta = { data: e, shape: [b, ...Array<number>(rank - 1).fill(1)] };
    }
    return this.run(name, batch);
  }

  /** Runs step `name` in the workers on `batch`, then frees the batch's tensors. */
  private async run(name: string, batch: Record<string, tf.Tensor | { data: Float32Array; shape: number[] }>): Promise<{ loss: number; metrics: Record<string, number> }> {
    try {
      return await this.pool.step(name, batch);
    } finally {
      tf.dispose(Object.values(batch).filter((t): t is tf.Tensor => t instanceof tf.Tensor));
    }
  }

  private async draw(which: 'source' | 'target'): Promise<tf.Tensor> {
    return drawBatch(which === 'source' ? this.source : this.target, this.batchSize, which);
  }

  /** Copies the workers' map weights into `map` (a module of the same architecture on this thread). */
  async syncMap(map: Module): Promise<void> {
    if (!(await this.copyWorkerWeights(map, 'map/'))) throw new Error("the workers' state holds no map");
  }

  /**
   * Copies the workers' map weight average into `map` and returns true; false (leaving `map` as it is) when the
   * run keeps none or has not averaged a step yet.
   */
  syncAverage(map: Module): Promise<boolean> {
    return this.copyWorkerWeights(map, 'mapAverage/');
  }

  /** Copies worker 0's tensors `PREFIX + name` into `map`'s parameters; false if it has none under `prefix`. */
  private async copyWorkerWeights(map: Module, prefix: string): Promise<boolean> {
    const s = await this.pool.readState(0, [prefix]);
    if (Object.keys(s.values).length === 0) return false;
    for (const [name, v] of map.params) {
      const values = s.values[`${prefix}${name}`];
      if (!values) throw new Error(`the workers' ${prefix} weights lack parameter ${name}`);
      tf.tidy(() => v.assign(tf.tensor(values, s.shapes[`${prefix}${name}`], 'float32')));
    }
    return true;
  }

  /** A snapshot of everything needed to resume exactly (new tensors, owned by the caller). */
  async getState(): Promise<SolverState> {
    const s = await this.pool.readState(0);
    const tensors = Object.entries(s.values).map(([name, values]): [string, tf.Tensor] => [name, tf.tensor(values, s.shapes[name], 'float32')]);
    const counters = {
      mapOptimizerT: s.counters.mapOptimizerT!,
      potentialOptimizerT: s.counters.potentialOptimizerT!,
      costRefreshedAt: refreshedAtFromCounter(s.counters.costRefreshedAt),
    };
    return {
      kind: this.kind,
      step: this.completed,
      ...unflattenSolverState(tensors, counters),
      rng: this.rng.getState(),
      source: this.source.getState(),
      target: this.target.getState(),
      history: [],
      ...(this.options.pairs ? { pairs: this.options.pairs.getState() } : {}),
    };
  }

  /** Restores a snapshot into every worker and this thread's samplers (the caller still owns `state`). */
  async setState(state: SolverState): Promise<void> {
    if (state.kind !== this.kind) throw new Error(`cannot restore a '${state.kind}' solver state into a '${this.kind}' solver`);
    const flat = flattenSolverState(state);
    const values: ParallelState['values'] = {};
    const shapes: ParallelState['shapes'] = {};
    for (const [name, t] of flat.tensors) {
      values[name] = t.dataSync() as Float32Array;
      shapes[name] = t.shape;
    }
    const counters = { ...flat.counters, costRefreshedAt: refreshedAtToCounter(flat.counters.costRefreshedAt) };
    await this.pool.writeState({ values, shapes, counters });
    this.rng.setState(state.rng);
    this.source.setState(state.source);
    this.target.setState(state.target);
    if (this.options.pairs && state.pairs !== undefined) this.options.pairs.setState(state.pairs);
    this.completed = state.step;
  }

  /** Stops the workers. */
  async close(): Promise<void> {
    await this.pool.close();
  }
}
