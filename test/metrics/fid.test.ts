import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type FeatureSet, frechetDistance, kernelInceptionDistance } from '../../src/metrics/fid.js';
import { gramOfColumns, matMul, sqrtmPsd, symmetricEigen } from '../../src/metrics/linalg.js';
import { Rng } from '../../src/util/rng.js';

/** n samples of N(mean, diag(std^2)) in `dim` dimensions, optionally mixed by a fixed matrix. */
function gaussian(rng: Rng, n: number, dim: number, mean = 0, std: number | number[] = 1): FeatureSet {
  const data = new Float64Array(n * dim);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < dim; j++) data[i * dim + j] = mean + rng.normal() * (typeof std === 'number' ? std : std[j]!);
  }
  return { n, dim, data };
}

/** tr(S_a) + tr(S_b): the scale of FID's terms. Eigenvalues near 0 of S_a S_b carry an absolute rounding error of
 * ~eps * their scale, so their square roots carry ~sqrt(eps) ~ 1e-8 of it: FID is accurate to ~1e-8 of this scale
 * (as any method that takes square roots of computed eigenvalues, e.g. scipy's sqrtm). */
function traceScale(a: FeatureSet, b: FeatureSet): number {
  return [a, b].reduce((sum, s) => {
    const d = s.dim;
    const mean = new Float64Array(d);
    for (let i = 0; i < s.n; i++) for (let j = 0; j < d; j++) mean[j] = mean[j]! + s.data[i * d + j]! / s.n;
    let t = 0;
    for (let i = 0; i < s.n; i++) for (let j = 0; j < d; j++) t += (s.data[i * d + j]! - mean[j]!) ** 2;
    return sum + t / (s.n - 1);
  }, 0);
}

/** FID straight from its definition, with a d x d matrix square root of S_a^(1/2) S_b S_a^(1/2). */
function fidByDefinition(a: FeatureSet, b: FeatureSet): number {
  const d = a.dim;
  const stats = (s: FeatureSet) => {
    const mean = new Float64Array(d);
    for (let i = 0; i < s.n; i++) for (let j = 0; j < d; j++) mean[j] = mean[j]! + s.data[i * d + j]! / s.n;
    const c = Float64Array.from(s.data, (x, k) => x - mean[k % d]!);
    return { mean, cov: gramOfColumns(c, s.n, d, s.n - 1) };
  };
  const sa = stats(a), sb = stats(b);
  const root = sqrtmPsd(sa.cov, d);
  const m = matMul(matMul(root, sb.cov, d, d, d), root, d, d, d);
  for (let i = 0; i < d; i++) for (let j = 0; j < i; j++) m[i * d + j] = m[j * d + i] = (m[i * d + j]! + m[j * d + i]!) / 2;
  const trSqrt = sqrtmPsd(m, d).filter((_, k) => k % (d + 1) === 0).reduce((s, x) => s + x, 0);
  let fid = -2 * trSqrt;
  for (let j = 0; j < d; j++) fid += (sa.mean[j]! - sb.mean[j]!) ** 2 + sa.cov[j * d + j]! + sb.cov[j * d + j]!;
  return fid;
}

test('FID of a set with itself is 0, also with fewer samples than dimensions', () => {
  const rng = new Rng(1);
  for (const [n, dim] of [[6, 2048], [50, 20], [300, 16]] as const) {
    const a = gaussian(rng, n, dim, 0.5, 2);
    const fid = frechetDistance(a, a);
    const tol = 1e-7 * traceScale(a, a);
    assert.ok(Math.abs(fid) < tol, `n=${n}, dim=${dim}: FID(a, a) = ${fid}, tolerance ${tol}`);
  }
});

test('FID agrees with its definition on both computation routes (n < dim and n > dim)', () => {
  const rng = new Rng(2);
  for (const [na, nb, dim] of [[5, 9, 12], [12, 7, 12], [40, 60, 10], [3, 200, 25]] as const) {
    const a = gaussian(rng, na, dim, 0, 1);
    const b = gaussian(rng, nb, dim, 0.3, Array.from({ length: dim }, (_, j) => 0.5 + j / dim));
    const got = frechetDistance(a, b);
    const want = fidByDefinition(a, b);
    const tol = 1e-7 * traceScale(a, b);
    assert.ok(Math.abs(got - want) < tol, `${na},${nb},${dim}: ${got} vs ${want}`);
    assert.ok(Math.abs(frechetDistance(b, a) - got) < tol, 'symmetric');
  }
});

test('FID of large Gaussian samples approaches the closed form', () => {
  const rng = new Rng(3);
  const dim = 4;
  // N(0, diag(a)) vs N(m, diag(b)): |m|^2 + sum (sqrt a - sqrt b)^2.
  const stdA = [1, 2, 0.5, 1], stdB = [1.5, 1, 0.5, 3];
  const a = gaussian(rng, 20000, dim, 0, stdA);
  const b = gaussian(rng, 20000, dim, 1, stdB);
  const exact = dim * 1 + stdA.reduce((s, x, j) => s + (x - stdB[j]!) ** 2, 0);
  const got = frechetDistance(a, b);
  assert.ok(Math.abs(got - exact) < 0.05 * exact, `FID ${got}, closed form ${exact}`);
  // Scaling the features by c scales FID by c^2.
  const scale = (s: FeatureSet): FeatureSet => ({ ...s, data: s.data.map((x) => 3 * x) });
  assert.ok(Math.abs(frechetDistance(scale(a), scale(b)) - 9 * got) < 1e-9 * got, 'Math.abs(frechetDistance(scale(a), scale(b)) - 9 * got) < 1e-9 * got');
});

test('KID is unbiased: ~0 for two samples of one distribution, clearly > 0 for different ones', () => {
  const rng = new Rng(4);
  const dim = 64;
  const x = gaussian(rng, 400, dim, 1, 1);
  const y = gaussian(rng, 400, dim, 1, 1);
  const z = gaussian(rng, 400, dim, 1.2, 1);
  const same = kernelInceptionDistance(x, y, { subsetSize: 100, subsets: 50, seed: 1 });
  const diff = kernelInceptionDistance(x, z, { subsetSize: 100, subsets: 50, seed: 1 });
  assert.equal(same.subsetSize, 100);
  assert.ok(diff.mean > 10 * Math.abs(same.mean), `same ${same.mean}, different ${diff.mean}`);
  assert.ok(diff.mean > 5 * diff.std, 'diff.mean > 5 * diff.std');

  // Averaged over many independent small samples the estimator centres on 0, while the biased (V-statistic)
  // estimate of the same draws is clearly positive.
  let sum = 0, sumBiased = 0;
  const runs = 200, m = 10;
  for (let r = 0; r < runs; r++) {
    const a = gaussian(rng, m, dim, 1, 1), b = gaussian(rng, m, dim, 1, 1);
    const k = kernelInceptionDistance(a, b);
    assert.equal(k.subsets, 1);
    sum += k.mean;
    sumBiased += biasedMmd(a, b);
  }
  const meanUnbiased = sum / runs, meanBiased = sumBiased / runs;
  assert.ok(Math.abs(meanUnbiased) < 0.1 * meanBiased, `unbiased ${meanUnbiased}, biased ${meanBiased}`);

  // The same seed draws the same subsets.
  assert.deepEqual(kernelInceptionDistance(x, z, { subsetSize: 50, subsets: 5, seed: 9 }), kernelInceptionDistance(x, z, { subsetSize: 50, subsets: 5, seed: 9 }));
});

function biasedMmd(a: FeatureSet, b: FeatureSet): number {
  const k = (s: FeatureSet, i: number, t: FeatureSet, j: number) => {
    let dot = 0;
    for (let p = 0; p < s.dim; p++) dot += s.data[i * s.dim + p]! * t.data[j * t.dim + p]!;
    return (dot / s.dim + 1) ** 3;
  };
  let v = 0;
  const m = a.n;
  for (let i = 0; i < m; i++) for (let j = 0; j < m; j++) v += k(a, i, a, j) + k(b, i, b, j) - 2 * k(a, i, b, j);
  return v / (m * m);
}

test('FID and KID reject mismatched sets with a clear message', () => {
  const rng = new Rng(5);
  assert.throws(() => frechetDistance(gaussian(rng, 5, 3), gaussian(rng, 5, 4)), /dimensions differ/);
  assert.throws(() => frechetDistance(gaussian(rng, 1, 3), gaussian(rng, 5, 3)), /at least 2/);
  assert.throws(() => kernelInceptionDistance(gaussian(rng, 1, 3), gaussian(rng, 5, 3)), /at least 2/);
});
