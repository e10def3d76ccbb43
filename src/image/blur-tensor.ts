import * as tf from '@tensorflow/tfjs-core';
import { gaussianKernel } from './degrade-float.js';

/**
 * Separable Gaussian blur of a [b, h, w, c] tensor, borders reflected with the edge sample repeated (as
 * {@link gaussianBlur} in degrade.ts, scipy.ndimage's 'reflect'), with the same taps (radius ceil(4 sigma)).
 * Sides must exceed the radius. Node only (degrade.ts reads files with sharp).
 */
export function gaussianBlurTensor(x: tf.Tensor4D, sigma: number): tf.Tensor4D {
  if (!(sigma > 0)) return tf.clone(x);
  const k = Float32Array.from(gaussianKernel(sigma));
  const r = (k.length - 1) / 2;
  const c = x.shape[3];
  return tf.tidy(() => {
    const padded = tf.mirrorPad(x, [[0, 0], [r, r], [r, r], [0, 0]], 'symmetric');
    // One depthwise filter per channel, first along rows, then along columns.
    const taps = tf.tile(tf.tensor4d(k, [k.length, 1, 1, 1]), [1, 1, c, 1]) as tf.Tensor4D;
    const rows = tf.depthwiseConv2d(padded, taps, 1, 'valid');
    return tf.depthwiseConv2d(rows, tf.reshape(taps, [1, k.length, c, 1]) as tf.Tensor4D, 1, 'valid');
  });
}
