/**
 * The data side of an unpaired super-resolution problem: an LR sampler (crops c / s) and an HR sampler
 * (crops c) over folders of unrelated photos, sharing one decoded-image cache.
 */
import { InputError, UsageError } from '../errors.js';
import { sharpJpegRoundTrip } from '../image/degrade.js';
import { Rng } from '../util/rng.js';
import { DEFAULT_CACHE_BYTES, ImageCache } from './cache.js';
import { ImageFolderSampler, type ImageFolderSamplerOptions } from './image-folder.js';
import type { DegradationSpec } from './degradation.js';
import { SyntheticPairSampler, pairMargin } from './synthetic-pairs.js';

export interface UnpairedFoldersOptions
  extends Pick<ImageFolderSamplerOptions, 'flips' | 'rotations' | 'recursive' | 'maxPixels' | 'concurrency' | 'onWarning' | 'signal'> {
  lr: string | readonly string[];
  hr: string | readonly string[];
  /** Super-resolution factor s (2, 3, 4, 8, ...). */
  scale: number;
  /** HR crop side c; must be a multiple of `scale` (the LR crop is c / s). */
  crop: number;
  seed: number;
  /** One budget for both samplers' decoded images (default DEFAULT_CACHE_BYTES). */
  cacheBytes?: number;
  /** Also make aligned pretraining pairs from the HR folders with this degradation (see SyntheticPairSampler). */
  pairs?: DegradationSpec;
}

export interface UnpairedFolders {
  /** P: LR crops [c/s, c/s, 3]. */
  readonly lr: ImageFolderSampler;
  /** Q: HR crops [c, c, 3]. */
  readonly hr: ImageFolderSampler;
  readonly scale: number;
  readonly cache: ImageCache;
  /** Pretraining pairs made from the HR folders (when `pairs` was given). */
  readonly pairs?: SyntheticPairSampler;
}

/** Opens both folders (validating every header) and returns their samplers. */
export async function openUnpairedFolders(options: UnpairedFoldersOptions): Promise<UnpairedFolders> {
  const { scale, crop } = options;
  if (!Number.isInteger(scale) || scale < 1) throw new UsageError(`scale must be a positive integer, got ${scale}`);
  if (!Number.isInteger(crop) || crop < scale || crop % scale !== 0) {
    throw new UsageError(`the HR crop (${crop}) must be a positive multiple of the scale (${scale})`);
  }
  const cache = new ImageCache({ budgetBytes: options.cacheBytes ?? DEFAULT_CACHE_BYTES, maxPixels: options.maxPixels });
  // Independent streams for the two domains, both determined by the one seed.
  const root = new Rng(options.seed);
  const seedOf = () => root.nextUint32();
  const common = {
    flips: options.flips,
    rotations: options.rotations,
    recursive: options.recursive,
    maxPixels: options.maxPixels,
    concurrency: options.concurrency,
    onWarning: options.onWarning,
    signal: options.signal,
    cache,
  };
  const lr = await ImageFolderSampler.open({ ...common, folders: options.lr, crop: crop / scale, seed: seedOf() });
  const hr = await ImageFolderSampler.open({ ...common, folders: options.hr, crop, seed: seedOf() });
  if (options.pairs === undefined) return { lr, hr, scale, cache };
  // Larger HR crops, cut back to `crop` after degrading (pairMargin): drawn by a sampler of their own. The HR
  // sampler above has already warned about bad files; here only the number of images too small for pairs is said.
  const side = crop + 2 * pairMargin(scale);
  let big: ImageFolderSampler;
  try {
    big = await ImageFolderSampler.open({ ...common, folders: options.hr, crop: side, seed: seedOf(), onWarning: () => {} });
  } catch (err) {
    if (!(err instanceof InputError)) throw err;
    throw new UsageError(
      `pretraining makes its pairs from ${side}x${side} HR crops (--crop ${crop} plus a ${pairMargin(scale)} px margin a side), and no --hr image is that large: lower --crop, or train without pretraining (--pretrain-steps 0)`,
    );
  }
  const small = hr.files.length - big.files.length;
  if (small > 0) options.onWarning?.(`pretraining: ${small} HR image(s) smaller than ${side}x${side} are used by the solver only, not for pretraining pairs`);
  const pairs = new SyntheticPairSampler(big, scale, crop, options.pairs, seedOf(), sharpJpegRoundTrip);
  return { lr, hr, scale, cache, pairs };
}
