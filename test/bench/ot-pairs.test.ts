import assert from 'node:assert/strict';
import { test } from 'node:test';
import { matMul, moments, symEig, trace } from '../../src/bench/ot-linalg.js';
import { gaussianPair, mixturePair, totalVariance } from '../../src/bench/ot-pairs.js';
import { initBackend } from '../../src/engine/backend.js';
import { maxAbsDiff } from '../helpers/compare.js';

test('Gaussian pair: A is symmetric positive definite and A S_P A = S_Q (T*#P has Q\'s moments exactly)', () => {
  for (const d of [2, 16]) {
    const p = gaussianPair(d, 3);
    for (let i = 0; i < d; i++) for (let j = 0; j < d; j++) assert.ok(Math.abs(p.A[i * d + j]! - p.A[j * d + i]!) < 1e-12);
    const { values } = symEig(p.A, d);
    assert.ok(Math.min(...values) > 0, `eigenvalues of A: ${Math.min(...values)}`);
    // Cov(T*(x)) = A S_P Aᵀ must equal S_Q; the mean maps to m_Q by construction.
    const pushedCov = matMul(matMul(p.A, p.covP, d, d, d), p.A, d, d, d);
    assert.ok(maxAbsDiff(pushedCov, p.covQ) < 1e-9 * (1 + trace(p.covQ, d)), `A S_P A vs S_Q: ${maxAbsDiff(pushedCov, p.covQ)}`);
    assert.ok(maxAbsDiff(p.optimalMap(p.meanP, 1), p.meanQ) < 1e-12);
    assert.ok(Math.abs(p.targetVariance - trace(p.covQ, d)) < 1e-12);
  }
});

test('Gaussian pair: samples of T*(x), x ~ P, match samples of Q in mean and covariance', () => {
  const d = 4;
  const p = gaussianPair(d, 1);
  const n = 40000;
  const pushed = moments(p.optimalMap(p.source(7).sampleArray(n), n), n, d);
  const direct = moments(p.target(8).sampleArray(n), n, d);
  const scale = Math.sqrt(p.targetVariance / d);
  assert.ok(maxAbsDiff(pushed.mean, p.meanQ) < 0.05 * scale, `mean of T*#P: ${maxAbsDiff(pushed.mean, p.meanQ)}`);
  assert.ok(maxAbsDiff(direct.mean, p.meanQ) < 0.05 * scale);
  assert.ok(maxAbsDiff(pushed.cov, p.covQ) < 0.08 * scale ** 2, `cov of T*#P: ${maxAbsDiff(pushed.cov, p.covQ)}`);
  assert.ok(maxAbsDiff(direct.cov, p.covQ) < 0.08 * scale ** 2);
});

test('Gaussian pair: T* moves mass less than another map with the same pushforward (it is optimal)', () => {
  // For Gaussians, x -> m_Q + S_Q^½ R S_P^-½ (x − m_P) pushes P to Q for any rotation R; T* (R = the optimal
  // one) has the least E|x − T(x)|². Compare T* with the map using R = I.
  const d = 3;
  const p = gaussianPair(d, 5);
  const n = 20000;
  const x = p.source(2).sampleArray(n);
  const t = p.optimalMap(x, n);
  const sqrtQ = symFn(p.covQ, d, Math.sqrt);
  const invSqrtP = symFn(p.covP, d, (v) => 1 / Math.sqrt(v));
  const B = matMul(sqrtQ, invSqrtP, d, d, d);
  let costOpt = 0;
  let costOther = 0;
  for (let i = 0; i < n; i++) {
    for (let a = 0; a < d; a++) {
      let s = p.meanQ[a]!;
      for (let b = 0; b < d; b++) s += B[a * d + b]! * (x[i * d + b]! - p.meanP[b]!);
      costOther += (s - x[i * d + a]!) ** 2;
      costOpt += (t[i * d + a]! - x[i * d + a]!) ** 2;
    }
  }
  assert.ok(costOpt < costOther, `E|x − T*(x)|² = ${costOpt / n} vs ${costOther / n}`);
});

function symFn(a: Float64Array, d: number, f: (v: number) => number): Float64Array {
  const { values, vectors } = symEig(a, d);
  const out = new Float64Array(d * d);
  for (let k = 0; k < d; k++) {
    for (let i = 0; i < d; i++) for (let j = 0; j < d; j++) out[i * d + j] += vectors[i * d + k]! * f(values[k]!) * vectors[j * d + k]!;
  }
  return out;
}

test('mixture pair: T* is the gradient of a convex ψ, and it is far from affine', () => {
  const d = 8;
  const p = mixturePair(d, 2);
  const n = 50;
  const x = p.source(3).sampleArray(n);
  const t = p.optimalMap(x, n);
  const h = 1e-5;
  for (let i = 0; i < n; i++) {
    const xi = x.slice(i * d, (i + 1) * d);
    for (let a = 0; a < d; a++) {
      const plus = Float64Array.from(xi);
      const minus = Float64Array.from(xi);
      plus[a] += h;
      minus[a] -= h;
      const fd = (p.psi(plus) - p.psi(minus)) / (2 * h);
      assert.ok(Math.abs(fd - t[i * d + a]!) < 1e-5 * (1 + Math.abs(fd)), `∂ψ/∂x${a} = ${fd} vs T* = ${t[i * d + a]}`);
    }
    // Convexity along a random direction: ψ(x + u) + ψ(x − u) − 2ψ(x) ≥ 0.
    const u = Float64Array.from({ length: d }, (_, k) => Math.sin(i * 7 + k));
    const xp = xi.map((v, k) => v + u[k]!);
    const xm = xi.map((v, k) => v - u[k]!);
    assert.ok(p.psi(xp) + p.psi(xm) - 2 * p.psi(xi) >= 0);
  }
  // Non-Gaussian: the best affine fit to T* leaves a clear residual (L2-UVP of the best affine map).
  const d16 = 16;
  const p16 = mixturePair(d16, 2);
  const m = 4000;
  const xs = p16.source(4).sampleArray(m);
  const ts = p16.optimalMap(xs, m);
  const uvp = (100 * affineResidual(xs, ts, m, d16)) / p16.targetVariance;
  assert.ok(uvp > 5, `the best affine map already has L2-UVP ${uvp}%`);
  assert.ok(Math.abs(p16.targetVariance - totalVariance(ts, m, d16)) < 0.05 * p16.targetVariance);
});

/** E|T*(x) − (Wx + c)|² of the least-squares affine fit (normal equations, Gaussian elimination). */
function affineResidual(x: Float64Array, y: Float64Array, n: number, d: number): number {
  const k = d + 1;
  const xtx = new Float64Array(k * k);
  const xty = new Float64Array(k * d);
  const row = new Float64Array(k);
  for (let i = 0; i < n; i++) {
    for (let a = 0; a < d; a++) row[a] = x[i * d + a]!;
    row[d] = 1;
    for (let a = 0; a < k; a++) {
      for (let b = 0; b < k; b++) xtx[a * k + b] += row[a]! * row[b]!;
      for (let b = 0; b < d; b++) xty[a * d + b] += row[a]! * y[i * d + b]!;
    }
  }
  // Solve xtx · W = xty.
  for (let col = 0; col < k; col++) {
    const piv = xtx[col * k + col]!;
    for (let r = 0; r < k; r++) {
      if (r === col) continue;
      const f = xtx[r * k + col]! / piv;
      for (let c = 0; c < k; c++) xtx[r * k + c] -= f * xtx[col * k + c]!;
      for (let c = 0; c < d; c++) xty[r * d + c] -= f * xty[col * d + c]!;
    }
  }
  for (let r = 0; r < k; r++) for (let c = 0; c < d; c++) xty[r * d + c] /= xtx[r * k + r]!;
  let err = 0;
  for (let i = 0; i < n; i++) {
    for (let b = 0; b < d; b++) {
      let s = xty[d * d + b]!;
      for (let a = 0; a < d; a++) s += x[i * d + a]! * xty[a * d + b]!;
      err += (s - y[i * d + b]!) ** 2;
    }
  }
  return err / n;
}

test('vector samplers replay the same draws from a saved state', async () => {
  await initBackend('cpu');
  for (const p of [gaussianPair(3, 0), mixturePair(3, 0)]) {
    for (const sampler of [p.source(1), p.target(2)]) {
      sampler.sampleArray(5);
      const state = sampler.getState();
      const a = sampler.sampleArray(7);
      sampler.setState(state);
      assert.deepEqual(sampler.sampleArray(7), a);
      const t = await sampler.sample(4);
      assert.deepEqual(t.shape, [4, 3]);
      t.dispose();
    }
    assert.throws(() => p.source(1).setState([1, 2]), /invalid sampler state/);
  }
});
