import { OtsrError } from '../errors.js';
import { Rng } from '../util/rng.js';
import { matMulTransB, symmetricEigen } from './linalg.js';
import type { frechetDistance, kernelInceptionDistance } from './fid.js';

/**
 * Bootstrap spread of FID and KID over the *images* of a paired evaluation: each resample draws as many images as
 * there are, with replacement, and takes every feature vector (crop) of each drawn image, from both sets (an
 * output's crops and those of its ground truth go together). Images, not crops, are resampled because the crops
 * of one image are strongly correlated: resampling crops would understate the spread.
 *
 * All dot products are computed once (three Gram matrices over every vector); a resample then costs O(n^2) for KID
 * and O(n^3) for FID (an n x n eigenproblem, n = vectors in the resample), so a few hundred resamples of a few
 * hundred vectors take seconds. On the whole sets the formulas give the values of {@link frechetDistance} and of
 * {@link kernelInceptionDistance} with one subset, to rounding (1e-8 relative; tested).
 *
 * The resampled values are not centred on the full-set ones (a resample holds duplicates, i.e. fewer distinct
 * vectors, and FID is biased upwards by small samples); their standard deviation is the spread to quote. Resample
 * r draws the same images for every method evaluated on the same set with the same seed, so per-resample
 * differences between two methods give a paired spread.
 */

export interface BootstrapOptions {
  /** Number of resamples; default 100. */
  resamples?: number;
  /** Seed of the draws; default 0. */
  seed?: number;
}

export interface BootstrapResult {
  resamples: number;
  seed: number;
  /** FID and KID of each resample, in draw order. */
  fid: number[];
  kid: number[];
  /** Their standard deviations (population, over resamples). */
  fidStd: number;
  kidStd: number;
}

/**
 * @param groupsA feature vectors of set A per image (row-major, `dim` per row), e.g. the outputs' crops;
 * @param groupsB those of set B, image for image (the ground truth's crops); each pair of groups may hold any
 *   number of rows, at least one.
 */
export function bootstrapFeatureDistances(
  groupsA: readonly Float32Array[],
  groupsB: readonly Float32Array[],
  dim: number,
  options: BootstrapOptions = {},
): BootstrapResult {
  const resamples = options.resamples ?? 100;
  const seed = options.seed ?? 0;
  if (groupsA.length !== groupsB.length) throw new OtsrError(`bootstrap: ${groupsA.length} image groups in one set, ${groupsB.length} in the other`);
  if (groupsA.length < 2) throw new OtsrError(`bootstrap needs at least 2 images, got ${groupsA.length}`);
  if (!(Number.isInteger(resamples) && resamples >= 2)) throw new OtsrError(`bootstrap needs at least 2 resamples, got ${resamples}`);
  const rowsOf = (g: Float32Array) => {
    if (g.length === 0 || g.length % dim !== 0) throw new OtsrError(`bootstrap: an image group has ${g.length} numbers, not a multiple of ${dim}`);
    return g.length / dim;
  };
  const stack = (groups: readonly Float32Array[]) => {
    const rows = groups.map(rowsOf);
    const starts = rows.map((_, i) => rows.slice(0, i).reduce((s, r) => s + r, 0));
    const data = new Float64Array(rows.reduce((s, r) => s + r, 0) * dim);
    groups.forEach((g, i) => data.set(g, starts[i]! * dim));
    return { rows, starts, data, n: data.length / dim };
  };
  const a = stack(groupsA), b = stack(groupsB);
  const gaa = matMulTransB(a.data, a.data, a.n, dim, a.n);
  const gbb = matMulTransB(b.data, b.data, b.n, dim, b.n);
  const gab = matMulTransB(a.data, b.data, a.n, dim, b.n);
  const grams: Grams = { gaa, gbb, gab, na: a.n, nb: b.n, dim };

  const rng = new Rng(seed);
  const images = groupsA.length;
  const fid: number[] = [], kid: number[] = [];
  // The rows of the drawn images, each weighted by how often its image was drawn.
  const rowsFor = (s: { rows: number[]; starts: number[] }, counts: number[]): WeightedRows => {
    const rows: number[] = [], weights: number[] = [];
    counts.forEach((count, img) => {
      for (let r = 0; count > 0 && r < s.rows[img]!; r++) (rows.push(s.starts[img]! + r), weights.push(count));
    });
    return { rows, weights };
  };
  for (let r = 0; r < resamples; r++) {
    const counts = new Array<number>(images).fill(0);
    for (let i = 0; i < images; i++) counts[rng.int(images)]! += 1;
    const [ra, rb] = [rowsFor(a, counts), rowsFor(b, counts)];
    fid.push(frechetFromGrams(grams, ra, rb));
    kid.push(kidFromGrams(grams, ra, rb));
  }
  return { resamples, seed, fid, kid, fidStd: std(fid), kidStd: std(kid) };
}

/** Dot products of every pair of vectors: within A (na x na), within B, and across (na x nb). */
export interface Grams {
  gaa: Float64Array;
  gbb: Float64Array;
  gab: Float64Array;
  na: number;
  nb: number;
  dim: number;
}

/** Rows of A or B, each counted `weight` times (a bootstrap resample's repeats); weights default to 1. */
export interface WeightedRows {
  rows: readonly number[];
  weights?: readonly number[];
}

const weightOf = (s: WeightedRows, i: number) => s.weights?.[i] ?? 1;
const total = (s: WeightedRows) => s.rows.reduce((t, _, i) => t + weightOf(s, i), 0);

/**
 * FID of rows of A and B (each repeated by its weight) from dot products only: with centred rows,
 * ||mu_a - mu_b||^2, tr(S_a) = (sum |x_i|^2 - n |mu_a|^2) / (n - 1) and the cross term from the singular values of
 * the centred cross products (x_i - mu_a).(y_j - mu_b) (the route {@link frechetDistance} takes for small sets).
 * Repeats enter as weights: the singular values of the repeated matrix are those of D_a^(1/2) C D_b^(1/2) on the
 * distinct rows (no exactly repeated rows for the eigen-solver, and a smaller problem).
 */
export function frechetFromGrams(g: Grams, a: WeightedRows, b: WeightedRows): number {
  const [ia, ib] = [a.rows, b.rows];
  const [n, m] = [total(a), total(b)];
  if (n < 2 || m < 2) throw new OtsrError(`FID needs at least 2 feature vectors per set, got ${Math.min(n, m)}`);
  const [p, q] = [ia.length, ib.length];
  // x_i . mu_a, x_i . mu_b (per distinct row of A), mu_a . y_j, y_j . mu_b (per distinct row of B).
  const xa = new Float64Array(p), xb = new Float64Array(p), ay = new Float64Array(q), yb = new Float64Array(q);
  let traceA = 0, traceB = 0;
  for (let i = 0; i < p; i++) {
    const [ra, rab, wi] = [ia[i]! * g.na, ia[i]! * g.nb, weightOf(a, i)];
    let s = 0, t = 0;
    for (let k = 0; k < p; k++) s += weightOf(a, k) * g.gaa[ra + ia[k]!]!;
    for (let j = 0; j < q; j++) {
      const v = g.gab[rab + ib[j]!]!;
      t += weightOf(b, j) * v;
      ay[j]! += (wi * v) / n;
    }
    xa[i] = s / n;
    xb[i] = t / m;
    traceA += wi * g.gaa[ra + ia[i]!]!;
  }
  for (let j = 0; j < q; j++) {
    const [rb, wj] = [ib[j]! * g.nb, weightOf(b, j)];
    let s = 0;
    for (let k = 0; k < q; k++) s += weightOf(b, k) * g.gbb[rb + ib[k]!]!;
    yb[j] = s / m;
    traceB += wj * g.gbb[rb + ib[j]!]!;
  }
  const wmean = (v: Float64Array, s: WeightedRows, count: number) => v.reduce((t, x, i) => t + weightOf(s, i) * x, 0) / count;
  const aa = wmean(xa, a, n), bb = wmean(yb, b, m), ab = wmean(xb, a, n);
  const meanTerm = aa + bb - 2 * ab;
  const trA = (traceA - n * aa) / (n - 1);
  const trB = (traceB - m * bb) / (m - 1);
  // M[i][j] = sqrt(w_i w_j) (x_i - mu_a).(y_j - mu_b); its singular values are the square roots of the
  // eigenvalues of M M^T (or M^T M, the smaller).
  const c = new Float64Array(p * q);
  for (let i = 0; i < p; i++) {
    const [rab, wi] = [ia[i]! * g.nb, Math.sqrt(weightOf(a, i))];
    for (let j = 0; j < q; j++) c[i * q + j] = wi * Math.sqrt(weightOf(b, j)) * (g.gab[rab + ib[j]!]! - xb[i]! - ay[j]! + ab);
  }
  const mmt = p <= q ? matMulTransB(c, c, p, q, p) : matMulTransB(transpose(c, p, q), transpose(c, p, q), q, p, q);
  let cross = 0;
  for (const v of symmetricEigen(mmt, Math.min(p, q)).values) cross += Math.sqrt(Math.max(v, 0));
  cross /= Math.sqrt((n - 1) * (m - 1));
  return meanTerm + trA + trB - 2 * cross;
}

/**
 * Unbiased MMD^2 with KID's kernel k(x, y) = (x.y / dim + 1)^3 on rows of A and B (each repeated by its weight; a
 * row's repeats are distinct samples to the estimator, so only its pairing with itself is left out).
 */
export function kidFromGrams(g: Grams, a: WeightedRows, b: WeightedRows): number {
  const [n, m] = [total(a), total(b)];
  if (n < 2 || m < 2) throw new OtsrError(`KID needs at least 2 feature vectors per set, got ${Math.min(n, m)}`);
  const k = (dot: number) => (dot / g.dim + 1) ** 3;
  const within = (gram: Float64Array, size: number, s: WeightedRows) => {
    let sum = 0;
    for (let i = 0; i < s.rows.length; i++) {
      const [r, wi] = [s.rows[i]! * size, weightOf(s, i)];
      for (let j = 0; j < s.rows.length; j++) sum += wi * (i === j ? weightOf(s, j) - 1 : weightOf(s, j)) * k(gram[r + s.rows[j]!]!);
    }
    return sum;
  };
  let sumAB = 0;
  for (let i = 0; i < a.rows.length; i++) {
    const [r, wi] = [a.rows[i]! * g.nb, weightOf(a, i)];
    for (let j = 0; j < b.rows.length; j++) sumAB += wi * weightOf(b, j) * k(g.gab[r + b.rows[j]!]!);
  }
  return within(g.gaa, g.na, a) / (n * (n - 1)) + within(g.gbb, g.nb, b) / (m * (m - 1)) - (2 * sumAB) / (n * m);
}

function transpose(c: Float64Array, n: number, m: number): Float64Array {
  const t = new Float64Array(n * m);
  for (let i = 0; i < n; i++) for (let j = 0; j < m; j++) t[j * n + i] = c[i * m + j]!;
  return t;
}

function mean(v: Float64Array | number[]): number {
  let s = 0;
  for (const x of v) s += x;
  return s / v.length;
}

function std(v: number[]): number {
  const mu = mean(v);
  return Math.sqrt(v.reduce((s, x) => s + (x - mu) ** 2, 0) / v.length);
}
