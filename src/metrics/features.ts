import * as tf from '@tensorflow/tfjs-core';
import { CancelledError, OtsrError } from '../errors.js';
import type { FeatureSet } from './fid.js';
import { FEATURE_DIM, INCEPTION_SIZE, type InceptionFeatureNet } from './inception.js';
import type { RgbImage } from './quality.js';

/**
 * How images become 299x299 Inception inputs:
 * - `crops` (default): the image is covered by a grid of 299x299 crops at its own resolution (ceil(w / 299) x
 *   ceil(h / 299) crops, evenly spaced, overlapping a little where 299 does not divide the size), one feature
 *   vector per crop. Super-resolution is about fine detail, which a downscale to 299 would wash out; crops also
 *   give several samples per image, which small validation sets need. An image whose short side is under 299
 *   is first enlarged (bilinear) to a short side of 299.
 * - `resize`: the whole image is squeezed to 299x299, one vector per image (the usual FID protocol for whole
 *   scenes; aspect ratio not kept). When shrinking by 2x or more it is first box-filtered by the integer factor,
 *   so that bilinear resampling does not alias (fine noise would otherwise survive the downscale as aliasing).
 * In both cases values are divided by 255 (nsfwjs' own preprocessing, [0, 1]) and grey images are replicated to
 * three channels; alpha is ignored.
 */
export type FeatureMode = 'crops' | 'resize';

export interface FeatureOptions {
  mode?: FeatureMode;
  /** Crops per Inception call (memory ~ batchSize x 60 MB at peak on wasm); default 4. */
  batchSize?: number;
  /** Called after each image with (images done, total). */
  progress?: (done: number, total: number) => void;
  signal?: AbortSignal;
}

/** Offsets of `count` windows of `size` evenly covering `length` (first at 0, last at length - size). */
export function coverOffsets(length: number, size: number): number[] {
  if (length <= size) return [0];
  const count = Math.ceil(length / size);
  return Array.from({ length: count }, (_, i) => Math.round((i * (length - size)) / (count - 1)));
}

/** The image as a [1, h, w, 3] float tensor in [0, 1] (grey replicated to RGB, alpha dropped). */
export function unitRgbTensor(image: RgbImage): tf.Tensor4D {
  const { width, height, channels, data } = image;
  if (data.length !== width * height * channels || channels < 1) {
    throw new OtsrError(`image data has ${data.length} values, not ${width}x${height}x${channels}`);
  }
  const out = new Float32Array(width * height * 3);
  const grey = channels < 3;
  for (let p = 0, q = 0; p < width * height; p++, q += channels) {
    out[p * 3] = data[q]! / 255;
    out[p * 3 + 1] = data[grey ? q : q + 1]! / 255;
    out[p * 3 + 2] = data[grey ? q : q + 2]! / 255;
  }
  return tf.tensor4d(out, [1, height, width, 3]);
}

/** The Inception inputs of one image under `mode`: [k, 299, 299, 3]. */
export function inceptionInputs(image: RgbImage, mode: FeatureMode = 'crops'): tf.Tensor4D {
  const S = INCEPTION_SIZE;
  return tf.tidy(() => {
    let x = unitRgbTensor(image);
    let [h, w] = [image.height, image.width];
    if (mode === 'resize') {
      const fh = Math.floor(h / S), fw = Math.floor(w / S);
      if (fh >= 2 || fw >= 2) x = tf.avgPool(x, [Math.max(fh, 1), Math.max(fw, 1)], [Math.max(fh, 1), Math.max(fw, 1)], 'valid');
      return tf.image.resizeBilinear(x, [S, S], false, true);
    }
    if (Math.min(h, w) < S) {
      const f = S / Math.min(h, w);
      [h, w] = [Math.max(S, Math.round(h * f)), Math.max(S, Math.round(w * f))];
      x = tf.image.resizeBilinear(x, [h, w], false, true);
    }
    const crops: tf.Tensor4D[] = [];
    for (const y0 of coverOffsets(h, S)) for (const x0 of coverOffsets(w, S)) crops.push(tf.slice(x, [0, y0, x0, 0], [1, S, S, 3]));
    return crops.length === 1 ? crops[0]! : tf.concat(crops, 0);
  });
}

/**
 * Inception feature vectors of one image: one row per crop (or one for `resize`), as a row-major
 * [rows x 2048] Float32Array.
 */
export async function imageFeatures(
  net: InceptionFeatureNet,
  image: RgbImage,
  options: Pick<FeatureOptions, 'mode' | 'batchSize' | 'signal'> = {},
): Promise<{ rows: number; data: Float32Array }> {
  const batchSize = options.batchSize ?? 4;
  const inputs = inceptionInputs(image, options.mode ?? 'crops');
  try {
    const rows = inputs.shape[0];
    const data = new Float32Array(rows * FEATURE_DIM);
    for (let start = 0; start < rows; start += batchSize) {
      if (options.signal?.aborted) throw new CancelledError();
      const size = Math.min(batchSize, rows - start);
      const batch = rows === size ? inputs : tf.slice(inputs, [start, 0, 0, 0], [size, -1, -1, -1]);
      const f = net.embed(batch);
      if (batch !== inputs) batch.dispose();
      try {
        data.set(await f.data(), start * FEATURE_DIM);
      } finally {
        f.dispose();
      }
    }
    return { rows, data };
  } finally {
    inputs.dispose();
  }
}

/**
 * Inception features of a set of images (see {@link FeatureMode}), ready for FID/KID. For very large sets call
 * {@link imageFeatures} per image instead, loading one image at a time.
 */
export async function inceptionFeatures(
  net: InceptionFeatureNet,
  images: readonly RgbImage[],
  options: FeatureOptions = {},
): Promise<FeatureSet> {
  const parts: Float32Array[] = [];
  for (let i = 0; i < images.length; i++) {
    if (options.signal?.aborted) throw new CancelledError();
    parts.push((await imageFeatures(net, images[i]!, options)).data);
    options.progress?.(i + 1, images.length);
  }
  return concatFeatures(parts);
}

/** One feature set from per-image blocks of FEATURE_DIM-long rows (e.g. {@link imageFeatures}' `data`). */
export function concatFeatures(parts: readonly Float32Array[]): FeatureSet {
  const n = parts.reduce((s, p) => s + p.length, 0) / FEATURE_DIM;
  const data = new Float32Array(n * FEATURE_DIM);
  let offset = 0;
  for (const p of parts) {
    data.set(p, offset);
    offset += p.length;
  }
  return { n, dim: FEATURE_DIM, data };
}
