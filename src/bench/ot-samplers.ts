import * as tf from '@tensorflow/tfjs-core';
import type { Sampler } from '../data/sampler.js';
import { Rng } from '../util/rng.js';
import type { Matrix } from './ot-linalg.js';

/** A batch map on row-major float64 vectors: n samples of dimension d in, n samples out. */
export type VectorMap = (x: Float64Array, n: number) => Float64Array;

/**
 * A {@link Sampler} of d-dimensional vectors whose draws are computed in float64 on the JS side (so that the
 * benchmark can apply known maps exactly) and handed to TF.js as [batch, d] float32 tensors.
 */
export abstract class VectorSampler implements Sampler {
  readonly shape: readonly number[];
  constructor(readonly dim: number) {
    this.shape = [dim];
  }

  /** n samples, row-major (n·d numbers). Advances the sampler's RNG. */
  abstract sampleArray(n: number): Float64Array;
  abstract getState(): unknown;
  abstract setState(state: unknown): void;

  async sample(batch: number): Promise<tf.Tensor> {
    return tf.tensor2d(Float32Array.from(this.sampleArray(batch)), [batch, this.dim], 'float32');
  }
}

function rngState(state: unknown): number[] {
  if (!Array.isArray(state) || state.length !== 4 || !state.every((w) => Number.isInteger(w))) {
    throw new Error(`invalid sampler state ${JSON.stringify(state)}: expected 4 RNG words`);
  }
  return state as number[];
}

export interface GaussianSamplerOptions {
  mean: Float64Array;
  /** L with covariance L Lᵀ (row-major d×d): x = mean + L z, z ~ N(0, I). */
  scale: Matrix;
  seed: number;
}

/** N(mean, L Lᵀ). */
export class GaussianSampler extends VectorSampler {
  private readonly rng: Rng;
  private readonly mean: Float64Array;
  private readonly scale: Matrix;

  constructor(options: GaussianSamplerOptions) {
    super(options.mean.length);
    if (options.scale.length !== this.dim * this.dim) throw new Error('GaussianSampler: scale must be d×d');
    this.mean = options.mean;
    this.scale = options.scale;
    this.rng = new Rng(options.seed);
  }

  sampleArray(n: number): Float64Array {
    const d = this.dim;
    const out = new Float64Array(n * d);
    const z = new Float64Array(d);
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < d; j++) z[j] = this.rng.normal();
      for (let a = 0; a < d; a++) {
        let s = this.mean[a]!;
        for (let b = 0; b < d; b++) s += this.scale[a * d + b]! * z[b]!;
        out[i * d + a] = s;
      }
    }
    return out;
  }

  getState(): unknown {
    return this.rng.getState();
  }

  setState(state: unknown): void {
    this.rng.setState(rngState(state));
  }
}

export interface GaussianMixtureSamplerOptions {
  /** Component means, each of length d. */
  means: Float64Array[];
  /** Isotropic standard deviation of every component. */
  std: number;
  /** Mixture weights (normalised here). Default: uniform. */
  weights?: number[];
  seed: number;
}

/** Σ_k w_k N(mean_k, std² I). */
export class GaussianMixtureSampler extends VectorSampler {
  private readonly rng: Rng;
  private readonly means: Float64Array[];
  private readonly std: number;
  private readonly cumulative: number[];

  constructor(options: GaussianMixtureSamplerOptions) {
    super(options.means[0]?.length ?? 0);
    if (options.means.length === 0) throw new Error('GaussianMixtureSampler needs at least one component');
    this.means = options.means;
    this.std = options.std;
    const w = options.weights ?? options.means.map(() => 1);
    const total = w.reduce((a, b) => a + b, 0);
    let acc = 0;
    this.cumulative = w.map((wi) => (acc += wi / total));
    this.rng = new Rng(options.seed);
  }

  sampleArray(n: number): Float64Array {
    const d = this.dim;
    const out = new Float64Array(n * d);
    for (let i = 0; i < n; i++) {
      const u = this.rng.next();
      let k = this.cumulative.findIndex((c) => u < c);
      if (k < 0) k = this.means.length - 1;
      const mu = this.means[k]!;
      for (let j = 0; j < d; j++) out[i * d + j] = mu[j]! + this.std * this.rng.normal();
    }
    return out;
  }

  getState(): unknown {
    return this.rng.getState();
  }

  setState(state: unknown): void {
    this.rng.setState(rngState(state));
  }
}

/** T#P: draws x ~ P from `base` and returns map(x) (e.g. ∇ψ for a convex ψ, giving Q with a known OT map). */
export class PushforwardSampler extends VectorSampler {
  constructor(
    private readonly base: VectorSampler,
    private readonly map: VectorMap,
  ) {
    super(base.dim);
  }

  sampleArray(n: number): Float64Array {
    return this.map(this.base.sampleArray(n), n);
  }

  getState(): unknown {
    return this.base.getState();
  }

  setState(state: unknown): void {
    this.base.setState(state);
  }
}
