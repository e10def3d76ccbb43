import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../../src/engine/backend.js';
import { Mlp } from '../../src/nn/mlp.js';
import { L1Cost, QuadraticCost, ReferenceCost, makeCost } from '../../src/ot/cost.js';

function close(a: ArrayLike<number>, b: number[], tol = 1e-6): void {
  assert.equal(a.length, b.length);
  b.forEach((v, i) => assert.ok(Math.abs(a[i]! - v) < tol, `[${i}] ${a[i]} vs ${v}`));
}

test('the quadratic cost is ½ · per-sample mean squared difference, on vectors and on images', async () => {
  await initBackend('cpu');
  const c = new QuadraticCost();
  const x = tf.tensor2d([[0, 0], [1, 2]]);
  const y = tf.tensor2d([[3, 4], [1, 0]]);
  const v = c.cost(x, y);
  assert.deepEqual(v.shape, [2]);
  close(await v.data(), [0.5 * (9 + 16) / 2, 0.5 * 4 / 2]);
  const img = tf.ones([2, 4, 4, 3]);
  const zero = tf.zeros([2, 4, 4, 3]);
  const vi = c.cost(img, zero);
  assert.deepEqual(vi.shape, [2]);
  close(await vi.data(), [0.5, 0.5]);
  assert.throws(() => c.cost(x, img), /shapes \[2,2\] and \[2,4,4,3\] differ/);
  tf.dispose([x, y, v, img, zero, vi]);
});

test('the L1 cost is the per-sample mean absolute difference', async () => {
  await initBackend('cpu');
  const x = tf.tensor2d([[0, 0], [1, 2]]);
  const y = tf.tensor2d([[3, -4], [1, 0]]);
  const v = makeCost('l1').cost(x, y);
  close(await v.data(), [3.5, 1]);
  assert.ok(makeCost('l1') instanceof L1Cost);
  tf.dispose([x, y, v]);
});

test('a reference cost compares T(x) with U(x), and switches to a frozen copy of the map every N steps', async () => {
  await initBackend('cpu');
  const map = new Mlp({ inDim: 2, hidden: [4], outDim: 2, seed: 1 });
  const frozen = new Mlp({ inDim: 2, hidden: [4], outDim: 2, seed: 99 });
  const double = (t: tf.Tensor) => tf.mul(t, 2);
  const cost = new ReferenceCost({ reference: double, refresh: { every: 3, frozen } });
  assert.equal(cost.name, 'quadratic(ref)');
  const x = tf.tensor2d([[1, 2]]);
  const y = tf.tensor2d([[2, 4]]);
  close(await cost.cost(x, y).data(), [0]); // U(x) = 2x = y
  cost.afterStep(1, map);
  cost.afterStep(2, map);
  assert.equal(cost.lastRefresh, null);
  cost.afterStep(3, map);
  assert.equal(cost.lastRefresh, 3);
  // Now the reference is the frozen copy: c(x, map(x)) = 0.
  const mx = map.apply(x);
  close(await cost.cost(x, mx).data(), [0]);

  // The frozen weights are part of the state: a fresh cost restored from it gives the same reference,
  // even after the map moved on.
  const state = cost.getState();
  map.params.get('l0.w')!.assign(tf.zeros([2, 4]));
  const frozen2 = new Mlp({ inDim: 2, hidden: [4], outDim: 2, seed: 7 });
  const restored = new ReferenceCost({ reference: double, refresh: { every: 3, frozen: frozen2 } });
  restored.setState(state);
  assert.equal(restored.lastRefresh, 3);
  close(await restored.cost(x, mx).data(), [0]);
  tf.dispose([x, y, mx, ...Object.values(state.weights!)]);
  cost.dispose();
  restored.dispose();
  map.dispose();
});

test('a reference cost without refresh rejects a refreshed state', async () => {
  await initBackend('cpu');
  const cost = new ReferenceCost({ reference: (t) => t.clone(), distance: 'l1' });
  assert.equal(cost.name, 'l1(ref)');
  assert.throws(() => cost.setState({ refreshedAt: 5, weights: {} }), /never refreshes/);
  assert.throws(() => new ReferenceCost({ reference: (t) => t.clone(), refresh: { every: 0, frozen: new Mlp({ inDim: 1, hidden: [], outDim: 1 }) } }), /positive integer/);
});
