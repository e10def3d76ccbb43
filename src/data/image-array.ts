/**
 * `ImageArraySampler`: random square crops from images already decoded in memory, as a `Sampler` for the
 * OT solvers. Browser-safe (no sharp, no node:): the web page decodes the photos a person drops with the
 * browser's own decoder and trains on them with this.
 *
 * It draws exactly as `ImageFolderSampler` does (same seeded epoch order, crop positions, flips and turns),
 * so the same images in the same order with the same seed give the same batches in Node and in a page.
 */
import * as tf from '@tensorflow/tfjs-core';
import { InputError, OtsrError, UsageError } from '../errors.js';
import type { RgbImage } from '../image/pixels.js';
import { Rng } from '../util/rng.js';
import { type CropSpec, writeCrop } from './augment.js';
import type { Sampler } from './sampler.js';

export interface ImageArraySamplerOptions {
  /** The decoded images (8-bit RGB; alpha is ignored). */
  images: readonly RgbImage[];
  /** Their names, for messages (default image 1, image 2, ...). */
  names?: readonly string[];
  /** Crop side in pixels. */
  crop: number;
  /** Seed of the order, crop positions and augmentations. */
  seed: number;
  /** Random left-right mirror (default true). */
  flips?: boolean;
  /** Random quarter turns (default true). */
  rotations?: boolean;
  /** What the images are, for messages (e.g. 'low-resolution images'). */
  label?: string;
}

/** Serializable sampler state (JSON). */
export interface ImageArraySamplerState {
  readonly kind: 'image-array';
  readonly version: 1;
  /** Number of usable images, so that resuming on another set is caught. */
  readonly count: number;
  readonly rng: number[];
  readonly orderRng: number[];
  readonly epoch: number;
  readonly pos: number;
}

export class ImageArraySampler implements Sampler {
  readonly shape: readonly [number, number, number];
  readonly crop: number;
  /** The usable images (at least crop x crop), in the order given. */
  readonly images: readonly RgbImage[];
  /** Names of the images left out because they are smaller than the crop. */
  readonly skipped: readonly string[];
  private readonly flips: boolean;
  private readonly rotations: boolean;
  private rng: Rng;
  private orderRng: Rng;
  private epochStart: number[];
  private perm: number[] = [];
  private epoch = 0;
  private pos = 0;

  /**
   * @throws UsageError for a bad crop; InputError when no image is at least crop x crop pixels.
   */
  constructor(options: ImageArraySamplerOptions) {
    const { crop } = options;
    if (!Number.isInteger(crop) || crop < 1) throw new UsageError(`crop size must be a positive integer, got ${crop}`);
    const label = options.label ?? 'images';
    const name = (i: number) => options.names?.[i] ?? `image ${i + 1}`;
    if (options.images.length === 0) throw new InputError(label, 'no images given');
    const usable: RgbImage[] = [];
    const skipped: string[] = [];
    options.images.forEach((img, i) => {
      if (img.data.length !== img.width * img.height * 3) throw new InputError(name(i), `has ${img.data.length} bytes for ${img.width}x${img.height} RGB pixels`);
      if (img.width >= crop && img.height >= crop) usable.push(img);
      else skipped.push(name(i));
    });
    if (usable.length === 0) {
      throw new InputError(label, `none of the ${options.images.length} images is at least ${crop}x${crop} pixels (the crop)`);
    }
    this.images = usable;
    this.skipped = skipped;
    this.crop = crop;
    this.shape = [crop, crop, 3];
    this.flips = options.flips ?? true;
    this.rotations = options.rotations ?? true;
    // The same generator layout as ImageFolderSampler: crops from one fork, the epoch order from another.
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

  /** A batch of crops, float32 [batch, crop, crop, 3] in [-1, 1]; the caller disposes it. */
  async sample(batch: number): Promise<tf.Tensor4D> {
    return tf.tensor4d(this.sampleData(batch), [batch, this.crop, this.crop, 3], 'float32');
  }

  /** The same draw as `sample`, as plain data. */
  sampleData(batch: number): Float32Array {
    if (!Number.isInteger(batch) || batch < 1) throw new RangeError(`batch must be a positive integer, got ${batch}`);
    const c = this.crop;
    const data = new Float32Array(batch * c * c * 3);
    for (let k = 0; k < batch; k++) {
      const { index, ...spec } = this.next();
      writeCrop(this.images[index]!, spec, data, k * c * c * 3);
    }
    return data;
  }

  getState(): ImageArraySamplerState {
    return {
      kind: 'image-array',
      version: 1,
      count: this.images.length,
      rng: this.rng.getState(),
      orderRng: [...this.epochStart],
      epoch: this.epoch,
      pos: this.pos,
    };
  }

  setState(state: unknown): void {
    const s = state as Partial<ImageArraySamplerState> | null;
    if (!s || s.kind !== 'image-array' || s.version !== 1 || !Array.isArray(s.rng) || !Array.isArray(s.orderRng)) {
      throw new OtsrError('image array sampler: unrecognised saved state');
    }
    if (s.count !== this.images.length) {
      throw new OtsrError(`image array sampler: the saved state is for ${s.count} images, this sampler has ${this.images.length}`);
    }
    this.rng.setState(s.rng);
    this.orderRng.setState(s.orderRng);
    this.shuffleEpoch();
    this.epoch = s.epoch ?? 0;
    this.pos = s.pos ?? 0;
  }

  private shuffleEpoch(): void {
    this.epochStart = this.orderRng.getState();
    this.perm = this.orderRng.shuffle(Array.from({ length: this.images.length }, (_, i) => i));
  }

  private next(): CropSpec & { index: number } {
    if (this.pos >= this.perm.length) {
      this.shuffleEpoch();
      this.epoch++;
      this.pos = 0;
    }
    const index = this.perm[this.pos++]!;
    const img = this.images[index]!;
    const c = this.crop;
    const y = this.rng.int(img.height - c + 1);
    const x = this.rng.int(img.width - c + 1);
    const flip = this.flips ? this.rng.int(2) === 1 : false;
    const rot = this.rotations ? this.rng.int(4) : 0;
    return { index, x, y, size: c, rot, flip };
  }
}
