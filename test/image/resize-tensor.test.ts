import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../../src/engine/backend.js';
import { upsampleBicubic, upsamplePhaseTaps } from '../../src/image/resize-tensor.js';
import { resizeBicubic } from '../../src/image/resize.js';
import type { FloatImage } from '../../src/image/io.js';
import { Rng } from '../../src/util/rng.js';
import { maxAbsDiff } from '../helpers/compare.js';
import { reference, referencePattern } from './reference.js';

function randomImage(rng: Rng, width: number, height: number, channels = 3): FloatImage {
  const data = new Float32Array(width * height * channels);
  for (let i = 0; i < data.length; i++) data[i] = rng.next() * 2 - 1;
  return { width, height, channels, data };
}

/** The array definition applied to each image of a batch. */
function definition(images: FloatImage[], scale: number): Float32Array {
  const outs = images.map((im) => resizeBicubic(im, im.width * scale, im.height * scale, { kernel: 'torch' }).data);
  const all = new Float32Array(outs.reduce((n, o) => n + o.length, 0));
  let off = 0;
  for (const o of outs) {
    all.set(o, off);
    off += o.length;
  }
  return all;
}

function batch(images: FloatImage[]): tf.Tensor4D {
  const { width, height, channels } = images[0]!;
  const data = new Float32Array(images.length * width * height * channels);
  images.forEach((im, i) => data.set(im.data, i * im.data.length));
  return tf.tensor4d(data, [images.length, height, width, channels]);
}

test('phase taps: 4 non-zero taps summing to 1, mirror-symmetric across phases', () => {
  for (const s of [2, 3, 4, 8]) {
    const taps = upsamplePhaseTaps(s);
    assert.equal(taps.length, s);
    for (const t of taps) {
      assert.ok(Math.abs(t.reduce((a, b) => a + b, 0) - 1) < 1e-12);
      assert.ok(t.filter((v) => v !== 0).length <= 4);
    }
    for (let p = 0; p < s; p++) {
      const a = taps[p]!;
      const b = [...taps[s - 1 - p]!].reverse();
      for (let k = 0; k < 5; k++) assert.ok(Math.abs(a[k]! - b[k]!) < 1e-12);
    }
  }
  // Scale 2: the well-known PyTorch weights at t = 0.75 / 0.25.
  const [p0] = upsamplePhaseTaps(2);
  assert.deepEqual(p0, [-0.03515625, 0.26171875, 0.87890625, -0.10546875, 0]);
});

for (const backend of ['cpu', 'wasm'] as const) {
  test(`${backend}: matches PyTorch ${reference.torch} F.interpolate(bicubic) numbers for x2, x3, x4`, async () => {
    await initBackend(backend);
    const cases = reference.cases.filter((c) => c.how.scale !== undefined);
    assert.equal(cases.length, 3);
    for (const c of cases) {
      const img = referencePattern(c.inWidth, c.inHeight, c.seed);
      const y = tf.tidy(() => upsampleBicubic(batch([img]), c.how.scale!));
      assert.deepEqual(y.shape, [1, c.height, c.width, 3]);
      const err = maxAbsDiff(y.dataSync(), c.data);
      y.dispose();
      assert.ok(err < 1e-5, `x${c.how.scale}: max error ${err}`);
    }
  });

  test(`${backend}: matches the array definition on batches, odd sizes, 1-pixel images, 1 and 4 channels`, async () => {
    await initBackend(backend);
    const rng = new Rng(7);
    const before = tf.memory().numTensors;
    for (const [s, w, h, c, n] of [
      [2, 5, 3, 3, 2],
      [3, 4, 6, 3, 1],
      [4, 7, 5, 3, 3],
      [8, 3, 2, 3, 1],
      [4, 1, 1, 3, 2],
      [2, 1, 4, 1, 1],
      [3, 6, 1, 4, 2],
    ] as const) {
      const images = Array.from({ length: n }, () => randomImage(rng, w, h, c));
      const x = batch(images);
      const y = upsampleBicubic(x, s);
      assert.deepEqual(y.shape, [n, h * s, w * s, c]);
      const err = maxAbsDiff(y.dataSync(), definition(images, s));
      assert.ok(err < 2e-6, `x${s} ${n}x${h}x${w}x${c}: max error ${err}`);
      tf.dispose([x, y]);
    }
    assert.equal(tf.memory().numTensors, before, 'no tensor leaked');
  });

  test(`${backend}: the gradient is the adjoint (<U x, w> = <x, dU/dx^T w>) and scale 1 is a copy`, async () => {
    await initBackend(backend);
    const rng = new Rng(3);
    const x = batch([randomImage(rng, 5, 4), randomImage(rng, 5, 4)]);
    const wImg = [randomImage(rng, 15, 12), randomImage(rng, 15, 12)];
    const w = batch(wImg);
    const g = tf.grad((v: tf.Tensor) => tf.sum(tf.mul(upsampleBicubic(v as tf.Tensor4D, 3), w)))(x);
    const lhs = tf.tidy(() => tf.sum(tf.mul(upsampleBicubic(x, 3), w)).dataSync()[0]!);
    const rhs = tf.tidy(() => tf.sum(tf.mul(x, g)).dataSync()[0]!);
    assert.ok(Math.abs(lhs - rhs) < 1e-4 * Math.max(1, Math.abs(lhs)), `${lhs} vs ${rhs}`);
    // Every input pixel, checked against the array definition: dL/dx[j] = sum(w * U(e_j)).
    const gFirst = g.dataSync().subarray(0, 5 * 4 * 3);
    const w0 = wImg[0]!.data;
    for (let j = 0; j < 5 * 4 * 3; j++) {
      const e = { width: 5, height: 4, channels: 3, data: new Float32Array(5 * 4 * 3) };
      e.data[j] = 1;
      const u = resizeBicubic(e, 15, 12, { kernel: 'torch' }).data;
      let expected = 0;
      for (let k = 0; k < u.length; k++) expected += u[k]! * w0[k]!;
      assert.ok(Math.abs(gFirst[j]! - expected) < 1e-5, `pixel ${j}: ${gFirst[j]} vs ${expected}`);
    }
    const same = upsampleBicubic(x, 1);
    assert.notEqual(same, x);
    assert.deepEqual(same.dataSync(), x.dataSync());
    tf.dispose([x, w, g, same]);
    assert.throws(() => upsampleBicubic(x, 2.5), RangeError);
  });
}
