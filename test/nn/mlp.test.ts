import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../../src/engine/backend.js';
import { Mlp } from '../../src/nn/mlp.js';

test('an Mlp is deterministic in its seed and has the declared shapes', async () => {
  await initBackend('cpu');
  const a = new Mlp({ inDim: 3, hidden: [8, 8], outDim: 2, seed: 5 });
  const b = new Mlp({ inDim: 3, hidden: [8, 8], outDim: 2, seed: 5 });
  const x = tf.randomNormal([4, 3], 0, 1, 'float32', 1);
  const ya = a.apply(x), yb = b.apply(x);
  assert.deepEqual(ya.shape, [4, 2]);
  assert.deepEqual(await ya.data(), await yb.data());
  assert.equal(a.parameterCount(), 3 * 8 + 8 + 8 * 8 + 8 + 8 * 2 + 2);
  tf.dispose([x, ya, yb]);
  a.dispose();
  b.dispose();
});

test('a residual Mlp starts near the identity', async () => {
  await initBackend('cpu');
  const m = new Mlp({ inDim: 4, hidden: [16], outDim: 4, residual: true, seed: 1 });
  const x = tf.randomNormal([64, 4], 0, 1, 'float32', 2);
  const gap = tf.tidy(() => tf.mean(tf.abs(tf.sub(m.apply(x), x))).dataSync()[0]!);
  assert.ok(gap < 0.5, `mean |T(x) - x| = ${gap}`);
  x.dispose();
  m.dispose();
});
