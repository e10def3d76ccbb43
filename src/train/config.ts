import { UsageError } from '../errors.js';
import { parseDegradation } from '../data/degradation.js';
import type { ArchSpec } from '../nn/module.js';
import type { PretrainSchedule } from '../ot/objectives.js';

/** Where the transport cost compares the map's output with its reference (see TrainConfig.costResolution). */
export type CostResolution = 'hr' | 'lr';
export const COST_RESOLUTIONS: readonly CostResolution[] = ['hr', 'lr'];

/** Everything that defines a training run; saved as runs/NAME/config.json and checked on --resume. */
export interface TrainConfig {
  /** LR (source, P) folders. */
  lr: string[];
  /** HR (target, Q) folders: unrelated to the LR photos. */
  hr: string[];
  scale: number;
  solver: 'ots' | 'gan';
  /** GAN only: weight of the content (transport) cost. */
  lambda: number;
  /** OTS only: weight of the transport cost (same OT map for any weight; larger = steadier start). Absent in runs saved before it existed: 1. */
  costWeight?: number;
  /**
   * Where the transport cost compares T(x) with its reference: `hr`, every pixel; `lr`, averages over scale x scale
   * blocks, so that only what the LR photo shows is held and the finer detail is the potential's. Absent in runs
   * saved before it existed: hr.
   */
  costResolution?: CostResolution;
  /** Outer iterations: OTS = kMap map steps + 1 potential step; GAN = nCritic critic steps + 1 map step. */
  steps: number;
  /** HR crop side (the LR crop is crop / scale). */
  crop: number;
  batch: number;
  /** The map T (LR -> HR). */
  map: ArchSpec;
  /** The potential / critic f (HR -> scalar). */
  potential: ArchSpec;
  /** Adam learning rate of the map in the solver's steps, and of the potential unless `potentialLearningRate` is set. */
  learningRate: number;
  /** Adam learning rate of the potential / critic. Absent: `learningRate`. */
  potentialLearningRate?: number;
  /** OTS: map steps per potential step. */
  kMap: number;
  /** OTS: γ of the potential's R1 penalty γ/2·E|∇f(y)|² at the HR samples (0: none, the paper's). Absent in runs saved before it existed: 0. */
  potentialPenalty?: number;
  /** GAN: critic steps per map step. */
  nCritic: number;
  /**
   * Decay d of an exponential moving average of the map's weights over the solver's steps (after pretraining),
   * which is what is validated, sampled and exported (training continues from the map itself); 0: none, the map
   * itself. Absent in runs saved before it existed: 0.
   */
  emaDecay?: number;
  /** Refresh the cost's reference map U to a frozen copy of T every N steps (0: keep bicubic). */
  refreshEvery: number;
  /**
   * The first N outer steps pretrain the map alone on aligned pairs made from the HR folders by `degradation`
   * (L1; no pair of the real LR photos is used, so the method stays unpaired); then the solver runs from the
   * pretrained map, with it as the cost's reference U. Absent in runs saved before it existed: 0.
   */
  pretrainSteps?: number;
  /** Adam learning rate of pretraining (absent: `learningRate`). Supervised L1 steps bear a higher rate than the saddle point. */
  pretrainLearningRate?: number;
  /** `cosine`: the pretraining rate falls from `pretrainLearningRate` to 0 over the pretraining steps. Absent: constant. */
  pretrainSchedule?: PretrainSchedule;
  /** How pretraining pairs are made: `blind` (a random degradation per crop), `bicubic`, or `blur=S,noise=N,jpeg=Q`. Absent: blind. */
  degradation?: string;
  /**
   * A model folder (otsr format) whose weights the map starts from instead of its random init, e.g. a shipped
   * model to adapt to the user's folders; it is also the cost's reference U from the first step (until a
   * refresh). Its architecture must be `map`'s. Absent: the map starts from its seeded random init.
   */
  init?: string;
  valLr?: string;
  valHr?: string;
  seed: number;
  checkpointEvery: number;
  sampleEvery: number;
  /** Budget for decoded training images held in memory. */
  cacheMB: number;
  /** Images with more pixels are skipped (decompression bombs); default the image loader's DEFAULT_MAX_PIXELS. */
  maxPixels?: number;
  /**
   * Worker threads sharing every batch (data parallel, identical weights after every step); 1 trains in the
   * calling thread. At most `batch`. `train` records it; absent in runs from before it existed: 1. On resume,
   * absent means the run's own count, and another count is refused (the numbers would differ).
   */
  workers?: number;
}

/** Named map architectures: small enough to train on a laptop CPU, or the reference benchmark size. */
export const MAP_PRESETS: Record<string, (scale: number) => ArchSpec> = {
  tiny: (scale) => ({ kind: 'edsr', nResBlocks: 2, nFeats: 16, resScale: 1, scale, skip: 'upsample' }),
  small: (scale) => ({ kind: 'edsr', nResBlocks: 6, nFeats: 32, resScale: 1, scale, skip: 'upsample' }),
  base: (scale) => ({ kind: 'edsr', nResBlocks: 8, nFeats: 64, resScale: 1, scale, skip: 'upsample' }),
  large: (scale) => ({ kind: 'edsr', nResBlocks: 16, nFeats: 64, resScale: 1, scale, skip: 'upsample' }),
};

/**
 * Named potentials. They see image detail only (`highpass`: a σ = 2 px Gaussian low-pass is subtracted):
 * unpaired LR and HR folders show different scenes, and a potential that can compare colours makes the map
 * recolour its inputs (bench/RESULTS.md, tuning pilots).
 */
export const POTENTIAL_PRESETS: Record<string, (crop: number) => ArchSpec> = {
  tiny: (crop) => ({ kind: 'critic', size: crop, nFeats: 8, maxFeats: 32, resRatio: 0.1, highpass: 2 }),
  small: (crop) => ({ kind: 'critic', size: crop, nFeats: 16, maxFeats: 128, resRatio: 0.1, highpass: 2 }),
  base: (crop) => ({ kind: 'critic', size: crop, nFeats: 64, maxFeats: 512, resRatio: 0.1, highpass: 2 }),
};

export const DEFAULT_TRAIN_CONFIG = {
  scale: 4,
  solver: 'ots' as const,
  lambda: 10,
  // On images a weight of 1 lets a young potential pull the map far from bicubic within a few steps; 100
  // keeps it close while the potential learns (bench/RESULTS.md, tuning pilots). Same OT map either way.
  costWeight: 100,
  costResolution: 'hr' as CostResolution,
  // = pretrainSteps, pretraining only (and the CLI's --steps follows a given --pretrain-steps): every OT stage
  // measured after it made the map worse on val, more so the longer it ran (227 steps: -0.06 dB, -0.020 SSIM;
  // 400: -0.60 dB, -0.146 SSIM, below bicubic: bench/RESULTS.md, "The OT stage after pretraining, run longer").
  // `--steps` beyond `--pretrain-steps` runs it.
  steps: 1500,
  crop: 64,
  batch: 8,
  learningRate: 1e-4,
  kMap: 10,
  potentialPenalty: 0,
  nCritic: 5,
  // The solver stages' kicks (val down 0.1-3 dB for a few steps, then back) never reach the average: over three
  // OT-stage pilots its val PSNR was above the training weights' at 28 of 32 points, its worst 23.92 dB vs 20.98
  // (bench/RESULTS.md, "An average of the map's weights"). Pretraining is not averaged: the default recipe's map is unchanged.
  emaDecay: 0.99,
  refreshEvery: 0,
  pretrainSteps: 1500,
  pretrainLearningRate: 5e-4,
  pretrainSchedule: 'cosine' as PretrainSchedule,
  degradation: 'blind',
  seed: 1,
  checkpointEvery: 25,
  sampleEvery: 100,
  cacheMB: 512,
};

/** Turns `--arch` / `--potential` values (a preset name or a JSON spec) into an ArchSpec. */
export function resolveArch(
  value: string,
  presets: Record<string, (n: number) => ArchSpec>,
  n: number,
  what: string,
): ArchSpec {
  const preset = presets[value];
  if (preset) return preset(n);
  if (value.trim().startsWith('{')) {
    try {
      return JSON.parse(value) as ArchSpec;
    } catch {
      throw new UsageError(`${what}: '${value}' is not valid JSON`);
    }
  }
  throw new UsageError(`${what}: unknown preset '${value}'; use one of ${Object.keys(presets).join(', ')} or a JSON spec`);
}

/** Checks the config's numbers before anything is loaded or allocated. */
export function validateConfig(c: TrainConfig): void {
  if (c.lr.length === 0) throw new UsageError('--lr: give at least one folder of low-resolution images');
  if (c.hr.length === 0) throw new UsageError('--hr: give at least one folder of high-resolution images');
  if (c.crop % c.scale !== 0) throw new UsageError(`--crop ${c.crop} must be a multiple of --scale ${c.scale}`);
  if (c.crop / c.scale < 4) throw new UsageError(`--crop ${c.crop} is too small for scale ${c.scale} (LR crops under 4 pixels)`);
  if (c.costWeight !== undefined && !(c.costWeight > 0)) throw new UsageError(`--cost-weight must be > 0, got ${c.costWeight}`);
  if (c.costResolution !== undefined && !COST_RESOLUTIONS.includes(c.costResolution)) {
    throw new UsageError(`--cost-resolution must be ${COST_RESOLUTIONS.join(' or ')}, got ${String(c.costResolution)}`);
  }
  if (c.potentialLearningRate !== undefined && !(c.potentialLearningRate > 0)) throw new UsageError(`--potential-learning-rate must be > 0, got ${c.potentialLearningRate}`);
  if (c.potentialPenalty !== undefined && !(c.potentialPenalty >= 0)) throw new UsageError(`--potential-penalty must be >= 0, got ${c.potentialPenalty}`);
  if (c.emaDecay !== undefined && !(c.emaDecay >= 0 && c.emaDecay < 1)) throw new UsageError(`--ema-decay must be in [0, 1), got ${c.emaDecay}`);
  if (c.pretrainSteps !== undefined && !(Number.isInteger(c.pretrainSteps) && c.pretrainSteps >= 0)) {
    throw new UsageError(`--pretrain-steps must be an integer >= 0, got ${c.pretrainSteps}`);
  }
  if (c.degradation !== undefined) parseDegradation(c.degradation);
  if (c.pretrainSchedule !== undefined && c.pretrainSchedule !== 'constant' && c.pretrainSchedule !== 'cosine') {
    throw new UsageError(`--pretrain-schedule must be constant or cosine, got ${String(c.pretrainSchedule)}`);
  }
  if ((c.valLr === undefined) !== (c.valHr === undefined)) throw new UsageError('--val-lr and --val-hr go together');
  if (c.workers !== undefined && !(Number.isInteger(c.workers) && c.workers >= 1 && c.workers <= c.batch)) {
    throw new UsageError(`--workers ${c.workers} must be an integer from 1 to --batch ${c.batch} (each worker takes at least one image of every batch)`);
  }
  if (c.map.kind === 'edsr' && c.map.scale !== c.scale) {
    throw new UsageError(`the map's scale (${String(c.map.scale)}) differs from --scale ${c.scale}`);
  }
  if (c.potential.kind === 'critic' && c.potential.size !== c.crop) {
    throw new UsageError(`the potential's input size (${String(c.potential.size)}) differs from --crop ${c.crop}`);
  }
}

/** The settings that must not change when a run is resumed (the rest, e.g. --steps, may). */
export function resumeMismatch(saved: TrainConfig, now: TrainConfig): string | undefined {
  const fixed: (keyof TrainConfig)[] = [
    'scale', 'solver', 'lambda', 'costWeight', 'costResolution', 'crop', 'batch', 'map', 'potential', 'kMap', 'potentialPenalty', 'nCritic', 'emaDecay', 'seed', 'refreshEvery', 'learningRate', 'potentialLearningRate',
    'pretrainSteps', 'pretrainLearningRate', 'pretrainSchedule', 'degradation', 'init',
  ];
  const withDefaults = (c: TrainConfig): TrainConfig => ({
    ...c,
    costWeight: c.costWeight ?? 1,
    costResolution: c.costResolution ?? 'hr',
    potentialPenalty: c.potentialPenalty ?? 0,
    emaDecay: c.emaDecay ?? 0,
    potentialLearningRate: c.potentialLearningRate ?? c.learningRate,
    workers: c.workers ?? 1,
    pretrainSteps: c.pretrainSteps ?? 0,
    pretrainLearningRate: c.pretrainLearningRate ?? c.learningRate,
    pretrainSchedule: c.pretrainSchedule ?? 'constant',
    degradation: c.degradation ?? 'blind',
  });
  [saved, now] = [withDefaults(saved), withDefaults(now)];
  for (const key of fixed) {
    if (JSON.stringify(saved[key]) !== JSON.stringify(now[key])) {
      return `${optionName(key)} was ${JSON.stringify(saved[key])} when the run started, now ${JSON.stringify(now[key])}`;
    }
  }
  if (saved.workers !== now.workers) {
    // Workers split each batch and sum their gradients in a fixed order: another count rounds differently.
    return `it started with --workers ${saved.workers} and continues exactly only with the same count (now ${now.workers}); omit --workers to keep it`;
  }
  return undefined;
}

/** The `otsr train` option that sets a config key: `--arch` for the map, else the key in kebab case (`kMap` → `--k-map`). */
function optionName(key: keyof TrainConfig): string {
  return key === 'map' ? '--arch' : `--${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
}
