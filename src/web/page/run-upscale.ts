/**
 * The page's upscale: 8-bit image in, 8-bit image out, with progress and cancel.
 *
 * TEMPORARY: runs the whole image through the model at once. To be replaced by src/upscale/tiles.ts's
 * `upscale` (memory bounded by the tile, blended overlaps) as soon as it is on main.
 */
import * as tf from '@tensorflow/tfjs-core';
import { CancelledError } from '../../errors.js';
import { fromFloat, type RgbImage, toFloat } from '../../image/pixels.js';
import { type PageModel, forward } from './models.js';

export interface RunUpscaleOptions {
  tile?: number;
  overlap?: number;
  /** Fraction done, 0..1. */
  progress?: (fraction: number) => void;
  signal?: AbortSignal;
}

export async function runUpscale(img: RgbImage, model: PageModel, options: RunUpscaleOptions = {}): Promise<RgbImage> {
  if (options.signal?.aborted) throw new CancelledError();
  options.progress?.(0);
  const f = toFloat(img);
  const y = tf.tidy(() => forward(model, tf.tensor4d(f.data, [1, img.height, img.width, 3])));
  try {
    const data = (await y.data()) as Float32Array;
    if (options.signal?.aborted) throw new CancelledError();
    options.progress?.(1);
    return fromFloat({ width: y.shape[2], height: y.shape[1], channels: 3, data });
  } finally {
    y.dispose();
  }
}
