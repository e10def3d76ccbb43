import * as tf from '@tensorflow/tfjs-core';
import { tensorToImage, writeImage } from '../image/io.js';
import { sampleGridTensor } from './sample-grid.js';

/**
 * A sample grid for a training run: one row per LR image, columns LR (pixel-replicated to the HR size) |
 * bicubic | the map's output | HR (when known, e.g. a paired validation crop).
 * `lr` is [B, h, w, 3] in [-1, 1]; `hr`, if given, [B, h·s, w·s, 3].
 */
export async function writeSampleGrid(
  file: string,
  lr: tf.Tensor4D,
  scale: number,
  map: (x: tf.Tensor4D) => tf.Tensor4D,
  hr?: tf.Tensor4D,
): Promise<void> {
  const grid = sampleGridTensor(lr, scale, map, hr);
  try {
    await writeImage(file, await tensorToImage(grid));
  } finally {
    grid.dispose();
  }
}
