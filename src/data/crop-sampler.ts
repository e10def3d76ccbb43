/**
 * `CropSampler`: what every random-crop image sampler shares, whatever holds its images: the seeded epoch
 * order (every image once per epoch), the seeded crop position, flip and quarter turn of each sample, and the
 * saved drawing position. Subclasses only say how an image's pixels are obtained (`ImageArraySampler`: already
 * in memory; `ImageFolderSampler`: decoded from disk through a cache), so the same images in the same order
 * with the same seed give the same batches from either.
 *
 * Browser-safe (no node:), since `ImageArraySampler` runs in the web page.
 */
import * as tf from '@tensorflow/tfjs-core';
import { OtsrError, UsageError } from '../errors.js';
import type { RgbImage } from '../image/pixels.js';
import { Rng } from '../util/rng.js';
import { type CropSpec, writeCrop } from './augment.js';
import type { Sampler } from './sampler.js';

/** Options of every crop sampler. */
export interface CropSamplerOptions {
  /** Crop side in pixels (the HR crop c, or c / s for LR). */
  crop: number;
  /** Seed of the image order, crop positions and augmentations. */
  seed: number;
  /** Random left-right mirror (default true). */
  flips?: boolean;
  /** Random quarter turns (default true); with flips, all 8 symmetries of the square. */
  rotations?: boolean;
}

/** The drawing position, part of every crop sampler's saved state (JSON). */
export interface CropDrawState {
  readonly rng: number[];
  /** Order generator as it was before the current epoch's shuffle. */
  readonly orderRng: number[];
  readonly epoch: number;
  readonly pos: number;
}

/** One planned sample: which image (an index into the sampler's list) and where the crop is cut. */
export type PlannedCrop = CropSpec & { readonly index: number };

/** @throws UsageError unless `crop` is a positive integer. */
export function checkCrop(crop: number): void {
  if (!Number.isInteger(crop) || crop < 1) throw new UsageError(`crop size must be a positive integer, got ${crop}`);
}

export abstract class CropSampler implements Sampler {
  readonly shape: readonly [number, number, number];
  readonly crop: number;
  /** Sizes of the images drawn from (at least crop x crop each), indexed as the subclass's list. */
  private readonly sizes: readonly { readonly width: number; readonly height: number }[];
  private readonly flips: boolean;
  private readonly rotations: boolean;
  private readonly rng: Rng;
  private readonly orderRng: Rng;
  private epochStart: number[];
  private perm: number[] = [];
  private epoch = 0;
  private pos = 0;

  /** @param sizes the usable images' sizes, in the order the subclass indexes them. */
  constructor(sizes: readonly { readonly width: number; readonly height: number }[], options: CropSamplerOptions) {
    checkCrop(options.crop);
    this.sizes = sizes;
    this.crop = options.crop;
    this.shape = [options.crop, options.crop, 3];
    this.flips = options.flips ?? true;
    this.rotations = options.rotations ?? true;
    // Crops from one fork, the epoch order from another: the order does not depend on how many crops were cut.
    const root = new Rng(options.seed);
    this.rng = root.fork();
    this.orderRng = root.fork();
    this.epochStart = this.orderRng.getState();
    this.shuffleEpoch();
  }

  /** Number of epochs started (the first is 0). */
  get epochs(): number {
    return this.epoch;
  }

  abstract sample(batch: number): Promise<tf.Tensor4D>;
  abstract getState(): unknown;
  abstract setState(state: unknown): void;

  /** Whether image `index` may be drawn (a subclass excludes images found bad after construction). */
  protected usable(_index: number): boolean {
    return true;
  }

  /** The next `batch` samples: image indices in epoch order and their seeded crops. Advances the state. */
  protected planCrops(batch: number): PlannedCrop[] {
    if (!Number.isInteger(batch) || batch < 1) throw new RangeError(`batch must be a positive integer, got ${batch}`);
    const c = this.crop;
    const out: PlannedCrop[] = [];
    for (let k = 0; k < batch; k++) {
      const index = this.nextIndex();
      const { width, height } = this.sizes[index]!;
      const y = this.rng.int(height - c + 1);
      const x = this.rng.int(width - c + 1);
      const flip = this.flips ? this.rng.int(2) === 1 : false;
      const rot = this.rotations ? this.rng.int(4) : 0;
      out.push({ index, x, y, size: c, rot, flip });
    }
    return out;
  }

  /** The next `n` usable image indices, without advancing any state (the next epoch's order is computed on a copy). */
  protected peekIndices(n: number): number[] {
    const out: number[] = [];
    let perm = this.perm;
    let pos = this.pos;
    const order = new Rng(this.orderRng.getState());
    while (out.length < n) {
      if (pos >= perm.length) {
        perm = order.shuffle(this.identity());
        pos = 0;
      }
      const i = perm[pos++]!;
      if (this.usable(i)) out.push(i);
    }
    return out;
  }

  /** Cuts the planned crops into one float32 batch [plan.length, crop, crop, 3] in [-1, 1]. */
  protected cutCrops(plan: readonly PlannedCrop[], imageOf: (index: number) => RgbImage): Float32Array {
    const n = this.crop * this.crop * 3;
    const data = new Float32Array(plan.length * n);
    plan.forEach((p, k) => writeCrop(imageOf(p.index), p, data, k * n));
    return data;
  }

  /** A batch from `cutCrops` as a tensor; the caller disposes it. */
  protected toTensor(data: Float32Array, batch: number): tf.Tensor4D {
    return tf.tensor4d(data, [batch, this.crop, this.crop, 3], 'float32');
  }

  /** The drawing position, to spread into the subclass's saved state. */
  protected drawState(): CropDrawState {
    return { rng: this.rng.getState(), orderRng: [...this.epochStart], epoch: this.epoch, pos: this.pos };
  }

  /**
   * Checks that `state` is a saved state of this `kind` (version 1) and returns it for the subclass's own
   * checks before {@link restoreDrawState}.
   * @throws OtsrError `${what}: unrecognised saved state` otherwise.
   */
  protected parseState<S extends CropDrawState & { readonly kind: string; readonly version: number }>(
    state: unknown,
    kind: S['kind'],
    what: string,
  ): Partial<S> {
    const s = state as Partial<S> | null;
    if (!s || s.kind !== kind || s.version !== 1 || !Array.isArray(s.rng) || !Array.isArray(s.orderRng)) {
      throw new OtsrError(`${what}: unrecognised saved state`);
    }
    return s;
  }

  /** Restores a drawing position checked by {@link parseState}. */
  protected restoreDrawState(s: Partial<CropDrawState>): void {
    this.rng.setState(s.rng!);
    this.orderRng.setState(s.orderRng!);
    this.shuffleEpoch();
    this.epoch = s.epoch ?? 0;
    this.pos = s.pos ?? 0;
  }

  private identity(): number[] {
    return Array.from({ length: this.sizes.length }, (_, i) => i);
  }

  private shuffleEpoch(): void {
    this.epochStart = this.orderRng.getState();
    this.perm = this.orderRng.shuffle(this.identity());
  }

  private nextIndex(): number {
    for (;;) {
      if (this.pos >= this.perm.length) {
        this.shuffleEpoch();
        this.epoch++;
        this.pos = 0;
      }
      const i = this.perm[this.pos++]!;
      if (this.usable(i)) return i;
    }
  }
}
