/**
 * Quality of a learned map T against the known OT map T* of a benchmark pair (definitions of the
 * Wasserstein-2 benchmark, Korotin et al. 2021):
 *
 * - L2-UVP = 100 · E_P|T(x) − T*(x)|² / Var(Q)  (%; 0 is perfect, the identity map is typically ≥ 50).
 * - cosine = ⟨T − id, T* − id⟩ / (‖T − id‖ ‖T* − id‖) in L2(P)  (1 is perfect).
 * - pushforward = BW2²-UVP(T#P, Q) = 100 · BW2²(T#P, Q) / (½ Var(Q)) (%), the Bures–Wasserstein distance
 *   between the first two moments of T#P and of Q: it sees the *bias* of T#P directly (0 when T#P = Q).
 */
import * as tf from '@tensorflow/tfjs-core';
import { buresW2Squared, moments } from './ot-linalg.js';
import type { OtBenchmarkPair } from './ot-pairs.js';

export interface MapScores {
  l2uvp: number;
  cosine: number;
  pushforward: number;
}

/** Scores of a map given its values on test points x ~ P (n row-major samples of dimension d). */
export function scoreMap(
  x: ArrayLike<number>,
  tx: ArrayLike<number>,
  optimal: ArrayLike<number>,
  n: number,
  d: number,
  targetVariance: number,
): MapScores {
  let err = 0;
  let dot = 0;
  let nt = 0;
  let ns = 0;
  for (let i = 0; i < n * d; i++) {
    const u = tx[i]! - x[i]!;
    const v = optimal[i]! - x[i]!;
    err += (tx[i]! - optimal[i]!) ** 2;
    dot += u * v;
    nt += u * u;
    ns += v * v;
  }
  const l2uvp = (100 * err) / n / targetVariance;
  const cosine = nt > 0 && ns > 0 ? dot / Math.sqrt(nt * ns) : 0;
  // Q's moments from T*(x) on the same test points: Q = T*#P exactly, and sharing x cancels sampling noise.
  const mt = moments(tx, n, d);
  const mq = moments(optimal, n, d);
  const bw = buresW2Squared(mt.mean, mt.cov, mq.mean, mq.cov, d);
  return { l2uvp, cosine, pushforward: (100 * bw) / (0.5 * targetVariance) };
}

/**
 * Scores `map` (a network or any function on [n, d] tensors) on `samples` fresh test points of P drawn with
 * `seed`, in batches to bound memory.
 */
export async function evaluateMap(
  map: (x: tf.Tensor) => tf.Tensor,
  pair: OtBenchmarkPair,
  options: { samples?: number; seed?: number; batchSize?: number } = {},
): Promise<MapScores> {
  const n = options.samples ?? 4096;
  const batch = options.batchSize ?? 1024;
  const d = pair.dim;
  const x = pair.source(options.seed ?? 0x7e57).sampleArray(n);
  const xf = Float32Array.from(x);
  const tx = new Float32Array(n * d);
  for (let start = 0; start < n; start += batch) {
    const m = Math.min(batch, n - start);
    const out = tf.tidy(() => map(tf.tensor2d(xf.subarray(start * d, (start + m) * d), [m, d])));
    tx.set(await out.data(), start * d);
    out.dispose();
  }
  // Score against the float32 inputs the network saw, so that T = id scores exactly like the identity.
  return scoreMap(xf, tx, pair.optimalMap(Float64Array.from(xf), n), n, d, pair.targetVariance);
}
