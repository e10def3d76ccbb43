import * as tf from '@tensorflow/tfjs-core';
import { CancelledError, OtsrError } from '../errors.js';
import type { FeatureSet } from './fid.js';
import { FEATURE_DIM, INCEPTION_SIZE, type InceptionFeatureNet } from './inception.js';
import type { RgbImage } from './quality.js';

/**
 * How images become 299x299 Inception inputs:
 * - `dense` (what `otsr eval` uses): 299x299 crops at the image's own resolution on a grid with a step of at most
 *   {@link DENSE_STRIDE} (64) pixels, evenly spaced from edge to edge (ceil((w - 299) / 64) + 1 columns, as many
 *   rows likewise; 768x512: 9 x 5 = 45 crops), one feature vector per crop. Overlapping crops see the same detail
 *   at many positions relative to Inception's strides, and give hundreds of vectors from a handful of images,
 *   which FID's covariances need; they are not independent samples (see docs/evaluation.md).
 * - `crops`: the image covered by a grid of 299x299 crops at its own resolution (ceil(w / 299) x ceil(h / 299)
 *   crops, evenly spaced, overlapping a little where 299 does not divide the size). Super-resolution is about
 *   fine detail, which a downscale to 299 would wash out.
 * - `resize`: the whole image is squeezed to 299x299, one vector per image (the usual FID protocol for whole
 *   scenes; aspect ratio not kept). When shrinking by 2x or more it is first box-filtered by the integer factor,
 *   so that bilinear resampling does not alias (fine noise would otherwise survive the downscale as aliasing).
 * With `dense` and `crops` an image whose short side is under 299 is first enlarged (bilinear) to a short side of
 * 299. In all modes values are divided by 255 (nsfwjs' own preprocessing, [0, 1]) and grey images are replicated
 * to three channels; alpha is ignored.
 */
export type FeatureMode = 'dense' | 'crops' | 'resize';

/** The largest step between neighbouring crops of `dense` mode, in pixels. */
export const DENSE_STRIDE = 64;

export interface FeatureOptions {
  mode?: FeatureMode;
  /** Crops per Inception call (memory ~ batchSize x 60 MB at peak on wasm); default 4. */
  batchSize?: number;
  /** Called after each image with (images done, total). */
  progress?: (done: number, total: number) => void;
  signal?: AbortSignal;
}

/**
 * Offsets of windows of `size` along `length`, evenly spaced from 0 to length - size, as few as keep neighbours at
 * most `step` apart (ceil((length - size) / step) + 1 of them; one at 0 when length <= size).
 */
export function gridOffsets(length: number, size: number, step: number): number[] {
  if (length <= size) return [0];
  const count = Math.ceil((length - size) / step) + 1;
  return Array.from({ length: count }, (_, i) => Math.round((i * (length - size)) / (count - 1)));
}

/** Offsets of the fewest windows of `size` that cover `length` (`crops` mode): ceil(length / size) of them. */
export function coverOffsets(length: number, size: number): number[] {
  return gridOffsets(length, size, size);
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
  if (mode !== 'dense' && mode !== 'crops' && mode !== 'resize') throw new OtsrError(`unknown feature mode '${mode}'`);
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
    const step = mode === 'dense' ? DENSE_STRIDE : S;
    const crops: tf.Tensor4D[] = [];
    for (const y0 of gridOffsets(h, S, step)) for (const x0 of gridOffsets(w, S, step)) crops.push(tf.slice(x, [0, y0, x0, 0], [1, S, S, 3]));
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
