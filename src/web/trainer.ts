/**
 * A small OTS training session over images decoded in memory: what the page's Train tab runs, with no DOM,
 * so that Node (tests) can run the very same computation and compare.
 *
 * The recipe of `otsr train`, smaller: P = random LR crops (crop / scale pixels), Q = random HR crops (crop
 * pixels) from two unrelated sets of images; T = a tiny EDSR with a bicubic skip, f = a tiny ResNet critic. The
 * first `pretrainSteps` steps train T alone on pairs made from the HR images by a random (`blind`) degradation
 * (no pair of the LR images is used); then NeuralOT with k map steps per potential step, Adam on both (the
 * paper's OTS), with cost w·½·mean((T0(x) − T(x))²) measured from the pretrained map T0 (bicubic without
 * pretraining).
 */
import * as tf from '@tensorflow/tfjs-core';
import { type DegradationSpec, parseDegradation } from '../data/degradation.js';
import { ImageArraySampler } from '../data/image-array.js';
import { SyntheticPairSampler, pairMargin } from '../data/synthetic-pairs.js';
import { UsageError } from '../errors.js';
import type { JpegRoundTrip } from '../image/degrade-float.js';
import type { RgbImage } from '../image/pixels.js';
import { upsampleBicubic } from '../image/resize-tensor.js';
import type { ArchSpec, Module } from '../nn/module.js';
import { buildModule } from '../nn/registry.js';
import { encodeModel } from '../nn/serialize.js';
import type { ReferenceCost } from '../ot/cost.js';
import { NEURAL_OT_BETAS } from '../ot/neural-ot.js';
import { GAN_GP_WEIGHT } from '../ot/regularized-gan.js';
import type { OtSolver, StepLosses } from '../ot/solver.js';
import { DEFAULT_TRAIN_CONFIG, MAP_PRESETS, POTENTIAL_PRESETS } from '../train/config.js';
import { type OtTaskOptions, buildNetworks, buildSolver } from '../train/run-spec.js';
import { sampleGridTensor } from '../train/sample-grid.js';

export interface WebTrainOptions {
  /** Upscaling factor (2, 3, 4 or 8). */
  scale: number;
  /** HR crop side; the LR crop is crop / scale. */
  crop: number;
  batch: number;
  /** Map updates per potential update. */
  kMap: number;
  /** Adam learning rate of both networks. */
  learningRate: number;
  seed: number;
  /** The map T (default: the `tiny` EDSR preset). */
  map?: ArchSpec;
  /** The potential f (default: the `tiny` critic preset). */
  potential?: ArchSpec;
  /** Outer steps of pretraining on pairs made from the HR images, counted in the steps (default 0: OTS from bicubic). */
  pretrainSteps?: number;
  /** `blind`, `bicubic` or `blur=S,noise=N,jpeg=Q`, as `otsr train --degradation` (default `otsr train`'s). */
  degradation?: string;
  /** Adam learning rate of pretraining, cosine down to 0 over its steps (default `otsr train`'s). */
  pretrainLearningRate?: number;
  /** Weight of the transport cost in the map's loss (default `otsr train`'s). */
  costWeight?: number;
  /** Decay of the average of the map's weights over the OT steps, which previews and exports show (default `otsr train`'s; 0: none). */
  emaDecay?: number;
  /** The JPEG step of the degradation: needed when it can draw JPEG (`blind`, `jpeg=Q`) and pretrainSteps > 0. */
  jpeg?: JpegRoundTrip;
}

/** The page's defaults: `otsr train`'s recipe on a smaller map, crop and batch. */
export const WEB_TRAIN_DEFAULTS = { scale: 4, crop: 48, batch: 4, kMap: 10, learningRate: 1e-4, seed: 1, steps: 100, pretrainSteps: 100 } as const;

/** A set of decoded images and their names (for messages). */
export interface NamedImages {
  images: readonly RgbImage[];
  names: readonly string[];
}

type ResolvedOptions = Required<Omit<WebTrainOptions, 'jpeg'>>;

export class WebTrainer {
  readonly options: ResolvedOptions;
  readonly map: Module;
  readonly potential: Module;
  readonly source: ImageArraySampler;
  readonly target: ImageArraySampler;
  readonly solver: OtSolver;
  /** Pretraining pairs (present when `pretrainSteps` > 0). */
  readonly pairs?: SyntheticPairSampler;
  private readonly cost: ReferenceCost;
  private readonly previewLr: tf.Tensor4D;
  /** Holds the map's weight average for previews and exports (with `emaDecay` > 0). */
  private readonly averaged?: Module;

  /**
   * Checks the settings and the images, builds the networks, samplers and solver.
   * @throws UsageError for bad settings; InputError when a set has no image large enough for its crop.
   */
  constructor(lr: NamedImages, hr: NamedImages, options: WebTrainOptions) {
    const { scale, crop, batch, kMap, learningRate, seed } = options;
    checkInt('scale', scale, 2, 8);
    checkInt('crop', crop, 4, 1024);
    checkInt('batch', batch, 1, 1024);
    checkInt('k (map steps per potential step)', kMap, 1, 1000);
    checkInt('seed', seed, 0, 2 ** 32 - 1);
    if (crop % scale !== 0) throw new UsageError(`the HR crop ${crop} must be a multiple of the scale ${scale}`);
    if (crop / scale < 4) throw new UsageError(`the HR crop ${crop} is too small for scale ${scale} (LR crops under 4 pixels)`);
    if (!(Number.isFinite(learningRate) && learningRate > 0 && learningRate < 1)) {
      throw new UsageError(`the learning rate must be in (0, 1), got ${learningRate}`);
    }
    const mapSpec = options.map ?? MAP_PRESETS.tiny!(scale);
    const potentialSpec = options.potential ?? POTENTIAL_PRESETS.tiny!(crop);
    const pretrainSteps = options.pretrainSteps ?? 0;
    checkInt('pretraining steps', pretrainSteps, 0, 1e6);
    const degradationText = options.degradation ?? DEFAULT_TRAIN_CONFIG.degradation;
    const degradation = parseDegradation(degradationText);
    const pretrainLearningRate = options.pretrainLearningRate ?? DEFAULT_TRAIN_CONFIG.pretrainLearningRate;
    const costWeight = options.costWeight ?? DEFAULT_TRAIN_CONFIG.costWeight;
    const emaDecay = options.emaDecay ?? DEFAULT_TRAIN_CONFIG.emaDecay;
    if (!(emaDecay >= 0 && emaDecay < 1)) throw new UsageError(`the EMA decay must be in [0, 1), got ${emaDecay}`);
    if (!(Number.isFinite(pretrainLearningRate) && pretrainLearningRate > 0 && pretrainLearningRate < 1)) {
      throw new UsageError(`the pretraining learning rate must be in (0, 1), got ${pretrainLearningRate}`);
    }
    if (!(Number.isFinite(costWeight) && costWeight > 0)) throw new UsageError(`the cost weight must be > 0, got ${costWeight}`);
    if (pretrainSteps > 0 && !options.jpeg && usesJpeg(degradation)) throw new UsageError('this degradation draws JPEG: give a JPEG codec (options.jpeg)');
    const { jpeg: _codec, ...rest } = options;
    this.options = { ...rest, map: mapSpec, potential: potentialSpec, pretrainSteps, degradation: degradationText, pretrainLearningRate, costWeight, emaDecay };

    // Seeds: one per component, derived from the run's seed, so that every part is reproducible.
    this.source = new ImageArraySampler({ images: lr.images, names: lr.names, crop: crop / scale, seed: seed + 2, label: 'low-resolution images' });
    this.target = new ImageArraySampler({ images: hr.images, names: hr.names, crop, seed: seed + 3, label: 'high-resolution images' });
    if (pretrainSteps > 0) {
      // Pair crops carry a margin for the blur and JPEG to see real content at their edges, as otsr train's do.
      const big = new ImageArraySampler({ images: hr.images, names: hr.names, crop: crop + 2 * pairMargin(scale), seed: seed + 6, label: 'high-resolution images (for pretraining pairs)' });
      this.pairs = new SyntheticPairSampler(big, scale, crop, degradation, seed + 7, options.jpeg ?? noJpeg);
    }
    // The task spec of `otsr train`'s runs (its defaults where the page has no setting), built as they are built.
    const task: OtTaskOptions = {
      solver: 'ots',
      map: mapSpec,
      potential: potentialSpec,
      mapSeed: seed,
      scale,
      refreshEvery: 0,
      mapLr: learningRate,
      potentialLr: learningRate,
      betas: [...NEURAL_OT_BETAS],
      costWeight,
      costResolution: DEFAULT_TRAIN_CONFIG.costResolution,
      gpWeight: GAN_GP_WEIGHT,
      potentialPenalty: DEFAULT_TRAIN_CONFIG.potentialPenalty,
      pretrainSteps,
      pretrainLr: pretrainLearningRate,
      pretrainSchedule: DEFAULT_TRAIN_CONFIG.pretrainSchedule,
      emaDecay,
    };
    const nets = buildNetworks(task);
    ({ map: this.map, potential: this.potential, cost: this.cost } = nets);
    if (emaDecay > 0) this.averaged = buildModule(mapSpec, { upsampler: upsampleBicubic });
    this.solver = buildSolver(task, nets, { source: this.source, target: this.target, ...(this.pairs ? { pairs: this.pairs } : {}) }, {
      batchSize: batch,
      innerSteps: kMap,
      seed: seed + 4,
    });
    // Fixed LR crops to watch the map improve: up to 3, from their own seeded sampler, no augmentation.
    const smallest = Math.min(...this.source.images.map((im) => Math.min(im.width, im.height)));
    const previewCrop = Math.min(Math.max(crop / scale, 24), smallest);
    const previews = new ImageArraySampler({ images: this.source.images, crop: previewCrop, seed: seed + 5, flips: false, rotations: false });
    const n = Math.min(3, this.source.images.length);
    this.previewLr = tf.tensor4d(previews.sampleData(n), [n, previewCrop, previewCrop, 3]);
  }

  /** Outer steps done. */
  get stepCount(): number {
    return this.solver.stepCount;
  }

  /** Whether the next step is a pretraining one. */
  get pretraining(): boolean {
    return this.stepCount < this.options.pretrainSteps;
  }

  /** One outer step: a pretraining step (10 L1 updates on pairs), or k map updates and one potential update. */
  step(): Promise<StepLosses> {
    return this.solver.step();
  }

  /** The map that previews and exports show: the weight average once the OT steps began (with `emaDecay`), else the map. */
  private shownMap(): Module {
    return this.averaged && this.solver.averageInto(this.averaged) ? this.averaged : this.map;
  }

  /** Rows of LR | bicubic | map for the fixed preview crops: [rows, width, 3] in [-1, 1]; the caller disposes it. */
  previewGrid(): tf.Tensor3D {
    const map = this.shownMap();
    return sampleGridTensor(this.previewLr, this.options.scale, (x) => map.apply(x) as tf.Tensor4D);
  }

  /** The map as a model folder's files (model.json + shards), loadable by `loadModel` in Node. */
  exportModel(extra: Record<string, unknown> = {}): Promise<Map<string, Uint8Array>> {
    const o = this.options;
    return encodeModel(this.shownMap(), {
      scale: o.scale,
      training: {
        solver: 'ots',
        steps: this.stepCount,
        crop: o.crop,
        batch: o.batch,
        kMap: o.kMap,
        learningRate: o.learningRate,
        costWeight: o.costWeight,
        emaDecay: o.emaDecay,
        pretrainSteps: o.pretrainSteps,
        pretrainLearningRate: o.pretrainLearningRate,
        degradation: o.degradation,
        seed: o.seed,
        potential: o.potential,
        lrImages: this.source.images.length,
        hrImages: this.target.images.length,
        trainedIn: 'otsr web page',
        ...extra,
      },
    });
  }

  /** A copy of the map that previews and exports show, with its current weights (independent of further training and of dispose()). */
  copyMap(): Module {
    const copy = buildModule(this.options.map, { upsampler: upsampleBicubic });
    copy.copyFrom(this.shownMap());
    return copy;
  }

  /** Frees the networks, the optimizer state and the preview crops. */
  dispose(): void {
    this.solver.dispose();
    this.cost.dispose();
    this.map.dispose();
    this.averaged?.dispose();
    this.potential.dispose();
    this.previewLr.dispose();
  }
}

function usesJpeg(d: DegradationSpec): boolean {
  return d === 'blind' || d.jpeg !== undefined;
}

const noJpeg: JpegRoundTrip = () => Promise.reject(new Error('no JPEG codec'));

function checkInt(name: string, value: number, min: number, max: number): void {
  if (!Number.isInteger(value) || value < min || value > max) throw new UsageError(`${name} must be an integer in [${min}, ${max}], got ${value}`);
}
