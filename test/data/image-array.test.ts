import assert from 'node:assert/strict';
import * as path from 'node:path';
import { before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { InputError, OtsrError, UsageError } from '../../src/errors.js';
import { ImageArraySampler } from '../../src/data/image-array.js';
import { ImageFolderSampler } from '../../src/data/image-folder.js';
import { readImage } from '../../src/image/io.js';
import type { RgbImage } from '../../src/image/pixels.js';
import { unpairedX4 } from '../helpers/data.js';
import { pattern } from '../helpers/images.js';

const LR = path.join(unpairedX4, 'train', 'lr');
const img = (w: number, h: number, seed = 0): RgbImage => ({ width: w, height: h, data: pattern(w, h, seed) });

before(async () => {
  await tf.setBackend('cpu');
});

test('draws the same batches as ImageFolderSampler for the same images, order and seed', async () => {
  const folder = await ImageFolderSampler.open({ folders: LR, crop: 20, seed: 5, prefetch: false, onWarning: () => undefined });
  const images = await Promise.all(folder.files.map((f) => readImage(f.path)));
  const array = new ImageArraySampler({ images, crop: 20, seed: 5 });
  // Three batches of 9 cross an epoch boundary (21 images).
  for (let b = 0; b < 3; b++) {
    const { data } = await folder.sampleData(9);
    assert.deepEqual(array.sampleData(9), data, `batch ${b}`);
  }
  assert.equal(array.epochs, 1);
});

test('sample() gives a [batch, crop, crop, 3] tensor in [-1, 1]; state round-trips exactly', async () => {
  const s = new ImageArraySampler({ images: [img(40, 30, 1), img(33, 50, 2)], crop: 16, seed: 3 });
  assert.deepEqual(s.shape, [16, 16, 3]);
  const t = await s.sample(5);
  assert.deepEqual(t.shape, [5, 16, 16, 3]);
  const v = await t.data();
  t.dispose();
  assert.ok(Math.min(...v) >= -1 && Math.max(...v) <= 1);
  const state = JSON.parse(JSON.stringify(s.getState()));
  const next = s.sampleData(7);
  const other = new ImageArraySampler({ images: [img(40, 30, 1), img(33, 50, 2)], crop: 16, seed: 99 });
  other.setState(state);
  assert.deepEqual(other.sampleData(7), next);
});

test('images smaller than the crop are skipped; clear errors otherwise', () => {
  const s = new ImageArraySampler({ images: [img(10, 10), img(20, 20)], names: ['tiny.png', 'ok.png'], crop: 16, seed: 1 });
  assert.deepEqual(s.skipped, ['tiny.png']);
  assert.equal(s.images.length, 1);
  assert.throws(() => new ImageArraySampler({ images: [img(10, 10)], crop: 16, seed: 1, label: 'HR images' }), (e: unknown) => e instanceof InputError && /HR images: none of the 1 images is at least 16x16/.test(e.message));
  assert.throws(() => new ImageArraySampler({ images: [], crop: 16, seed: 1 }), InputError);
  assert.throws(() => new ImageArraySampler({ images: [img(20, 20)], crop: 0, seed: 1 }), UsageError);
  assert.throws(() => s.setState({ kind: 'image-folder' }), OtsrError);
  const two = new ImageArraySampler({ images: [img(20, 20), img(20, 20)], crop: 16, seed: 1 });
  assert.throws(() => s.setState(two.getState()), /saved state is for 2 images/);
});
