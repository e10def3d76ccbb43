import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../../src/engine/backend.js';
import { Mlp } from '../../src/nn/mlp.js';
import { PAIRED_UPDATES_PER_STEP, pairedObjective, potentialObjective, potentialOf, pretrainRate } from '../../src/ot/objectives.js';

test('pretrainRate: constant stays; cosine falls from the rate to 0 over the pretraining updates and stays at 0', () => {
  assert.equal(pretrainRate(5e-4, 'constant', 1234, 10), 5e-4);
  const total = 10 * PAIRED_UPDATES_PER_STEP;
  assert.equal(pretrainRate(5e-4, 'cosine', 0, 10), 5e-4);
  assert.ok(Math.abs(pretrainRate(5e-4, 'cosine', total / 2, 10) - 2.5e-4) < 1e-15);
  assert.ok(Math.abs(pretrainRate(5e-4, 'cosine', total, 10)) < 1e-15);
  assert.ok(Math.abs(pretrainRate(5e-4, 'cosine', total + 50, 10)) < 1e-15);
  let last = Infinity;
  for (let u = 0; u <= total; u++) {
    const r = pretrainRate(1, 'cosine', u, 10);
    assert.ok(r <= last, `update ${u}`);
    last = r;
  }
});

test('pairedObjective is the mean absolute error of the map; potentialOf flattens and checks one value per sample', async () => {
  await initBackend('cpu');
  const map = new Mlp({ inDim: 2, hidden: [], outDim: 2, seed: 1 });
  const x = tf.tensor2d([[1, 2], [3, -1]]);
  const y = tf.tensor2d([[0, 0], [1, 1]]);
  const tx = map.apply(x);
  const want = tf.tidy(() => tf.mean(tf.abs(tf.sub(tx, y))).dataSync()[0]!);
  assert.equal(tf.tidy(() => pairedObjective(map, x, y).dataSync()[0]!), want);
  const f = new Mlp({ inDim: 2, hidden: [], outDim: 1, seed: 2 });
  const v = potentialOf(f, x);
  assert.deepEqual(v.shape, [2]);
  assert.throws(() => potentialOf(map, x), /one value per sample/);
  tf.dispose([x, y, tx, v]);
  map.dispose();
  f.dispose();
});

test('potentialObjective: the dual gap, plus γ/2·E|∇f(y)|² at the target samples when penalised', async () => {
  await initBackend('cpu');
  // f(y) = a·y + b is linear, so ∇f(y) = a for every sample and the R1 term is γ/2·|a|².
  const map = new Mlp({ inDim: 2, hidden: [], outDim: 2, seed: 1 });
  const f = new Mlp({ inDim: 2, hidden: [], outDim: 1, seed: 2 });
  const x = tf.tensor2d([[1, 2], [3, -1]]);
  const y = tf.tensor2d([[0, 1], [2, 2], [-1, 0]]);
  const read = (t: tf.Tensor) => t.dataSync()[0]!;
  const gap = tf.tidy(() => read(tf.sub(tf.mean(potentialOf(f, map.apply(x))), tf.mean(potentialOf(f, y)))));
  const a = tf.tidy(() => tf.grad((z: tf.Tensor) => tf.sum(potentialOf(f, z)))(tf.zeros([1, 2])).dataSync());
  const aa = a[0]! ** 2 + a[1]! ** 2;
  const plain = tf.tidy(() => {
    const r = potentialObjective(map, f, x, y);
    return [read(r.loss), read(r.r1)];
  });
  assert.ok(Math.abs(plain[0]! - gap) < 1e-6);
  assert.equal(plain[1], 0);
  const penalised = tf.tidy(() => {
    const r = potentialObjective(map, f, x, y, 3);
    return [read(r.loss), read(r.r1)];
  });
  assert.ok(Math.abs(penalised[1]! - aa) < 1e-5, `r1 ${penalised[1]} vs |a|² ${aa}`);
  assert.ok(Math.abs(penalised[0]! - (gap + 1.5 * aa)) < 1e-5);
  tf.dispose([x, y]);
  map.dispose();
  f.dispose();
});
