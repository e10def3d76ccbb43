/**
 * `ImageArraySampler`: random square crops from images already decoded in memory, as a `Sampler` for the
 * OT solvers. Browser-safe (no sharp, no node:): the web page decodes the photos a person drops with the
 * browser's own decoder and trains on them with this.
 *
 * It draws exactly as `ImageFolderSampler` does (the shared `CropSampler`: same seeded epoch order, crop
 * positions, flips and turns), so the same images in the same order with the same seed give the same batches
 * in Node and in a page.
 */
import type * as tf from '@tensorflow/tfjs-core';
import { InputError, OtsrError } from '../errors.js';
import type { RgbImage } from '../image/pixels.js';
import { type CropDrawState, CropSampler, type CropSamplerOptions, checkCrop } from './crop-sampler.js';

export interface ImageArraySamplerOptions extends CropSamplerOptions {
  /** The decoded images (8-bit RGB; alpha is ignored). */
  images: readonly RgbImage[];
  /** Their names, for messages (default image 1, image 2, ...). */
  names?: readonly string[];
  /** What the images are, for messages (e.g. 'low-resolution images'). */
  label?: string;
}

/** Serializable sampler state (JSON). */
export interface ImageArraySamplerState extends CropDrawState {
  readonly kind: 'image-array';
  readonly version: 1;
  /** Number of usable images, so that resuming on another set is caught. */
  readonly count: number;
}

export class ImageArraySampler extends CropSampler {
  /** The usable images (at least crop x crop), in the order given. */
  readonly images: readonly RgbImage[];
  /** Names of the images left out because they are smaller than the crop. */
  readonly skipped: readonly string[];

  /**
   * @throws UsageError for a bad crop; InputError when no image is at least crop x crop pixels.
   */
  constructor(options: ImageArraySamplerOptions) {
    const { crop } = options;
    checkCrop(crop);
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
    super(usable, options);
    this.images = usable;
    this.skipped = skipped;
  }

  /** A batch of crops, float32 [batch, crop, crop, 3] in [-1, 1]; the caller disposes it. */
  async sample(batch: number): Promise<tf.Tensor4D> {
    return this.toTensor(this.sampleData(batch), batch);
  }

  /** The same draw as `sample`, as plain data. */
  sampleData(batch: number): Float32Array {
    return this.cutCrops(this.planCrops(batch), (i) => this.images[i]!);
  }

  getState(): ImageArraySamplerState {
    return { kind: 'image-array', version: 1, count: this.images.length, ...this.drawState() };
  }

  setState(state: unknown): void {
    const s = this.parseState<ImageArraySamplerState>(state, 'image-array', 'image array sampler');
    if (s.count !== this.images.length) {
      throw new OtsrError(`image array sampler: the saved state is for ${s.count} images, this sampler has ${this.images.length}`);
    }
    this.restoreDrawState(s);
  }
}
