import * as tf from '@tensorflow/tfjs-core';
import { CancelledError, OtsrError } from '../errors.js';
import type { Sampler } from '../data/sampler.js';
import type { Module } from '../nn/module.js';
import { Rng } from '../util/rng.js';
import { Adam, type AdamState, assignChecked } from './adam.js';
import type { CostState } from './cost.js';
import { type MapAverage, mapAverageOf } from './map-average.js';
import { PAIRED_UPDATES_PER_STEP, type PretrainSchedule, mapObjective, pairedObjective, pretrainRate } from './objectives.js';
import type { OtNetworks, OtProblem } from './problem.js';
import type { PairSampler } from '../data/synthetic-pairs.js';

/** Losses of one outer step (numbers, already read back from the backend). */
export interface StepLosses {
  /** The outer step just completed, counting from 1. */
  step: number;
  /** Mean map objective over the map updates of this step (OTS: c − f(T); GAN: λc − f(T)). */
  mapLoss: number;
  /** Mean potential/critic objective over its updates (OTS: f(T) − f(y); GAN: the same + GP term). */
  potentialLoss: number;
  /** Mean transport cost c(x, T(x)) over the map batches of this step. */
  cost: number;
  /** Mean gradient penalty without its weight: the GAN's E(|∇f| − 1)², or OTS's R1 E|∇f(y)|² when its potential is penalised. */
  gradientPenalty?: number;
  /**
   * Set on pretraining steps only (then the other losses are 0): the mean L1 loss E|T(x) − y| on the step's
   * synthetic pairs.
   */
  paired?: number;
}

/** What `fit` reports after every outer step. */
export interface OtProgress {
  step: number;
  totalSteps: number;
  losses: StepLosses;
}

export interface FitOptions {
  /** Total number of outer steps: `fit` continues from the current step count up to this one. */
  steps: number;
  onProgress?: (progress: OtProgress) => void | Promise<void>;
  /** Checked between steps; an aborted signal makes `fit` throw CancelledError. */
  signal?: AbortSignal;
}

/** A solver's result: the trained networks (the same objects it was given) and the loss history. */
export interface OtResult {
  map: Module;
  potential: Module;
  history: StepLosses[];
  steps: number;
}

/**
 * Everything needed to continue a run exactly: weights, both optimizers' slots and counters, the RNG states
 * (the solver's and the samplers') and the step. Tensors are owned by whoever holds the state
 * ({@link disposeSolverState}); everything else is plain JSON.
 */
export interface SolverState {
  kind: 'ots' | 'gan';
  step: number;
  map: Record<string, tf.Tensor>;
  potential: Record<string, tf.Tensor>;
  mapOptimizer: AdamState;
  potentialOptimizer: AdamState;
  rng: number[];
  source: unknown;
  target: unknown;
  cost: CostState | null;
  history: StepLosses[];
  /** The pretraining pair sampler's state (absent when the run has no pretraining). */
  pairs?: unknown;
  /** The map's weight average ({@link MapAverage}), once a solver step was averaged (absent before, or without one). */
  mapAverage?: Record<string, tf.Tensor>;
}

/** Frees the tensors held by a state from {@link OtSolver.getState}. */
export function disposeSolverState(state: SolverState): void {
  const all: tf.Tensor[] = [
    ...Object.values(state.map),
    ...Object.values(state.potential),
    ...Object.values(state.mapOptimizer.m),
    ...Object.values(state.mapOptimizer.v),
    ...Object.values(state.potentialOptimizer.m),
    ...Object.values(state.potentialOptimizer.v),
    ...Object.values(state.cost?.weights ?? {}),
    ...Object.values(state.mapAverage ?? {}),
  ];
  tf.dispose(all);
}

/** The numbers that go with a state's tensors in its flat form ({@link flattenSolverState}). */
export interface SolverCounters {
  mapOptimizerT: number;
  potentialOptimizerT: number;
  /** The cost's last refresh (null: still its initial reference). */
  costRefreshedAt: number | null;
}

/**
 * `costRefreshedAt` as a plain number and back, for the worker threads' counters (numbers only): -1 stands for
 * a cost not yet refreshed (null).
 */
export function refreshedAtToCounter(at: number | null): number {
  return at ?? -1;
}
export function refreshedAtFromCounter(counter: number | undefined): number | null {
  return counter === undefined || counter < 0 ? null : counter;
}

/** The networks' part of a state: what {@link flattenSolverState} flattens. */
export type SolverTensors = Pick<SolverState, 'map' | 'potential' | 'mapOptimizer' | 'potentialOptimizer' | 'cost' | 'mapAverage'>;

/** Prefixes of the flat names, by the state's record they hold. */
const FLAT = { map: 'map/', potential: 'potential/', mapM: 'mapOptimizer/m/', mapV: 'mapOptimizer/v/', potentialM: 'potentialOptimizer/m/', potentialV: 'potentialOptimizer/v/', cost: 'cost/', mapAverage: 'mapAverage/' } as const;

/**
 * The one flat form of a state's tensors, which the checkpoint file and the worker threads' state
 * (ot/task-state.ts) share: `map/NAME`, `potential/NAME`, `mapOptimizer/m/NAME`, `mapOptimizer/v/NAME`,
 * `potentialOptimizer/m/NAME`, `potentialOptimizer/v/NAME`, once the cost's reference was refreshed
 * `cost/NAME`, and once the map's average started `mapAverage/NAME`; the optimizers' step counters and the refresh step beside them. The tensors are the state's own.
 */
export function flattenSolverState(state: SolverTensors): { tensors: Map<string, tf.Tensor>; counters: SolverCounters } {
  const tensors = new Map<string, tf.Tensor>();
  const put = (prefix: string, record: Record<string, tf.Tensor> | undefined) => {
    for (const [name, t] of Object.entries(record ?? {})) tensors.set(`${prefix}${name}`, t);
  };
  put(FLAT.map, state.map);
  put(FLAT.potential, state.potential);
  put(FLAT.mapM, state.mapOptimizer.m);
  put(FLAT.mapV, state.mapOptimizer.v);
  put(FLAT.potentialM, state.potentialOptimizer.m);
  put(FLAT.potentialV, state.potentialOptimizer.v);
  put(FLAT.cost, state.cost?.weights);
  put(FLAT.mapAverage, state.mapAverage);
  const counters = {
    mapOptimizerT: state.mapOptimizer.t,
    potentialOptimizerT: state.potentialOptimizer.t,
    costRefreshedAt: state.cost?.refreshedAt ?? null,
  };
  return { tensors, counters };
}

/**
 * The inverse of {@link flattenSolverState} (the returned records hold the given tensors). `hasCost` false: a
 * state without a cost (cost null).
 */
export function unflattenSolverState(tensors: Iterable<[string, tf.Tensor]>, counters: SolverCounters, hasCost = true): SolverTensors {
  const all = [...tensors];
  const take = (prefix: string): Record<string, tf.Tensor> => {
    const out: Record<string, tf.Tensor> = {};
    for (const [name, t] of all) if (name.startsWith(prefix)) out[name.slice(prefix.length)] = t;
    return out;
  };
  const at = counters.costRefreshedAt;
  const mapAverage = take(FLAT.mapAverage);
  return {
    map: take(FLAT.map),
    potential: take(FLAT.potential),
    mapOptimizer: { t: counters.mapOptimizerT, m: take(FLAT.mapM), v: take(FLAT.mapV) },
    potentialOptimizer: { t: counters.potentialOptimizerT, m: take(FLAT.potentialM), v: take(FLAT.potentialV) },
    cost: hasCost ? { refreshedAt: at, ...(at !== null ? { weights: take(FLAT.cost) } : {}) } : null,
    ...(Object.keys(mapAverage).length > 0 ? { mapAverage } : {}),
  };
}

/** Options shared by the solvers. */
export interface CommonSolverOptions {
  /** Samples per batch from P and from Q. */
  batchSize?: number;
  /** Seed of the solver's own randomness (e.g. gradient-penalty interpolation). */
  seed?: number;
  /**
   * Keep the losses of at most this many recent steps in `history` (and in `getState`). Default: all.
   * Long runs that log their losses elsewhere (otsr train: log.jsonl) keep none, so memory and
   * checkpoints do not grow with the number of steps.
   */
  historyLimit?: number;
  /** Adam learning rate of the map. Default 1e-4. */
  mapLr?: number;
  /** Adam learning rate of the potential (the GAN's critic). Default 1e-4. */
  potentialLr?: number;
  /**
   * Adam (beta1, beta2) of both networks. Default: the solver's own, (0.9, 0.999) for NeuralOT (the reference
   * code's torch defaults), (0, 0.9) for RegularizedGAN (WGAN-GP's).
   */
  betas?: [number, number];
  /**
   * Pretraining: the first `steps` outer steps train the map alone, supervised, on aligned pairs made from
   * Q's side (see data/synthetic-pairs.ts), {@link PAIRED_UPDATES_PER_STEP} L1 updates each, before the
   * solver's own iterations begin. A cost that should measure from the pretrained map refreshes its
   * reference after step `steps` (ReferenceCost's `refresh.at`).
   */
  pretrain?: PretrainOptions;
  /**
   * Decay d of an exponential moving average of the map's weights over the solver's steps ({@link MapAverage});
   * 0 (default): none. Training continues from the map itself; {@link OtSolver.averageInto} gives the average.
   */
  emaDecay?: number;
}

export interface PretrainOptions {
  pairs: PairSampler;
  steps: number;
  /** Adam learning rate of the pretraining updates (on the map's optimizer). Default: the map's. */
  lr?: number;
  /** Default constant. */
  schedule?: PretrainSchedule;
}

/** `value` if it is a positive integer; otherwise an Error naming the option `name`. */
export function positiveInteger(name: string, value: number): number {
  if (!Number.isInteger(value) || value < 1) throw new Error(`${name} must be a positive integer, got ${value}`);
  return value;
}

/**
 * Base of the neural OT solvers: step counting, fit/abort/progress, loss history and exact state.
 * Subclasses implement one outer iteration in {@link OtSolver.runStep}.
 */
export abstract class OtSolver {
  abstract readonly kind: 'ots' | 'gan';
  readonly problem: OtProblem;
  readonly map: Module;
  readonly potential: Module;
  readonly batchSize: number;
  protected readonly rng: Rng;
  protected readonly mapOptimizer: Adam;
  protected readonly potentialOptimizer: Adam;
  private completed = 0;
  private readonly lossHistory: StepLosses[] = [];
  private readonly historyLimit: number;
  private readonly pretrain?: PretrainOptions;
  private readonly average?: MapAverage;

  /**
   * Checks the common options and makes both Adam optimizers (their slots are allocated here: a subclass
   * checks its own options before calling this, so a bad option leaks nothing).
   * @param defaultBetas the subclass's Adam (beta1, beta2) when `options.betas` is not given.
   */
  constructor(problem: OtProblem, networks: OtNetworks, options: CommonSolverOptions, defaultBetas: readonly [number, number]) {
    // First: it checks its decay and allocates nothing until the first averaged step.
    this.average = mapAverageOf(options.emaDecay ?? 0);
    this.problem = problem;
    this.map = networks.map;
    this.potential = networks.potential;
    this.batchSize = positiveInteger('batchSize', options.batchSize ?? 64);
    this.rng = new Rng(options.seed ?? 0);
    this.historyLimit = options.historyLimit ?? Infinity;
    if (options.pretrain && !(Number.isInteger(options.pretrain.steps) && options.pretrain.steps >= 0)) {
      throw new Error(`pretrain.steps must be a non-negative integer, got ${options.pretrain.steps}`);
    }
    this.pretrain = options.pretrain;
    if (!(this.historyLimit >= 0)) throw new Error(`historyLimit must be >= 0, got ${this.historyLimit}`);
    const [beta1, beta2] = options.betas ?? defaultBetas;
    this.mapOptimizer = new Adam(networks.map.params, { lr: options.mapLr ?? 1e-4, beta1, beta2 });
    this.potentialOptimizer = new Adam(networks.potential.params, { lr: options.potentialLr ?? 1e-4, beta1, beta2 });
  }

  /** Outer steps completed so far. */
  get stepCount(): number {
    return this.completed;
  }

  /** Losses of every outer step so far (a copy). */
  get history(): StepLosses[] {
    return [...this.lossHistory];
  }

  /** One outer iteration; returns its losses. */
  protected abstract runStep(): Promise<Omit<StepLosses, 'step'>>;

  /** Runs one outer iteration (OTS: k map updates + 1 potential update; GAN: n critic updates + 1 map update). */
  async step(): Promise<StepLosses> {
    if (!tf.getGradient('Sum')) {
      throw new OtsrError('TF.js gradients are not registered: call initBackend() before training');
    }
    const pretraining = this.completed < (this.pretrain?.steps ?? 0);
    const partial = pretraining ? await this.pairedStep() : await this.runStep();
    this.completed += 1;
    this.problem.cost.afterStep?.(this.completed, this.map);
    if (!pretraining) this.average?.update(this.map);
    const losses: StepLosses = { step: this.completed, ...partial };
    this.lossHistory.push(losses);
    this.trimHistory();
    return losses;
  }

  /** Trains until `steps` outer steps are done, reporting progress after each; honours `signal` between steps. */
  async fit(options: FitOptions): Promise<OtResult> {
    for await (const losses of this.iterate(options.steps, options.signal)) {
      await options.onProgress?.({ step: losses.step, totalSteps: options.steps, losses });
    }
    return { map: this.map, potential: this.potential, history: this.history, steps: this.completed };
  }

  /** The same loop as an async iterator: yields each step's losses until `steps` steps are done. */
  async *iterate(steps: number, signal?: AbortSignal): AsyncGenerator<StepLosses> {
    if (!Number.isInteger(steps) || steps < 0) throw new Error(`steps must be a non-negative integer, got ${steps}`);
    while (this.completed < steps) {
      if (signal?.aborted) throw new CancelledError();
      yield await this.step();
    }
  }

  /** A snapshot of everything needed to resume exactly (tensors are new and owned by the caller). */
  getState(): SolverState {
    return {
      kind: this.kind,
      step: this.completed,
      map: cloneParams(this.map),
      potential: cloneParams(this.potential),
      mapOptimizer: this.mapOptimizer.getState(),
      potentialOptimizer: this.potentialOptimizer.getState(),
      rng: this.rng.getState(),
      source: this.problem.source.getState(),
      target: this.problem.target.getState(),
      cost: this.problem.cost.getState?.() ?? null,
      history: this.history,
      ...(this.pretrain ? { pairs: this.pretrain.pairs.getState() } : {}),
      ...(this.average?.started ? { mapAverage: this.average.getState()! } : {}),
    };
  }

  /**
   * Copies the map's weight average into `target` (a map of the same architecture) and returns true; false when
   * the solver keeps no average or has not averaged a step yet (then `target` is left as it is).
   */
  averageInto(target: Module): boolean {
    return this.average?.copyInto(target) ?? false;
  }

  /** Restores a snapshot (values are copied; the caller still owns `state`). */
  setState(state: SolverState): void {
    if (state.kind !== this.kind) throw new Error(`cannot restore a '${state.kind}' solver state into a '${this.kind}' solver`);
    assignParams(this.map, state.map, 'map');
    assignParams(this.potential, state.potential, 'potential');
    this.mapOptimizer.setState(state.mapOptimizer);
    this.potentialOptimizer.setState(state.potentialOptimizer);
    this.rng.setState(state.rng);
    this.problem.source.setState(state.source);
    this.problem.target.setState(state.target);
    this.problem.cost.setState?.(state.cost);
    if (this.pretrain && state.pairs !== undefined) this.pretrain.pairs.setState(state.pairs);
    if (state.mapAverage && !this.average) throw new Error('this state holds a map average, but the solver keeps none (emaDecay 0)');
    this.average?.setState(state.mapAverage);
    this.completed = state.step;
    // Not splice(…, ...history): spreading >~120k entries overflows the call stack (long runs).
    this.lossHistory.length = 0;
    for (const h of state.history) this.lossHistory.push(h);
    this.trimHistory();
  }

  private trimHistory(): void {
    const extra = this.lossHistory.length - this.historyLimit;
    if (extra > 0) this.lossHistory.splice(0, extra);
  }

  /** Frees the optimizer slots and the map's average (not the networks, the samplers or the cost, which the caller owns). */
  dispose(): void {
    this.average?.dispose();
    this.mapOptimizer.dispose();
    this.potentialOptimizer.dispose();
  }

  /**
   * One map update on E[λ·c(x, T(x)) − f(T(x))] with a fresh batch x ~ P.
   * @returns the objective and the mean cost c(x, T(x)) of the batch.
   */
  protected async mapUpdate(lambda: number): Promise<{ loss: number; cost: number }> {
    const x = await this.draw('source');
    try {
      const [loss, cost] = tf.tidy(() => {
        let c: tf.Tensor | undefined;
        const { value, grads } = tf.variableGrads(() => {
          const r = mapObjective(this.map, this.potential, this.problem.cost, lambda, x);
          c = tf.keep(r.cost);
          return r.loss;
        }, this.map.trainableVariables());
        this.mapOptimizer.applyGradients(grads);
        return [value, c!];
      });
      return { loss: await readScalar(loss), cost: await readScalar(cost) };
    } finally {
      x.dispose();
    }
  }

  /** One pretraining step: {@link PAIRED_UPDATES_PER_STEP} supervised L1 updates of the map on fresh pairs. */
  private async pairedStep(): Promise<Omit<StepLosses, 'step'>> {
    let paired = 0;
    for (let i = 0; i < PAIRED_UPDATES_PER_STEP; i++) {
      const { x, y } = await this.pretrain!.pairs.samplePairs(this.batchSize);
      try {
        const loss = tf.tidy(() => {
          const { value, grads } = tf.variableGrads(() => pairedObjective(this.map, x, y), this.map.trainableVariables());
          const { lr = this.mapOptimizer.lr, schedule = 'constant', steps } = this.pretrain!;
          this.mapOptimizer.applyGradients(grads, pretrainRate(lr, schedule, this.mapOptimizer.iterations, steps));
          return value;
        });
        paired += (await readScalar(loss)) / PAIRED_UPDATES_PER_STEP;
      } finally {
        tf.dispose([x, y]);
      }
    }
    return { mapLoss: 0, potentialLoss: 0, cost: 0, paired };
  }

  /** Draws a batch from a sampler, checking its shape against the sampler's declared one. */
  protected async draw(which: 'source' | 'target'): Promise<tf.Tensor> {
    return drawBatch(this.problem[which], this.batchSize, which);
  }
}

/** `sampler.sample(batchSize)`, refused (and freed) unless its shape is [batchSize, ...sampler.shape]. */
export async function drawBatch(sampler: Sampler, batchSize: number, which: 'source' | 'target'): Promise<tf.Tensor> {
  const x = await sampler.sample(batchSize);
  const want = [batchSize, ...sampler.shape];
  if (!tf.util.arraysEqual(x.shape, want)) {
    x.dispose();
    throw new Error(`the ${which} sampler returned shape ${JSON.stringify(x.shape)}, expected ${JSON.stringify(want)}`);
  }
  return x;
}

function cloneParams(m: Module): Record<string, tf.Tensor> {
  const out: Record<string, tf.Tensor> = {};
  for (const [name, v] of m.params) out[name] = tf.clone(v);
  return out;
}

function assignParams(m: Module, values: Record<string, tf.Tensor>, what: string): void {
  for (const [name, v] of m.params) {
    const src = values[name];
    if (!src) throw new Error(`${what} state lacks parameter ${name}`);
    assignChecked(v, src, `${what} ${name}`);
  }
}

/** Reads a scalar tensor and disposes it. */
export async function readScalar(t: tf.Tensor): Promise<number> {
  const v = (await t.data())[0]!;
  t.dispose();
  return v;
}
