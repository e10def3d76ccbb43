import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { UsageError } from '../../src/errors.js';
import { Unet, padBottomRight } from '../../src/nn/unet.js';
import { initBackend } from '../../src/engine/backend.js';

test('Unet keeps the resolution for any input size and has the declared parameter count', async () => {
  await initBackend('cpu');
  const base = 4, depth = 2;
  const m = new Unet({ inChannels: 3, outChannels: 2, base, depth, seed: 1 });
  const conv = (k: number, cin: number, cout: number) => k * k * cin * cout + cout;
  const w = (l: number) => base * 2 ** l;
  let expected = conv(3, 3, w(0)) + conv(3, w(0), w(0));
  for (let l = 1; l <= depth; l++) expected += conv(3, w(l - 1), w(l)) + conv(3, w(l), w(l));
  for (let l = 0; l < depth; l++) expected += conv(3, w(l + 1), 4 * w(l)) + conv(3, 2 * w(l), w(l)) + conv(3, w(l), w(l));
  expected += conv(1, base, 2);
  assert.equal(m.parameterCount(), expected);
  for (const [h, wd] of [[16, 16], [13, 10], [3, 5]]) {
    const x = tf.randomUniform([2, h!, wd!, 3], -1, 1, 'float32', 2);
    const y = m.apply(x);
    assert.deepEqual(y.shape, [2, h, wd, 2]);
    assert.ok((await y.data()).every(Number.isFinite));
    tf.dispose([x, y]);
  }
  assert.deepEqual(m.spec, { kind: 'unet', inChannels: 3, outChannels: 2, base, depth, residual: false });
  m.dispose();
  assert.throws(() => new Unet({ inChannels: 3, outChannels: 1, base: 4, depth: 1, residual: true }), UsageError);
  assert.throws(() => new Unet({ inChannels: 3, outChannels: 3, base: 0, depth: 1 }), UsageError);
});

test('Unet is deterministic in its seed; a residual Unet starts near the identity', async () => {
  await initBackend('cpu');
  const opts = { inChannels: 3, outChannels: 3, base: 4, depth: 1, residual: true };
  const [a, b, c] = [3, 3, 4].map((seed) => new Unet({ ...opts, seed }));
  const x = tf.randomUniform([1, 8, 8, 3], -1, 1, 'float32', 3);
  const [ya, yb, yc] = [a!, b!, c!].map((m) => m.apply(x));
  assert.deepEqual(await ya!.data(), await yb!.data());
  assert.notDeepEqual(await ya!.data(), await yc!.data());
  const gap = tf.tidy(() => tf.mean(tf.abs(tf.sub(ya!, x))).dataSync()[0]!);
  assert.ok(gap < 0.1, `mean |T(x) - x| = ${gap}`);
  tf.dispose([x, ya!, yb!, yc!]);
  [a!, b!, c!].forEach((m) => m.dispose());
});

test('Unet trains: an L2 loss drops over a few Adam steps and no tensor leaks', async () => {
  await initBackend('cpu');
  // One channel so that base 4 is wide enough to represent x -> -x through the ReLUs.
  const m = new Unet({ inChannels: 1, outChannels: 1, base: 4, depth: 2, seed: 5 });
  const x = tf.randomUniform([2, 8, 8, 1], -1, 1, 'float32', 6);
  const target = tf.tidy(() => tf.neg(x)); // a map the network must learn, not the identity
  const opt = tf.train.adam(1e-2);
  const loss = () => tf.mean(tf.square(tf.sub(m.apply(x), target))) as tf.Scalar;
  const losses: number[] = [];
  let before = 0;
  for (let step = 0; step < 20; step++) {
    const l = opt.minimize(loss, true, m.trainableVariables())!;
    losses.push(l.dataSync()[0]!);
    l.dispose();
    if (step === 2) before = tf.memory().numTensors;
  }
  assert.equal(tf.memory().numTensors, before, 'tensors leaked per step');
  assert.ok(losses[19]! < 0.4 * losses[0]!, `loss ${losses[0]} -> ${losses[19]}`);
  opt.dispose();
  tf.dispose([x, target]);
  m.dispose();
});

test('the edge padding of odd sizes is symmetric reflection with exact gradients', async () => {
  await initBackend('cpu');
  const x = tf.randomUniform([2, 5, 6, 3], -1, 1, 'float32', 7) as tf.Tensor4D;
  const y = padBottomRight(x, 3, 2);
  const ref = tf.mirrorPad(x, [[0, 0], [0, 3], [0, 2], [0, 0]], 'symmetric');
  assert.deepEqual(await y.data(), await ref.data());
  // The op is linear, so central differences are exact up to rounding (tf.mirrorPad's gradient is not).
  const w = tf.randomNormal(y.shape, 0, 1, 'float32', 8);
  const v = tf.randomNormal(x.shape, 0, 1, 'float32', 9);
  const f = (t: tf.Tensor) => tf.sum(tf.mul(padBottomRight(t as tf.Tensor4D, 3, 2), w));
  const g = tf.grad(f)(x);
  const analytic = tf.tidy(() => tf.sum(tf.mul(g, v)).dataSync()[0]!);
  const numeric = tf.tidy(() => (f(tf.add(x, v)).dataSync()[0]! - f(tf.sub(x, v)).dataSync()[0]!) / 2);
  assert.ok(Math.abs(analytic - numeric) < 1e-3 * Math.abs(numeric), `${analytic} vs ${numeric}`);
  tf.dispose([x, y, ref, w, v, g]);
});
