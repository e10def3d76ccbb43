/**
 * What defines a run's networks, transport cost and updates ({@link OtTaskOptions}), and the one place they are
 * built: `otsr train` in one thread, its worker threads (parallel-task.ts) and the web trainer all build them
 * here, so that one set of options trains the same map wherever it runs.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Sampler } from '../data/sampler.js';
import type { PairSampler } from '../data/synthetic-pairs.js';
import { upsampleBicubic } from '../image/resize-tensor.js';
import type { ArchSpec, Module } from '../nn/module.js';
import { buildModule } from '../nn/registry.js';
import { PooledCost, QuadraticCost, ReferenceCost } from '../ot/cost.js';
import { NEURAL_OT_BETAS, NeuralOT } from '../ot/neural-ot.js';
import type { PretrainSchedule } from '../ot/objectives.js';
import { GAN_BETAS, GAN_GP_WEIGHT, RegularizedGAN } from '../ot/regularized-gan.js';
import type { OtSolver } from '../ot/solver.js';
import type { CostResolution, TrainConfig } from './config.js';

/** The bicubic upsampler of the maps' skip connection and of the cost's initial reference. */
const upsampler = (x: tf.Tensor4D, s: number) => upsampleBicubic(x, s);

/** Everything a worker needs to build the run's networks and updates (structured-cloneable). */
export interface OtTaskOptions {
  solver: 'ots' | 'gan';
  map: ArchSpec;
  potential: ArchSpec;
  /** Init seeds: the map's (the potential's is `mapSeed + 1`, as in otsr train). */
  mapSeed: number;
  /** Factor of the cost's bicubic reference U. */
  scale: number;
  /** Refresh U to a frozen copy of the map every this many outer steps (0: never). */
  refreshEvery: number;
  mapLr: number;
  potentialLr: number;
  betas: [number, number];
  /** Weight of the transport cost in the map's loss: OTS's cost weight, the GAN's λ. */
  costWeight: number;
  /** Where the cost compares T(x) with U(x): every pixel, or scale x scale block averages. Absent: hr. */
  costResolution?: CostResolution;
  /** GAN only: weight of the gradient penalty. */
  gpWeight: number;
  /** OTS only: γ of the potential's R1 penalty γ/2·E|∇f(y)|² (0: none, the paper's). */
  potentialPenalty: number;
  /** Outer steps of supervised pretraining on synthetic pairs before the solver's own (0: none). */
  pretrainSteps: number;
  /** Adam learning rate of the pretraining updates (on the map's optimizer), and its schedule. */
  pretrainLr: number;
  pretrainSchedule: PretrainSchedule;
  /** Decay of the EMA of the map's weights over the solver's steps (ot/map-average.ts; 0: none). */
  emaDecay: number;
  /** The map starts from given weights (`--init`), which the cost measures from: its frozen reference is set by setState. */
  startsFromMap?: boolean;
}

/**
 * The transport cost of a run: c(x, T(x)) = ½·mean((U(x) − T(x))²) with U bicubic (or, with `startsFromMap`, the
 * map's starting weights, set through setState), replaced by a frozen copy of the map after pretraining (so the
 * cost measures from the pretrained map) and every `refreshEvery` steps. With `costResolution: 'lr'` both sides
 * are first averaged over scale x scale blocks.
 */
export function runCost(o: Pick<OtTaskOptions, 'map' | 'scale' | 'refreshEvery' | 'pretrainSteps' | 'startsFromMap' | 'costResolution'>): ReferenceCost {
  const refresh = {
    ...(o.refreshEvery > 0 ? { every: o.refreshEvery } : {}),
    ...(o.pretrainSteps > 0 ? { at: o.pretrainSteps } : {}),
  };
  const frozen = Object.keys(refresh).length > 0 || o.startsFromMap === true;
  return new ReferenceCost({
    distance: o.costResolution === 'lr' ? new PooledCost(new QuadraticCost(), o.scale) : 'quadratic',
    reference: (x) => upsampleBicubic(x as tf.Tensor4D, o.scale),
    ...(frozen ? { refresh: { ...refresh, frozen: buildModule(o.map, { upsampler }) } } : {}),
  });
}

/** The run's map with its seeded initial weights (`mapSeed`). */
export function buildMap(o: Pick<OtTaskOptions, 'map' | 'mapSeed'>): Module {
  return buildModule(o.map, { seed: o.mapSeed, upsampler });
}

/** The networks and cost of a run; the caller disposes all three. */
export interface RunNetworks {
  map: Module;
  potential: Module;
  cost: ReferenceCost;
}

/** The run's networks (the potential seeded `mapSeed + 1`) and its transport cost; `map` if given, else {@link buildMap}'s. */
export function buildNetworks(o: OtTaskOptions, map: Module = buildMap(o)): RunNetworks {
  return { map, potential: buildModule(o.potential, { seed: o.mapSeed + 1 }), cost: runCost(o) };
}

/** Where a solver draws its batches: the two sides and, when the run pretrains, the synthetic pairs. */
export interface SolverData {
  source: Sampler;
  target: Sampler;
  pairs?: PairSampler;
}

export interface SolverLoop {
  batchSize: number;
  /** OTS: map updates per potential update (k). GAN: critic updates per map update. */
  innerSteps: number;
  /** Seed of the solver's own randomness (the GAN's interpolation weights). */
  seed: number;
  /** Losses kept in memory (see CommonSolverOptions); default the solver's. */
  historyLimit?: number;
}

/** The in-process solver of a run (NeuralOT for `ots`, RegularizedGAN for `gan`) over the given networks and data. */
export function buildSolver(o: OtTaskOptions, nets: RunNetworks, data: SolverData, loop: SolverLoop): OtSolver {
  const problem = { source: data.source, target: data.target, cost: nets.cost };
  const networks = { map: nets.map, potential: nets.potential };
  const common = {
    batchSize: loop.batchSize,
    seed: loop.seed,
    mapLr: o.mapLr,
    potentialLr: o.potentialLr,
    betas: o.betas,
    emaDecay: o.emaDecay,
    ...(loop.historyLimit !== undefined ? { historyLimit: loop.historyLimit } : {}),
    ...(data.pairs && o.pretrainSteps > 0 ? { pretrain: { pairs: data.pairs, steps: o.pretrainSteps, lr: o.pretrainLr, schedule: o.pretrainSchedule } } : {}),
  };
  return o.solver === 'ots'
    ? new NeuralOT(problem, networks, { ...common, mapSteps: loop.innerSteps, costWeight: o.costWeight, potentialPenalty: o.potentialPenalty })
    : new RegularizedGAN(problem, networks, { ...common, lambda: o.costWeight, criticSteps: loop.innerSteps, gpWeight: o.gpWeight });
}

/**
 * The worker task of a config: the same networks, cost and hyper-parameters as the in-process solvers that
 * `train` builds (each solver's own Adam betas, and the GAN's gradient-penalty weight).
 */
export function otTaskOptions(config: TrainConfig): OtTaskOptions {
  const ots = config.solver === 'ots';
  return {
    solver: config.solver,
    map: config.map,
    potential: config.potential,
    mapSeed: config.seed,
    scale: config.scale,
    refreshEvery: config.refreshEvery,
    mapLr: config.learningRate,
    potentialLr: config.potentialLearningRate ?? config.learningRate,
    betas: ots ? [...NEURAL_OT_BETAS] : [...GAN_BETAS],
    costWeight: ots ? (config.costWeight ?? 1) : config.lambda,
    costResolution: config.costResolution ?? 'hr',
    gpWeight: GAN_GP_WEIGHT,
    potentialPenalty: ots ? (config.potentialPenalty ?? 0) : 0,
    pretrainSteps: config.pretrainSteps ?? 0,
    pretrainLr: config.pretrainLearningRate ?? config.learningRate,
    pretrainSchedule: config.pretrainSchedule ?? 'constant',
    emaDecay: config.emaDecay ?? 0,
    ...(config.init !== undefined ? { startsFromMap: true } : {}),
  };
}
