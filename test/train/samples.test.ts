import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../../src/engine/backend.js';
import { readImage } from '../../src/image/io.js';
import { writeSampleGrid } from '../../src/train/samples.js';

test('the sample grid has one row per image and LR | bicubic | map | HR columns', async () => {
  await initBackend('cpu');
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'otsr-grid-'));
  const file = path.join(dir, 'grid.png');
  const lr = tf.randomUniform([2, 6, 5, 3], -1, 1, 'float32', 3) as tf.Tensor4D;
  const hr = tf.fill([2, 24, 20, 3], -1) as tf.Tensor4D; // black HR column
  const before = tf.memory().numTensors;
  await writeSampleGrid(file, lr, 4, (x) => tf.image.resizeBilinear(x, [24, 20]), hr);
  assert.equal(tf.memory().numTensors, before);
  const img = await readImage(file);
  assert.equal(img.width, 4 * 20 + 3 * 2);
  assert.equal(img.height, 2 * 24 + 2);
  // The HR column of the first row is black; the gaps are white.
  const px = (x: number, y: number) => Array.from(img.data.subarray((y * img.width + x) * 3, (y * img.width + x) * 3 + 3));
  assert.deepEqual(px(img.width - 1, 0), [0, 0, 0]);
  assert.deepEqual(px(20, 0), [255, 255, 255]);
  assert.deepEqual(px(0, 24), [255, 255, 255]);
  tf.dispose([lr, hr]);
});
