/**
 * Small dense linear algebra in float64 for the OT benchmark (d ≤ a few hundred): symmetric
 * eigendecomposition by cyclic Jacobi rotations, matrix functions of symmetric matrices, moments.
 * Matrices are row-major Float64Arrays of d·d entries.
 */
import type { Rng } from '../util/rng.js';

export type Matrix = Float64Array;

export function identity(d: number): Matrix {
  const m = new Float64Array(d * d);
  for (let i = 0; i < d; i++) m[i * d + i] = 1;
  return m;
}

/** a (n×k) · b (k×m). */
export function matMul(a: Matrix, b: Matrix, n: number, k: number, m: number): Matrix {
  const out = new Float64Array(n * m);
  for (let i = 0; i < n; i++) {
    for (let p = 0; p < k; p++) {
      const aip = a[i * k + p]!;
      if (aip === 0) continue;
      for (let j = 0; j < m; j++) out[i * m + j] += aip * b[p * m + j]!;
    }
  }
  return out;
}

export function transpose(a: Matrix, n: number, m: number): Matrix {
  const out = new Float64Array(n * m);
  for (let i = 0; i < n; i++) for (let j = 0; j < m; j++) out[j * n + i] = a[i * m + j]!;
  return out;
}

export function trace(a: Matrix, d: number): number {
  let t = 0;
  for (let i = 0; i < d; i++) t += a[i * d + i]!;
  return t;
}

/**
 * Eigendecomposition of a symmetric d×d matrix: A = V diag(values) Vᵀ, V's columns the eigenvectors.
 * Cyclic Jacobi: slow for big d but accurate and dependency-free, which is all the benchmark needs.
 */
export function symEig(a: Matrix, d: number): { values: Float64Array; vectors: Matrix } {
  const m = Float64Array.from(a);
  const v = identity(d);
  for (let sweep = 0; sweep < 100; sweep++) {
    let off = 0;
    let diag = 0;
    for (let i = 0; i < d; i++) {
      diag += m[i * d + i]! ** 2;
      for (let j = i + 1; j < d; j++) off += m[i * d + j]! ** 2;
    }
    if (off <= 1e-30 * Math.max(diag, 1e-300)) break;
    for (let p = 0; p < d; p++) {
      for (let q = p + 1; q < d; q++) {
        const apq = m[p * d + q]!;
        if (Math.abs(apq) < 1e-300) continue;
        const app = m[p * d + p]!;
        const aqq = m[q * d + q]!;
        const theta = (aqq - app) / (2 * apq);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const s = t * c;
        // Rotate rows/columns p and q of m, and columns p and q of v.
        for (let k = 0; k < d; k++) {
          const mkp = m[k * d + p]!;
          const mkq = m[k * d + q]!;
          m[k * d + p] = c * mkp - s * mkq;
          m[k * d + q] = s * mkp + c * mkq;
        }
        for (let k = 0; k < d; k++) {
          const mpk = m[p * d + k]!;
          const mqk = m[q * d + k]!;
          m[p * d + k] = c * mpk - s * mqk;
          m[q * d + k] = s * mpk + c * mqk;
        }
        for (let k = 0; k < d; k++) {
          const vkp = v[k * d + p]!;
          const vkq = v[k * d + q]!;
          v[k * d + p] = c * vkp - s * vkq;
          v[k * d + q] = s * vkp + c * vkq;
        }
      }
    }
  }
  const values = new Float64Array(d);
  for (let i = 0; i < d; i++) values[i] = m[i * d + i]!;
  return { values, vectors: v };
}

/** f(A) = V diag(f(λ)) Vᵀ for a symmetric A. */
export function symFunction(a: Matrix, d: number, f: (lambda: number) => number): Matrix {
  const { values, vectors } = symEig(a, d);
  const out = new Float64Array(d * d);
  for (let k = 0; k < d; k++) {
    const fk = f(values[k]!);
    for (let i = 0; i < d; i++) {
      const vik = vectors[i * d + k]! * fk;
      if (vik === 0) continue;
      for (let j = 0; j < d; j++) out[i * d + j] += vik * vectors[j * d + k]!;
    }
  }
  return out;
}

/** Principal square root of a symmetric positive semi-definite matrix (tiny negative eigenvalues clamp to 0). */
export function sqrtm(a: Matrix, d: number): Matrix {
  return symFunction(a, d, (l) => Math.sqrt(Math.max(l, 0)));
}

export function invSqrtm(a: Matrix, d: number): Matrix {
  return symFunction(a, d, (l) => 1 / Math.sqrt(l));
}

/** (A + Aᵀ)/2: removes round-off asymmetry before an eigendecomposition. */
export function symmetrize(a: Matrix, d: number): Matrix {
  const out = new Float64Array(d * d);
  for (let i = 0; i < d; i++) for (let j = 0; j < d; j++) out[i * d + j] = 0.5 * (a[i * d + j]! + a[j * d + i]!);
  return out;
}

/** A random d×d orthogonal matrix (Gram–Schmidt on Gaussian columns; Haar-distributed). */
export function randomOrthogonal(d: number, rng: Rng): Matrix {
  const q = new Float64Array(d * d);
  for (let j = 0; j < d; j++) {
    const col = new Float64Array(d);
    for (;;) {
      for (let i = 0; i < d; i++) col[i] = rng.normal();
      for (let k = 0; k < j; k++) {
        let dot = 0;
        for (let i = 0; i < d; i++) dot += col[i]! * q[i * d + k]!;
        for (let i = 0; i < d; i++) col[i] -= dot * q[i * d + k]!;
      }
      let n = 0;
      for (let i = 0; i < d; i++) n += col[i]! ** 2;
      n = Math.sqrt(n);
      if (n > 1e-8) {
        for (let i = 0; i < d; i++) q[i * d + j] = col[i]! / n;
        break;
      }
    }
  }
  return q;
}

/** Sample mean and (biased, 1/n) covariance of n row-major samples of dimension d. */
export function moments(x: ArrayLike<number>, n: number, d: number): { mean: Float64Array; cov: Matrix } {
  const mean = new Float64Array(d);
  for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) mean[j] += x[i * d + j]!;
  for (let j = 0; j < d; j++) mean[j] /= n;
  const cov = new Float64Array(d * d);
  const c = new Float64Array(d);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < d; j++) c[j] = x[i * d + j]! - mean[j]!;
    for (let a = 0; a < d; a++) {
      const ca = c[a]!;
      for (let b = a; b < d; b++) cov[a * d + b] += ca * c[b]!;
    }
  }
  for (let a = 0; a < d; a++) {
    for (let b = a; b < d; b++) {
      cov[a * d + b] /= n;
      cov[b * d + a] = cov[a * d + b]!;
    }
  }
  return { mean, cov };
}

/**
 * Squared Bures–Wasserstein distance between N(m1, S1) and N(m2, S2), i.e. W2² of the Gaussians with these
 * moments: |m1 − m2|² + tr S1 + tr S2 − 2 tr (S1^½ S2 S1^½)^½.
 */
export function buresW2Squared(m1: Float64Array, s1: Matrix, m2: Float64Array, s2: Matrix, d: number): number {
  let dm = 0;
  for (let i = 0; i < d; i++) dm += (m1[i]! - m2[i]!) ** 2;
  const r1 = sqrtm(s1, d);
  const inner = symmetrize(matMul(matMul(r1, s2, d, d, d), r1, d, d, d), d);
  const { values } = symEig(inner, d);
  let cross = 0;
  for (const l of values) cross += Math.sqrt(Math.max(l, 0));
  return Math.max(dm + trace(s1, d) + trace(s2, d) - 2 * cross, 0);
}
