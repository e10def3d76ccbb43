import * as tf from '@tensorflow/tfjs-core';
import { Rng } from '../util/rng.js';
import { type ArchSpec, Module, heNormal, zeros } from './module.js';

export interface MlpOptions {
  /** Input dimension. */
  inDim: number;
  /** Widths of the hidden layers. */
  hidden: number[];
  /** Output dimension (1 for a potential, inDim for a map). */
  outDim: number;
  /** Hidden activation. */
  activation?: 'relu' | 'leakyRelu' | 'elu' | 'softplus';
  /** Add the input to the output (a map that starts near the identity). Needs outDim === inDim. */
  residual?: boolean;
  seed?: number;
}

/** A fully connected network on [batch, inDim] tensors: maps and potentials for vector benchmarks. */
export class Mlp extends Module {
  readonly spec: ArchSpec;
  private readonly layers: { w: tf.Variable; b: tf.Variable }[] = [];
  private readonly activation: NonNullable<MlpOptions['activation']>;
  private readonly residual: boolean;

  constructor(options: MlpOptions) {
    super();
    const { inDim, hidden, outDim, activation = 'relu', residual = false, seed = 0 } = options;
    if (residual && inDim !== outDim) throw new Error('Mlp: residual needs outDim === inDim');
    this.spec = { kind: 'mlp', inDim, hidden: [...hidden], outDim, activation, residual };
    this.activation = activation;
    this.residual = residual;
    const rng = new Rng(seed);
    const widths = [inDim, ...hidden, outDim];
    for (let i = 0; i + 1 < widths.length; i++) {
      const [fanIn, fanOut] = [widths[i]!, widths[i + 1]!];
      const last = i + 2 === widths.length;
      // The last layer starts small so that a residual map starts close to the identity.
      const w = this.param(`l${i}.w`, [fanIn, fanOut], heNormal(rng, fanIn * fanOut, fanIn, last && residual ? 0.1 : 1));
      const b = this.param(`l${i}.b`, [fanOut], zeros(fanOut));
      this.layers.push({ w, b });
    }
  }

  apply(x: tf.Tensor): tf.Tensor {
    return tf.tidy(() => {
      let h = x as tf.Tensor2D;
      this.layers.forEach(({ w, b }, i) => {
        h = tf.add(tf.matMul(h, w as tf.Tensor2D), b);
        if (i + 1 < this.layers.length) h = activate(h, this.activation);
      });
      return this.residual ? tf.add(x, h) : h;
    });
  }
}

function activate(h: tf.Tensor2D, kind: NonNullable<MlpOptions['activation']>): tf.Tensor2D {
  switch (kind) {
    case 'relu':
      return tf.relu(h);
    case 'leakyRelu':
      return tf.leakyRelu(h, 0.2);
    case 'elu':
      return tf.elu(h);
    case 'softplus':
      return tf.softplus(h);
  }
}
