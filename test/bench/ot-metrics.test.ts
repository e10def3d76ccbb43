import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { buresW2Squared, identity, matMul, sqrtm, symEig, transpose } from '../../src/bench/ot-linalg.js';
import { evaluateMap, scoreMap } from '../../src/bench/ot-metrics.js';
import { gaussianPair } from '../../src/bench/ot-pairs.js';
import { initBackend } from '../../src/engine/backend.js';
import { Rng } from '../../src/util/rng.js';

test('symEig reconstructs a symmetric matrix and sqrtm squares back', () => {
  const d = 6;
  const rng = new Rng(3);
  const g = Float64Array.from({ length: d * d }, () => rng.normal());
  const a = matMul(g, transpose(g, d, d), d, d, d); // SPD
  const { values, vectors } = symEig(a, d);
  const vd = Float64Array.from(vectors, (v, idx) => v * values[idx % d]!);
  const back = matMul(vd, transpose(vectors, d, d), d, d, d);
  a.forEach((v, i) => assert.ok(Math.abs(v - back[i]!) < 1e-9, `entry ${i}: ${v} vs ${back[i]}`));
  const r = sqrtm(a, d);
  const r2 = matMul(r, r, d, d, d);
  a.forEach((v, i) => assert.ok(Math.abs(v - r2[i]!) < 1e-9));
  const vtv = matMul(transpose(vectors, d, d), vectors, d, d, d);
  identity(d).forEach((v, i) => assert.ok(Math.abs(v - vtv[i]!) < 1e-12));
});

test('Bures-W2 matches the closed form for commuting covariances, and is 0 between equal moments', () => {
  const d = 2;
  const s1 = Float64Array.from([4, 0, 0, 1]);
  const s2 = Float64Array.from([1, 0, 0, 9]);
  const m1 = Float64Array.from([0, 0]);
  const m2 = Float64Array.from([3, 4]);
  // |m1 − m2|² + Σ (√λ1 − √λ2)² = 25 + (2 − 1)² + (1 − 3)² = 30.
  assert.ok(Math.abs(buresW2Squared(m1, s1, m2, s2, d) - 30) < 1e-9);
  assert.ok(buresW2Squared(m2, s2, m2, s2, d) < 1e-9);
});

test('scores: T* is perfect, the identity is not, a map with T#P ≠ Q shows in the pushforward distance', () => {
  const p = gaussianPair(3, 1);
  const n = 5000;
  const x = p.source(1).sampleArray(n);
  const t = p.optimalMap(x, n);
  const perfect = scoreMap(x, t, t, n, 3, p.targetVariance);
  assert.equal(perfect.l2uvp, 0);
  assert.ok(Math.abs(perfect.cosine - 1) < 1e-12);
  assert.ok(perfect.pushforward < 1e-6);
  const id = scoreMap(x, x, t, n, 3, p.targetVariance);
  assert.ok(id.l2uvp > 20 && id.pushforward > 20, JSON.stringify(id));
  // Halfway between x and T*(x): right direction (cosine 1), biased pushforward.
  const half = Float64Array.from(x, (v, i) => 0.5 * (v + t[i]!));
  const h = scoreMap(x, half, t, n, 3, p.targetVariance);
  assert.ok(Math.abs(h.cosine - 1) < 1e-9);
  assert.ok(Math.abs(h.l2uvp - id.l2uvp / 4) < 1e-6 * id.l2uvp);
  assert.ok(h.pushforward > 2, `pushforward of the halfway map: ${h.pushforward}`);
});

test('evaluateMap scores a TF.js map on fresh test points (T* as a tensor function scores ~0)', async () => {
  await initBackend('cpu');
  const p = gaussianPair(2, 0);
  const A = tf.tensor2d(Float32Array.from(p.A), [2, 2]);
  const mP = tf.tensor1d(Float32Array.from(p.meanP));
  const mQ = tf.tensor1d(Float32Array.from(p.meanQ));
  const before = tf.memory().numTensors;
  const s = await evaluateMap((x) => tf.add(tf.matMul(tf.sub(x, mP), A), mQ), p, { samples: 2000, batchSize: 300 });
  assert.equal(tf.memory().numTensors, before);
  assert.ok(s.l2uvp < 1e-6, `L2-UVP of T*: ${s.l2uvp}`);
  assert.ok(s.cosine > 0.999999);
  assert.ok(s.pushforward < 1e-4);
  tf.dispose([A, mP, mQ]);
});
