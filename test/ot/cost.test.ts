import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../../src/engine/backend.js';
import { Mlp } from '../../src/nn/mlp.js';
import { L1Cost, PooledCost, QuadraticCost, ReferenceCost, makeCost } from '../../src/ot/cost.js';

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

test('a pooled cost compares block means: detail with zero block means is free, a shift in a block costs as at full resolution', async () => {
  await initBackend('cpu');
  const c = new PooledCost(new QuadraticCost(), 2);
  assert.equal(c.name, 'quadratic@1/2');
  const base = tf.randomUniform([2, 4, 6, 3], 0, 1, 'float32', 3);
  // A period-2 checkerboard (+-0.3) has zero mean in every 2x2 block: invisible to the pooled cost.
  const checker = tf.tensor4d(Array.from({ length: 4 * 6 }, (_, i) => ((Math.floor(i / 6) + (i % 6)) % 2 === 0 ? 0.3 : -0.3)), [1, 4, 6, 1]);
  const detailed = tf.add(base, checker);
  close(await c.cost(base, detailed).data(), [0, 0]);
  assert.ok((await new QuadraticCost().cost(base, detailed).data())[0]! > 0.04, 'the full-resolution cost sees it');
  // A constant offset in one 2x2 block of one channel: the block mean moves by the same offset.
  const bump = tf.tensor4d(Array.from({ length: 2 * 4 * 6 * 3 }, (_, i) => {
    const [b, y, x, ch] = [Math.floor(i / 72), Math.floor(i / 18) % 4, Math.floor(i / 3) % 6, i % 3];
    return b === 1 && y < 2 && x >= 2 && x < 4 && ch === 0 ? 0.6 : 0;
  }), [2, 4, 6, 3]);
  // Pooled: one of the 2·3·3 = 18 block-mean elements of sample 1 moves by 0.6: ½·0.36/18.
  close(await c.cost(base, tf.add(base, bump)).data(), [0, 0.5 * 0.36 / 18]);
  // Its gradient spreads each block's difference evenly over the block's pixels.
  const g = tf.grad((y: tf.Tensor) => tf.sum(c.cost(base, y)))(tf.add(base, bump));
  const gv = await g.data();
  const expected = 0.6 / 18 / 4; // d/dy of ½·mean(pool diff²) = diff / (18 elements) / (4 pixels per block)
  for (let i = 0; i < gv.length; i++) {
    const [b, y, x, ch] = [Math.floor(i / 72), Math.floor(i / 18) % 4, Math.floor(i / 3) % 6, i % 3];
    const want = b === 1 && y < 2 && x >= 2 && x < 4 && ch === 0 ? expected : 0;
    assert.ok(Math.abs(gv[i]! - want) < 1e-6, `grad[${i}] ${gv[i]} vs ${want}`);
  }
  assert.throws(() => c.cost(tf.zeros([1, 3, 4, 1]), tf.zeros([1, 3, 4, 1])), /multiples of 2/);
  assert.throws(() => new PooledCost(new QuadraticCost(), 0), /positive integer/);
  tf.dispose([base, checker, detailed, bump, g]);
});
