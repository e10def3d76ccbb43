import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../../src/engine/backend.js';
import { InputError, UsageError } from '../../src/errors.js';
import type { RgbImage } from '../../src/image/pixels.js';
import { upsampleBicubic } from '../../src/image/resize-tensor.js';
import { loadModelFromFiles } from '../../src/nn/serialize.js';
import { type NamedImages, WebTrainer } from '../../src/web/trainer.js';
import { sharpJpegRoundTrip } from '../../src/image/degrade.js';
import { pattern } from '../helpers/images.js';

const set = (n: number, w: number, h: number, seed: number): NamedImages => ({
  images: Array.from({ length: n }, (_, i): RgbImage => ({ width: w, height: h, data: pattern(w, h, seed + i) })),
  names: Array.from({ length: n }, (_, i) => `img${i}.png`),
});
const lr = set(3, 20, 18, 1);
const hr = set(2, 60, 50, 7);
const options = { scale: 2, crop: 16, batch: 2, kMap: 2, learningRate: 1e-3, seed: 5 };

before(async () => {
  await initBackend('wasm');
});

test('training steps are deterministic, finite, leak nothing, and dispose frees everything', async () => {
  const start = tf.memory().numTensors;
  const a = new WebTrainer(lr, hr, options);
  const b = new WebTrainer(lr, hr, options);
  const counts: number[] = [];
  for (let i = 0; i < 3; i++) {
    const [la, lb] = [await a.step(), await b.step()];
    assert.deepEqual(la, lb);
    assert.ok(Number.isFinite(la.mapLoss) && Number.isFinite(la.potentialLoss) && la.cost >= 0);
    counts.push(tf.memory().numTensors);
  }
  assert.equal(a.stepCount, 3);
  assert.equal(new Set(counts).size, 1, `tensor count changes over steps: ${counts.join(', ')}`);
  const grid = a.previewGrid();
  // 3 preview rows of 18 x 18 LR crops (the smallest LR side) x2, 3 columns LR | bicubic | map, 2-pixel gaps.
  assert.deepEqual(grid.shape, [3 * 36 + 2 * 2, 3 * 36 + 2 * 2, 3]);
  grid.dispose();
  a.dispose();
  b.dispose();
  assert.equal(tf.memory().numTensors, start);
});

test('the exported model folder loads and computes what the trained map computes', async () => {
  const t = new WebTrainer(lr, hr, options);
  await t.step();
  const files = await t.exportModel({ backend: 'wasm' });
  const loaded = await loadModelFromFiles(files, { upsampler: upsampleBicubic });
  assert.equal(loaded.manifest.scale, 2);
  assert.deepEqual(
    { ...(loaded.manifest.training as Record<string, unknown>), potential: undefined },
    { solver: 'ots', steps: 1, crop: 16, batch: 2, kMap: 2, learningRate: 1e-3, costWeight: 100, emaDecay: 0.99, pretrainSteps: 0, pretrainLearningRate: 5e-4, degradation: 'blind', seed: 5, potential: undefined, lrImages: 3, hrImages: 2, trainedIn: 'otsr web page', backend: 'wasm' },
  );
  const copy = t.copyMap();
  const x = tf.randomUniform([1, 9, 7, 3], -1, 1, 'float32', 3);
  const [y0, y1, y2] = [t.map.apply(x), loaded.module.apply(x), copy.apply(x)];
  assert.deepEqual(await y1.data(), await y0.data());
  assert.deepEqual(await y2.data(), await y0.data());
  tf.dispose([x, y0, y1, y2]);
  loaded.module.dispose();
  copy.dispose();
  t.dispose();
});

test('bad settings and unusable images are clear errors', () => {
  const start = tf.memory().numTensors;
  assert.throws(() => new WebTrainer(lr, hr, { ...options, crop: 15 }), (e: unknown) => e instanceof UsageError && /multiple of the scale/.test(e.message));
  assert.throws(() => new WebTrainer(lr, hr, { ...options, crop: 4 }), /LR crops under 4 pixels/);
  assert.throws(() => new WebTrainer(lr, hr, { ...options, learningRate: 0 }), /learning rate/);
  assert.throws(() => new WebTrainer(lr, set(1, 10, 10, 1), options), (e: unknown) => e instanceof InputError && /high-resolution images: none of the 1 images is at least 16x16/.test(e.message));
  assert.equal(tf.memory().numTensors, start, 'a refused configuration allocates nothing');
});

test('pretraining, as otsr train does it: L1 steps on pairs made from the HR images, then OTS measured from the pretrained map', async () => {
  const start = tf.memory().numTensors;
  const big = set(2, 80, 70, 11);
  const pre = { ...options, pretrainSteps: 2, jpeg: sharpJpegRoundTrip };
  const [a, b] = [new WebTrainer(lr, big, pre), new WebTrainer(lr, big, pre)];
  const kinds: string[] = [];
  for (let i = 0; i < 3; i++) {
    assert.equal(a.pretraining, i < 2);
    const [la, lb] = [await a.step(), await b.step()];
    assert.deepEqual(la, lb, 'deterministic, JPEG step included');
    kinds.push(la.paired !== undefined ? 'paired' : 'ots');
    if (la.paired !== undefined) assert.ok(Number.isFinite(la.paired) && la.paired > 0);
  }
  assert.deepEqual(kinds, ['paired', 'paired', 'ots']);
  // The cost now measures from the map as it was after pretraining, not from bicubic.
  const x = tf.randomUniform([1, 8, 8, 3], -1, 1, 'float32', 2) as tf.Tensor4D;
  const ref = tf.tidy(() => a.solver.problem.cost.cost(x, upsampleBicubic(x, 2)));
  assert.ok((await ref.data())[0]! > 0, 'the reference is no longer bicubic');
  tf.dispose([x, ref]);
  a.dispose();
  b.dispose();
  assert.equal(tf.memory().numTensors, start);
  // A degradation that draws JPEG needs a codec; one without JPEG does not.
  assert.throws(() => new WebTrainer(lr, big, { ...options, pretrainSteps: 1 }), /JPEG codec/);
  new WebTrainer(lr, big, { ...options, pretrainSteps: 1, degradation: 'blur=1,noise=2' }).dispose();
  assert.throws(() => new WebTrainer(lr, big, { ...options, pretrainSteps: 1, degradation: 'jpeg=200' }), /jpeg=QUALITY/);
  assert.throws(() => new WebTrainer(lr, set(2, 20, 20, 1), { ...pre }), /pretraining pairs/);
});
