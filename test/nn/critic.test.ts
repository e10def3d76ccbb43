import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { UsageError } from '../../src/errors.js';
import { Critic } from '../../src/nn/critic.js';
import { initBackend } from '../../src/engine/backend.js';

/** Parameters of one residual block, counted by hand from the reference architecture. */
function blockParams(fin: number, fout: number): number {
  const h = Math.min(fin, fout);
  return 9 * fin * h + h + 9 * h * fout + fout + (fin !== fout ? fin * fout : 0);
}

test('Critic maps [B, size, size, 3] to [B] with the reference layout of blocks', async () => {
  await initBackend('cpu');
  // size 16: log2(16/4) = 2 downsamplings (16 -> 8 -> 4); widths 4 -> 8 -> 16, capped at 16.
  const m = new Critic({ size: 16, nFeats: 4, maxFeats: 16, seed: 1 });
  const expected =
    (27 * 4 + 4) +
    blockParams(4, 4) + blockParams(4, 8) +
    blockParams(8, 8) + blockParams(8, 16) +
    blockParams(16, 16) + blockParams(16, 16) +
    (4 * 4 * 16 + 1);
  assert.equal(m.parameterCount(), expected);
  const x = tf.randomUniform([3, 16, 16, 3], -1, 1, 'float32', 1);
  const y = m.apply(x);
  assert.deepEqual(y.shape, [3]);
  assert.ok((await y.data()).every(Number.isFinite));
  assert.deepEqual(m.spec, { kind: 'critic', size: 16, nFeats: 4, maxFeats: 16, resRatio: 0.1 });
  assert.throws(() => m.apply(tf.zeros([1, 8, 8, 3])), /expected \[B, 16, 16, 3\]/);
  tf.dispose([x, y]);
  m.dispose();
});

test('Critic sizes its head by the real final side when size is not 4·2^k', async () => {
  await initBackend('cpu');
  // 24: floor(log2 6) = 2 downsamplings (24 -> 12 -> 6), final width 2·2³ = 16.
  const m = new Critic({ size: 24, nFeats: 2, maxFeats: 64, seed: 2 });
  assert.equal(m.params.get('fc.w')!.shape[0], 6 * 6 * 16);
  const y = m.apply(tf.zeros([2, 24, 24, 3]));
  assert.deepEqual(y.shape, [2]);
  y.dispose();
  m.dispose();
  assert.throws(() => new Critic({ size: 16, nFeats: 8, maxFeats: 4 }), UsageError);
  assert.throws(() => new Critic({ size: 3 }), UsageError);
});

test('Critic is deterministic in its seed', async () => {
  await initBackend('cpu');
  const [a, b, c] = [1, 1, 2].map((seed) => new Critic({ size: 8, nFeats: 4, maxFeats: 8, seed }));
  const x = tf.randomUniform([2, 8, 8, 3], -1, 1, 'float32', 3);
  const [ya, yb, yc] = [a!, b!, c!].map((m) => m.apply(x));
  assert.deepEqual(await ya!.data(), await yb!.data());
  assert.notDeepEqual(await ya!.data(), await yc!.data());
  tf.dispose([x, ya!, yb!, yc!]);
  [a!, b!, c!].forEach((m) => m.dispose());
});

test("Critic's input gradient (for gradient penalties) matches finite differences", async () => {
  await initBackend('cpu');
  const m = new Critic({ size: 8, nFeats: 4, maxFeats: 8, seed: 4 });
  const x = tf.randomUniform([2, 8, 8, 3], -1, 1, 'float32', 5);
  const v = tf.randomNormal(x.shape, 0, 1, 'float32', 6);
  const f = (t: tf.Tensor) => tf.sum(m.apply(t));
  const g = tf.grad(f)(x);
  assert.deepEqual(g.shape, x.shape);
  const analytic = tf.tidy(() => tf.sum(tf.mul(g, v)).dataSync()[0]!);
  const eps = 1e-2;
  const numeric = tf.tidy(() => {
    const plus = f(tf.add(x, tf.mul(v, eps))).dataSync()[0]!;
    const minus = f(tf.sub(x, tf.mul(v, eps))).dataSync()[0]!;
    return (plus - minus) / (2 * eps);
  });
  assert.ok(Math.abs(analytic) > 1e-4, `gradient vanished: ${analytic}`);
  assert.ok(Math.abs(analytic - numeric) < 2e-2 * Math.abs(analytic) + 1e-4, `grad·v ${analytic} vs finite difference ${numeric}`);
  // Per-sample gradient norms, as a WGAN-GP penalty needs them.
  const norms = tf.tidy(() => tf.sqrt(tf.sum(tf.square(g), [1, 2, 3])));
  assert.deepEqual(norms.shape, [2]);
  tf.dispose([x, v, g, norms]);
  m.dispose();
});

test('Critic trains: every parameter gets a gradient and Adam separates two distributions', async () => {
  await initBackend('cpu');
  const m = new Critic({ size: 8, nFeats: 4, maxFeats: 8, seed: 7 });
  const real = tf.randomUniform([4, 8, 8, 3], 0, 1, 'float32', 8);
  const fake = tf.randomUniform([4, 8, 8, 3], -1, 0, 'float32', 9);
  // Maximise E f(real) - E f(fake): the WGAN critic objective without a penalty.
  const loss = () => tf.sub(tf.mean(m.apply(fake)), tf.mean(m.apply(real))) as tf.Scalar;
  const x = tf.concat([real, fake]);
  const { grads, value } = tf.variableGrads(() => tf.sum(m.apply(x)) as tf.Scalar, m.trainableVariables());
  for (const [name, v] of m.params) {
    const norm = tf.tidy(() => tf.norm(grads[v.name]!).dataSync()[0]!);
    assert.ok(norm > 0, `no gradient for ${name}`);
  }
  tf.dispose([x, value, ...Object.values(grads)]);
  const opt = tf.train.adam(1e-3);
  const first = tf.tidy(() => loss().dataSync()[0]!);
  for (let i = 0; i < 10; i++) tf.dispose(opt.minimize(loss, true, m.trainableVariables())!);
  const last = tf.tidy(() => loss().dataSync()[0]!);
  assert.ok(last < first - 0.1, `critic loss ${first} -> ${last}`);
  opt.dispose();
  tf.dispose([real, fake]);
  m.dispose();
});

test('Critic supports double backprop (WGAN-GP penalty gradient w.r.t. the weights)', async () => {
  await initBackend('cpu');
  const m = new Critic({ size: 8, nFeats: 4, maxFeats: 8, seed: 10 });
  const x = tf.randomUniform([2, 8, 8, 3], -1, 1, 'float32', 11);
  const penalty = () =>
    tf.tidy(() => {
      const g = tf.grad((t: tf.Tensor) => tf.sum(m.apply(t)))(x);
      const norms = tf.sqrt(tf.sum(tf.square(g), [1, 2, 3]));
      return tf.mean(tf.square(tf.sub(norms, 1))) as tf.Scalar;
    });
  const { grads, value } = tf.variableGrads(penalty, m.trainableVariables());
  const total = tf.tidy(() => tf.addN(Object.values(grads).map((g) => tf.sum(tf.abs(g)))).dataSync()[0]!);
  assert.ok(Number.isFinite(total) && total > 0);
  tf.dispose([x, value, ...Object.values(grads)]);
  m.dispose();
});

test('a highpass Critic ignores colour offsets, sees detail, and supports the penalty gradient on wasm', async () => {
  await initBackend('wasm');
  assert.throws(() => new Critic({ size: 8, highpass: -1 }), UsageError);
  const m = new Critic({ size: 16, nFeats: 4, maxFeats: 8, highpass: 1.5, seed: 12 });
  assert.equal(m.spec.highpass, 1.5);
  const x = tf.randomUniform([2, 16, 16, 3], -1, 1, 'float32', 13);
  const shifted = tf.add(x, tf.tensor1d([0.3, -0.2, 0.1]));
  const sharper = tf.mul(x, 1.5);
  const [fx, fShift, fSharp] = [m.apply(x), m.apply(shifted), m.apply(sharper)].map((t) => t.arraySync() as number[]);
  for (let i = 0; i < 2; i++) {
    assert.ok(Math.abs(fx![i]! - fShift![i]!) < 1e-4, `a colour shift changed f: ${fx![i]} vs ${fShift![i]}`);
    assert.ok(Math.abs(fx![i]! - fSharp![i]!) > 1e-4, `more contrast in the detail left f unchanged: ${fx![i]}`);
  }
  const penalty = () =>
    tf.tidy(() => {
      const g = tf.grad((t: tf.Tensor) => tf.sum(m.apply(t)))(x);
      return tf.mean(tf.square(tf.sub(tf.sqrt(tf.sum(tf.square(g), [1, 2, 3])), 1))) as tf.Scalar;
    });
  const before = tf.memory().numTensors;
  const { grads, value } = tf.variableGrads(penalty, m.trainableVariables());
  const total = tf.tidy(() => tf.addN(Object.values(grads).map((g) => tf.sum(tf.abs(g)))).dataSync()[0]!);
  assert.ok(Number.isFinite(total) && total > 0, `penalty gradient ${total}`);
  tf.dispose([value, ...Object.values(grads)]);
  assert.equal(tf.memory().numTensors, before, 'the penalty step leaked tensors');
  tf.dispose([x, shifted, sharper]);
  const held = tf.memory().numTensors;
  m.dispose();
  assert.ok(tf.memory().numTensors < held, 'dispose freed nothing');
});
