import assert from 'node:assert/strict';
import { test } from 'node:test';
import { gramOfColumns, matMul, matMulTransB, sqrtmPsd, symmetricEigen } from '../../src/metrics/linalg.js';
import { Rng } from '../../src/util/rng.js';

function randomSymmetric(rng: Rng, n: number): Float64Array {
  const a = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = i; j < n; j++) a[i * n + j] = a[j * n + i] = rng.normal();
  return a;
}

/** A random rank-r PSD matrix B^T B (B: r x n), like a covariance of r samples. */
function randomPsd(rng: Rng, n: number, r: number): Float64Array {
  const b = Float64Array.from(rng.normals(r * n));
  return gramOfColumns(b, r, n);
}

function maxAbs(a: Float64Array): number {
  return a.reduce((m, x) => Math.max(m, Math.abs(x)), 0);
}

function sub(a: Float64Array, b: Float64Array): Float64Array {
  return a.map((x, i) => x - b[i]!);
}

/** ||A V - V diag(values)||_max and ||V^T V - I||_max. */
function residuals(a: Float64Array, n: number, values: Float64Array, v: Float64Array) {
  const av = matMul(a, v, n, n, n);
  const vl = v.map((x, i) => x * values[i % n]!);
  const vtv = matMul(transpose(v, n), v, n, n, n);
  for (let i = 0; i < n; i++) vtv[i * n + i] = vtv[i * n + i]! - 1;
  return { eig: maxAbs(sub(av, vl)), orth: maxAbs(vtv) };
}

function transpose(a: Float64Array, n: number): Float64Array {
  const t = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) t[j * n + i] = a[i * n + j]!;
  return t;
}

test('symmetricEigen satisfies A V = V diag(lambda) with orthonormal V', () => {
  const rng = new Rng(11);
  for (const n of [1, 2, 3, 5, 17, 64, 150]) {
    const a = randomSymmetric(rng, n);
    const { values, vectors } = symmetricEigen(a, n, { vectors: true });
    const scale = maxAbs(a) * n;
    const { eig, orth } = residuals(a, n, values, vectors!);
    assert.ok(eig < 1e-12 * scale, `n=${n}: |AV - VL| = ${eig}`);
    assert.ok(orth < 1e-12 * n, `n=${n}: |V^T V - I| = ${orth}`);
    for (let i = 1; i < n; i++) assert.ok(values[i - 1]! <= values[i]!, 'ascending');
    // The trace is the sum of the eigenvalues.
    let trace = 0;
    for (let i = 0; i < n; i++) trace += a[i * n + i]!;
    assert.ok(Math.abs(values.reduce((s, x) => s + x, 0) - trace) < 1e-10 * scale, 'Math.abs(values.reduce((s, x) => s + x, 0) - trace) < 1e-10 * scale');
    // Values alone agree with values computed with vectors.
    const alone = symmetricEigen(a, n).values;
    assert.ok(maxAbs(sub(alone, values)) < 1e-12 * scale, 'maxAbs(sub(alone, values)) < 1e-12 * scale');
  }
});

test('symmetricEigen handles zero, diagonal, repeated and rank-deficient matrices', () => {
  const zero = symmetricEigen(new Float64Array(16), 4, { vectors: true });
  assert.deepEqual(Array.from(zero.values), [0, 0, 0, 0]);

  const diag = new Float64Array(9);
  [3, -1, 2].forEach((x, i) => (diag[i * 3 + i] = x));
  assert.deepEqual(Array.from(symmetricEigen(diag, 3).values), [-1, 2, 3]);

  // Repeated eigenvalues: Q diag(1, 1, 1, 5, 5) Q^T for a random orthogonal Q.
  const rng = new Rng(3);
  const q = symmetricEigen(randomSymmetric(rng, 5), 5, { vectors: true }).vectors!;
  const lam = [1, 1, 1, 5, 5];
  const a = matMulTransB(q.map((x, i) => x * lam[i % 5]!), q, 5, 5, 5);
  const r = symmetricEigen(a, 5, { vectors: true });
  r.values.forEach((x, i) => assert.ok(Math.abs(x - [1, 1, 1, 5, 5][i]!) < 1e-13, `${x}`));
  assert.ok(residuals(a, 5, r.values, r.vectors!).eig < 1e-13, 'residuals(a, 5, r.values, r.vectors!).eig < 1e-13');

  // Rank 4 in 40 dimensions: 36 eigenvalues are zero up to rounding.
  const psd = randomPsd(rng, 40, 4);
  const vals = symmetricEigen(psd, 40).values;
  const top = vals[39]!;
  for (let i = 0; i < 36; i++) assert.ok(Math.abs(vals[i]!) < 1e-13 * top, `${vals[i]}`);
  for (let i = 36; i < 40; i++) assert.ok(vals[i]! > 1e-3 * top, 'vals[i]! > 1e-3 * top');
});

test('sqrtmPsd squares back to the matrix, also when singular', () => {
  const rng = new Rng(5);
  for (const [n, r] of [[1, 1], [6, 10], [30, 30], [50, 8]] as const) {
    const a = randomPsd(rng, n, r);
    const s = sqrtmPsd(a, n);
    const err = maxAbs(sub(matMul(s, s, n, n, n), a));
    assert.ok(err < 1e-11 * maxAbs(a), `n=${n}, rank ${r}: |S S - A| = ${err}`);
    // The principal root is symmetric and PSD.
    assert.ok(maxAbs(sub(s, transpose(s, n))) < 1e-12 * maxAbs(a), 'maxAbs(sub(s, transpose(s, n))) < 1e-12 * maxAbs(a)');
    assert.ok(symmetricEigen(s, n).values[0]! > -1e-7 * Math.sqrt(maxAbs(a)), 'symmetricEigen(s, n).values[0]! > -1e-7 * Math.sqrt(maxAbs(a))');
  }
  // A known root: [[2, 1], [1, 2]] = S^2 with S = [[a, b], [b, a]], a = (sqrt3 + 1)/2, b = (sqrt3 - 1)/2.
  const s = sqrtmPsd(Float64Array.of(2, 1, 1, 2), 2);
  const [ea, eb] = [(Math.sqrt(3) + 1) / 2, (Math.sqrt(3) - 1) / 2];
  [ea, eb, eb, ea].forEach((x, i) => assert.ok(Math.abs(s[i]! - x) < 1e-15, 'Math.abs(s[i]! - x) < 1e-15'));
});
