import * as tf from '@tensorflow/tfjs-core';
import { gaussianPair } from '../../src/bench/ot-pairs.js';
import { Mlp } from '../../src/nn/mlp.js';
import { type ArchSpec, Module, heNormal, zeros } from '../../src/nn/module.js';
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

/** A tiny ×2 image map: nearest upsampling, then a residual 3×3 conv ([B,h,w,3] → [B,2h,2w,3]). */
export class TinyUpscaler extends Module {
  readonly spec: ArchSpec = { kind: 'tiny-upscaler' };
  private readonly w: tf.Variable;
  private readonly b: tf.Variable;
  constructor(seed: number) {
    super();
    const rng = new Rng(seed);
    this.w = this.param('conv.w', [3, 3, 3, 3], heNormal(rng, 81, 27, 0.1));
    this.b = this.param('conv.b', [3], zeros(3));
  }
  apply(x: tf.Tensor): tf.Tensor {
    return tf.tidy(() => {
      const x4 = x as tf.Tensor4D;
      const up = tf.image.resizeNearestNeighbor(x4, [x4.shape[1] * 2, x4.shape[2] * 2]);
      return tf.add(up, tf.add(tf.conv2d(up, this.w as tf.Tensor4D, 1, 'same'), this.b));
    });
  }
}

/** A tiny image critic: strided conv, ReLU, global mean, linear ([B,H,W,3] → [B,1]). */
export class TinyCritic extends Module {
  readonly spec: ArchSpec = { kind: 'tiny-critic' };
  private readonly w: tf.Variable;
  private readonly v: tf.Variable;
  constructor(seed: number) {
    super();
    const rng = new Rng(seed);
    this.w = this.param('conv.w', [3, 3, 3, 8], heNormal(rng, 216, 27));
    this.v = this.param('fc.w', [8, 1], heNormal(rng, 8, 8));
  }
  apply(x: tf.Tensor): tf.Tensor {
    return tf.tidy(() => {
      const h = tf.relu(tf.conv2d(x as tf.Tensor4D, this.w as tf.Tensor4D, 2, 'same'));
      return tf.matMul(tf.mean(h, [1, 2]) as tf.Tensor2D, this.v as tf.Tensor2D);
    });
  }
}

/** Random images in [0, 1] from a seeded Rng, as a Sampler. */
export class ImageNoiseSampler {
  private readonly rng: Rng;
  constructor(readonly shape: readonly number[], seed: number) {
    this.rng = new Rng(seed);
  }
  async sample(batch: number): Promise<tf.Tensor> {
    const n = batch * this.shape.reduce((a, b) => a * b, 1);
    const v = new Float32Array(n);
    for (let i = 0; i < n; i++) v[i] = this.rng.next();
    return tf.tensor(v, [batch, ...this.shape]);
  }
  getState(): unknown {
    return this.rng.getState();
  }
  setState(state: unknown): void {
    this.rng.setState(state as number[]);
  }
}
