import * as tf from '@tensorflow/tfjs-core';
import { upsampleBicubic } from '../image/resize-tensor.js';

/**
 * A sample grid as one image tensor (browser-safe; samples.ts writes it to a file in Node, the web page
 * draws it): one row per LR image, columns LR (pixel-replicated to the HR size) | bicubic | the map's
 * output | HR (when known), white gaps between them, values clipped to [-1, 1].
 * `lr` is [B, h, w, 3] in [-1, 1]; `hr`, if given, [B, h·s, w·s, 3]. Returns [rows, width, 3]; the caller
 * disposes it.
 */
export function sampleGridTensor(
  lr: tf.Tensor4D,
  scale: number,
  map: (x: tf.Tensor4D) => tf.Tensor4D,
  hr?: tf.Tensor4D,
): tf.Tensor3D {
  return tf.tidy(() => {
    const [, h, w] = lr.shape;
    const size: [number, number] = [h * scale, w * scale];
    const columns: tf.Tensor4D[] = [
      tf.image.resizeNearestNeighbor(lr, size),
      upsampleBicubic(lr, scale),
      map(lr),
      ...(hr ? [hr] : []),
    ];
    const gap = 2;
    const spacer = tf.fill([lr.shape[0], size[0], gap, 3], 1) as tf.Tensor4D;
    const row = tf.concat(columns.flatMap((c, i) => (i === 0 ? [c] : [spacer, c])), 2);
    // Stack the batch vertically with white gaps: [B, H, W', 3] -> [B·(H+gap) - gap, W', 3].
    const hgap = tf.fill([row.shape[0], gap, row.shape[2], 3], 1);
    const padded = tf.concat([row, hgap], 1);
    const [b, h2, w2] = padded.shape as [number, number, number, number];
    const stacked = tf.reshape(padded, [b * h2, w2, 3]);
    return tf.clipByValue(tf.slice(stacked, [0, 0, 0], [b * h2 - gap, -1, -1]), -1, 1) as tf.Tensor3D;
  });
}
