/**
 * Pairs (P, Q) with a known quadratic-cost OT map T*, for benchmarking neural OT solvers:
 *
 * - `gaussian`: P = N(m_P, S_P), Q = N(m_Q, S_Q) with random well-conditioned covariances and the closed-form
 *   Monge map T*(x) = m_Q + A (x − m_P), A = S_P^-½ (S_P^½ S_Q S_P^½)^½ S_P^-½.
 * - `mixture`: P a Gaussian mixture and Q = ∇ψ#P for a convex ψ (a log-sum-exp of random convex quadratics),
 *   so that T* = ∇ψ by Brenier's theorem — the construction of the Wasserstein-2 benchmark (Korotin et al.,
 *   2021), with a hand-made convex ψ in place of a trained input-convex network.
 */
import { Rng } from '../util/rng.js';
import {
  type Matrix,
  invSqrtm,
  matMul,
  randomOrthogonal,
  sqrtm,
  symmetrize,
  trace,
  transpose,
} from './ot-linalg.js';
import { GaussianMixtureSampler, GaussianSampler, PushforwardSampler, type VectorMap, type VectorSampler } from './ot-samplers.js';

export type PairName = 'gaussian' | 'mixture';
export const PAIR_NAMES: readonly PairName[] = ['gaussian', 'mixture'];

export interface OtBenchmarkPair {
  name: PairName;
  dim: number;
  /** A fresh sampler of P with its own seed. */
  source(seed: number): VectorSampler;
  /** A fresh sampler of Q with its own seed. */
  target(seed: number): VectorSampler;
  /** The OT map T* from P to Q for the quadratic cost. */
  optimalMap: VectorMap;
  /** Var(Q) = E|y − E y|² (exact for Gaussians, a 2^16-sample estimate otherwise). */
  targetVariance: number;
}

export interface GaussianPair extends OtBenchmarkPair {
  name: 'gaussian';
  meanP: Float64Array;
  covP: Matrix;
  meanQ: Float64Array;
  covQ: Matrix;
  /** The symmetric positive definite matrix of T*. */
  A: Matrix;
}

export interface MixturePair extends OtBenchmarkPair {
  name: 'mixture';
  /** The convex potential ψ at one point (T* = ∇ψ). */
  psi(x: Float64Array): number;
}

/** An RNG for one (pair, dimension, seed): different pairs and dimensions get unrelated numbers. */
function pairRng(seed: number, dim: number, tag: number): Rng {
  return new Rng((Math.imul(seed >>> 0, 0x9e3779b1) ^ Math.imul(dim, 0x85ebca6b) ^ Math.imul(tag, 0xc2b2ae35)) >>> 0);
}

/** O diag(λ) Oᵀ with log λ uniform in [−spread, spread]: random, with condition number ≤ e^(2·spread). */
function randomSpd(d: number, rng: Rng, spread: number): Matrix {
  const o = randomOrthogonal(d, rng);
  const lambdas = Array.from({ length: d }, () => Math.exp(spread * (2 * rng.next() - 1)));
  const od = new Float64Array(d * d);
  for (let i = 0; i < d; i++) for (let j = 0; j < d; j++) od[i * d + j] = o[i * d + j]! * lambdas[j]!;
  return symmetrize(matMul(od, transpose(o, d, d), d, d, d), d);
}

function normals(n: number, std: number, rng: Rng): Float64Array {
  return Float64Array.from({ length: n }, () => std * rng.normal());
}

/** The Gaussian pair in dimension `dim` for `seed`. */
export function gaussianPair(dim: number, seed: number): GaussianPair {
  const d = dim;
  const rng = pairRng(seed, d, 1);
  const covP = randomSpd(d, rng, 1);
  const covQ = randomSpd(d, rng, 1);
  const meanP = normals(d, 0.5, rng);
  const meanQ = normals(d, 0.5, rng);
  const rootP = sqrtm(covP, d);
  const invRootP = invSqrtm(covP, d);
  const middle = sqrtm(symmetrize(matMul(matMul(rootP, covQ, d, d, d), rootP, d, d, d), d), d);
  const A = symmetrize(matMul(matMul(invRootP, middle, d, d, d), invRootP, d, d, d), d);
  const rootQ = sqrtm(covQ, d);
  const optimalMap: VectorMap = (x, n) => {
    const out = new Float64Array(n * d);
    for (let i = 0; i < n; i++) {
      for (let a = 0; a < d; a++) {
        let s = meanQ[a]!;
        for (let b = 0; b < d; b++) s += A[a * d + b]! * (x[i * d + b]! - meanP[b]!);
        out[i * d + a] = s;
      }
    }
    return out;
  };
  return {
    name: 'gaussian',
    dim: d,
    source: (s) => new GaussianSampler({ mean: meanP, scale: rootP, seed: s }),
    target: (s) => new GaussianSampler({ mean: meanQ, scale: rootQ, seed: s }),
    optimalMap,
    targetVariance: trace(covQ, d),
    meanP,
    covP,
    meanQ,
    covQ,
    A,
  };
}

/**
 * The mixture pair in dimension `dim` for `seed`. P: a mixture of 6 Gaussians (per-coordinate variance ≈ 1).
 * ψ(x) = log Σ_j exp(q_j(x)), a log-sum-exp of J = 4 convex quadratics q_j(x) = ½ xᵀS_j x + b_jᵀx, so
 * T*(x) = ∇ψ(x) = Σ_j softmax_j(q(x)) (S_j x + b_j): a soft piecewise-affine map, each region of space with its
 * own stretch and shift (the best single affine map misses ~8–9% of Var(Q) for d ≥ 16; the identity ~30–40%).
 */
export function mixturePair(dim: number, seed: number): MixturePair {
  const d = dim;
  const rng = pairRng(seed, d, 2);
  const means = Array.from({ length: 6 }, () => normals(d, Math.sqrt(0.75), rng));
  const std = 0.5;
  const pieces = 4;
  const S = Array.from({ length: pieces }, () => randomSpd(d, rng, 1));
  const b = Array.from({ length: pieces }, () => normals(d, 0.75, rng));
  /** q_j(x) and ∇q_j(x) = S_j x + b_j for every piece. */
  const quadratics = (x: Float64Array, q: Float64Array, grads: Float64Array[]) => {
    for (let j = 0; j < pieces; j++) {
      const Sj = S[j]!;
      const bj = b[j]!;
      const gj = grads[j]!;
      let qj = 0;
      for (let a = 0; a < d; a++) {
        let sx = 0;
        for (let c = 0; c < d; c++) sx += Sj[a * d + c]! * x[c]!;
        gj[a] = sx + bj[a]!;
        qj += x[a]! * (0.5 * sx + bj[a]!);
      }
      q[j] = qj;
    }
  };
  const optimalMap: VectorMap = (x, n) => {
    const out = new Float64Array(n * d);
    const q = new Float64Array(pieces);
    const grads = Array.from({ length: pieces }, () => new Float64Array(d));
    for (let i = 0; i < n; i++) {
      quadratics(x.subarray(i * d, (i + 1) * d), q, grads);
      const top = Math.max(...q);
      let z = 0;
      for (let j = 0; j < pieces; j++) z += (q[j] = Math.exp(q[j]! - top));
      for (let j = 0; j < pieces; j++) {
        const wj = q[j]! / z;
        const gj = grads[j]!;
        for (let a = 0; a < d; a++) out[i * d + a] += wj * gj[a]!;
      }
    }
    return out;
  };
  const psi = (x: Float64Array): number => {
    const q = new Float64Array(pieces);
    quadratics(x, q, Array.from({ length: pieces }, () => new Float64Array(d)));
    const top = Math.max(...q);
    return top + Math.log(q.reduce((acc, v) => acc + Math.exp(v - top), 0));
  };
  const source = (s: number) => new GaussianMixtureSampler({ means, std, seed: s });
  // Var(Q) has no closed form here: estimate it once from 2^16 draws of T*(x) with a fixed seed.
  const n = 1 << 16;
  const targetVariance = totalVariance(optimalMap(source(0x5eed).sampleArray(n), n), n, d);
  return {
    name: 'mixture',
    dim: d,
    source,
    target: (s) => new PushforwardSampler(source(s), optimalMap),
    optimalMap,
    targetVariance,
    psi,
  };
}

/** E|y − E y|² of n row-major samples. */
export function totalVariance(y: ArrayLike<number>, n: number, d: number): number {
  let total = 0;
  for (let j = 0; j < d; j++) {
    let s = 0;
    let s2 = 0;
    for (let i = 0; i < n; i++) {
      const v = y[i * d + j]!;
      s += v;
      s2 += v * v;
    }
    total += s2 / n - (s / n) ** 2;
  }
  return total;
}

export function makePair(name: PairName, dim: number, seed: number): OtBenchmarkPair {
  return name === 'gaussian' ? gaussianPair(dim, seed) : mixturePair(dim, seed);
}
