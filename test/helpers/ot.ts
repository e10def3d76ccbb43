import * as tf from '@tensorflow/tfjs-core';
import { gaussianPair } from '../../src/bench/ot-pairs.js';
import { Mlp } from '../../src/nn/mlp.js';
import type { Module } from '../../src/nn/module.js';
import { QuadraticCost } from '../../src/ot/cost.js';
import type { OtNetworks, OtProblem } from '../../src/ot/problem.js';
import { Rng } from '../../src/util/rng.js';

/** The d-dimensional Gaussian benchmark pair as an OT problem, with an MLP map and potential. */
export function vectorSetup(dim: number, options: { hidden?: number[]; seed?: number } = {}) {
  const seed = options.seed ?? 0;
  const hidden = options.hidden ?? [64, 64];
  const pair = gaussianPair(dim, seed);
  const problem: OtProblem = {
    source: pair.source(seed + 1),
    target: pair.target(seed + 2),
    cost: new QuadraticCost({ reduction: 'sum' }),
  };
  const networks: OtNetworks = {
    map: new Mlp({ inDim: dim, hidden, outDim: dim, residual: true, seed: seed + 3 }),
    potential: new Mlp({ inDim: dim, hidden, outDim: 1, seed: seed + 4 }),
  };
  const dispose = () => {
    networks.map.dispose();
    networks.potential.dispose();
  };
  return { pair, problem, networks, dispose };
}

/** All parameter values of a module, flattened in order (for bit-exact comparisons). */
export async function flatParams(m: Module): Promise<number[]> {
  const out: number[] = [];
  for (const v of m.params.values()) out.push(...(await v.data()));
  return out;
}

/** Random images in [-1, 1] from a seeded Rng, as a Sampler. */
export class ImageNoiseSampler {
  private readonly rng: Rng;
  constructor(readonly shape: readonly number[], seed: number) {
    this.rng = new Rng(seed);
  }
  async sample(batch: number): Promise<tf.Tensor> {
    const n = batch * this.shape.reduce((a, b) => a * b, 1);
    const v = new Float32Array(n);
    for (let i = 0; i < n; i++) v[i] = 2 * this.rng.next() - 1;
    return tf.tensor(v, [batch, ...this.shape]);
  }
  getState(): unknown {
    return this.rng.getState();
  }
  setState(state: unknown): void {
    this.rng.setState(state as number[]);
  }
}
