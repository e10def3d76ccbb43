import * as tf from '@tensorflow/tfjs-core';
import { UsageError } from '../errors.js';
import { Rng } from '../util/rng.js';
import { type ArchSpec, Module, torchDefaultUniform } from './module.js';
import { convSamePlain } from './ops.js';

export interface CriticOptions {
  /** Side of the square input images (the HR crop size). At least 4. */
  size: number;
  /** Feature maps at full resolution (reference: 64); doubled after each downsampling. */
  nFeats?: number;
  /** Cap on the feature maps (reference: 512). */
  maxFeats?: number;
  /** Residual scaling inside each block (reference: 0.1). */
  resRatio?: number;
  /**
   * σ in pixels of a Gaussian low-pass whose output is subtracted from the input: the critic then sees
   * only detail (noise, blur, JPEG blocks, texture), not colour or illumination. Unpaired LR and HR folders
   * hold different scenes, and a critic free to compare colours makes the map recolour its inputs rather
   * than restore them (frequency separation, Fritsche et al. 2019). 0 or absent: the whole image.
   */
  highpass?: number;
  seed?: number;
}

/** Defaults of the optional options (the reference's sizes). */
export const CRITIC_DEFAULTS = { nFeats: 64, maxFeats: 512, resRatio: 0.1 } as const;

const SLOPE = 0.2;
/** Kaiming-normal gain for LeakyReLU(0.2), as PyTorch computes it. */
const LEAKY_GAIN = Math.sqrt(2 / (1 + SLOPE * SLOPE));

/**
 * The potential f of neural OT: the ResNet critic of WGAN-QC as used by the OT super-resolution paper,
 * [B, size, size, 3] -> [B].
 *
 * conv 3×3 (3 -> nFeats) + LeakyReLU(0.2), then two residual blocks per resolution (the second one doubles
 * the width, up to maxFeats), with an average pool (3×3, stride 2, padding 1) between resolutions until the
 * side is about 4 (log2(size/4) times), then a linear head on the flattened features. A block is
 * LeakyReLU(shortcut(x) + resRatio · conv(LeakyReLU(conv(x)))), the shortcut a bias-free 1×1 conv where
 * the width changes. No normalisation layers, so per-sample input gradients (gradient penalties) are exact.
 *
 * Differences from the PyTorch reference that do not change the architecture: NHWC layout (so the
 * flatten order differs) and a head sized by the real final side (the reference assumes exactly 4). Initialisation as
 * the reference's `weights_init_D`: Kaiming-normal convs (fan-out, LeakyReLU 0.2), PyTorch-default biases
 * and linear layer.
 *
 * Built from plain (unfused) ops so that double backprop works once the engine registers the gradients of
 * the gradient kernels (Greater for LeakyReLU, AvgPoolGrad).
 */
export class Critic extends Module {
  readonly spec: ArchSpec;
  readonly size: number;
  private readonly convImg: Conv;
  /** Stages separated by average pools; each holds two residual blocks. */
  private readonly stages: Block[][] = [];
  private readonly fc: { w: tf.Variable; b: tf.Variable };
  /** Separable Gaussian taps ([k,1,3,3] and [1,k,3,3], channel-diagonal) when `highpass` > 0. */
  private readonly lowpass: { vertical: tf.Tensor4D; horizontal: tf.Tensor4D; radius: number } | undefined;

  constructor(options: CriticOptions) {
    super();
    const { size, nFeats = CRITIC_DEFAULTS.nFeats, maxFeats = CRITIC_DEFAULTS.maxFeats, resRatio = CRITIC_DEFAULTS.resRatio, highpass = 0, seed = 0 } = options;
    checkInt('size', size, 4);
    checkInt('nFeats', nFeats, 1);
    checkInt('maxFeats', maxFeats, nFeats);
    if (!Number.isFinite(resRatio)) throw new UsageError(`critic: resRatio must be a number, got ${resRatio}`);
    if (!(Number.isFinite(highpass) && highpass >= 0)) throw new UsageError(`critic: highpass must be a sigma >= 0, got ${highpass}`);
    this.spec = { kind: 'critic', size, nFeats, maxFeats, resRatio, ...(highpass > 0 ? { highpass } : {}) };
    this.lowpass = highpass > 0 ? gaussianTaps(highpass, size) : undefined;
    this.size = size;
    const rng = new Rng(seed);

    const weight = (name: string, k: number, cin: number, cout: number): tf.Variable =>
      this.param(name, [k, k, cin, cout], rng.normals(k * k * cin * cout, LEAKY_GAIN / Math.sqrt(k * k * cout)));
    const conv = (name: string, cin: number, cout: number): Conv => ({
      w: weight(`${name}.w`, 3, cin, cout),
      b: this.param(`${name}.b`, [cout], torchDefaultUniform(rng, cout, 9 * cin)),
    });
    const block = (name: string, fin: number, fout: number): Block => {
      const hidden = Math.min(fin, fout);
      return {
        c0: conv(`${name}.conv0`, fin, hidden),
        c1: conv(`${name}.conv1`, hidden, fout),
        shortcut: fin !== fout ? weight(`${name}.shortcut.w`, 1, fin, fout) : undefined,
        resRatio,
      };
    };

    const nLayers = Math.floor(Math.log2(size / 4));
    this.convImg = conv('conv_img', 3, nFeats);
    let side = size;
    for (let i = 0; i <= nLayers; i++) {
      if (i > 0) side = Math.floor((side - 1) / 2) + 1; // avgPool 3/2/1
      const f0 = Math.min(nFeats * 2 ** i, maxFeats);
      const f1 = Math.min(nFeats * 2 ** (i + 1), maxFeats);
      this.stages.push([block(`stage${i}.block0`, f0, f0), block(`stage${i}.block1`, f0, f1)]);
    }
    const fcIn = side * side * Math.min(nFeats * 2 ** (nLayers + 1), maxFeats);
    this.fc = {
      w: this.param('fc.w', [fcIn, 1], torchDefaultUniform(rng, fcIn, fcIn)),
      b: this.param('fc.b', [1], torchDefaultUniform(rng, 1, fcIn)),
    };
  }

  override dispose(): void {
    super.dispose();
    if (this.lowpass) tf.dispose([this.lowpass.vertical, this.lowpass.horizontal]);
  }

  /** f(x) for a batch [B, size, size, 3] -> [B]. */
  apply(x: tf.Tensor): tf.Tensor1D {
    return tf.tidy(() => {
      const x4 = x as tf.Tensor4D;
      const [b, h, w, c] = x4.shape;
      if (x4.rank !== 4 || h !== this.size || w !== this.size || c !== 3) {
        throw new Error(`Critic: expected [B, ${this.size}, ${this.size}, 3], got [${x4.shape.join(', ')}]`);
      }
      const input: tf.Tensor4D = this.lowpass ? tf.sub(x4, blur(x4, this.lowpass)) : x4;
      let y = tf.leakyRelu(convSamePlain(input, this.convImg.w, this.convImg.b), SLOPE);
      this.stages.forEach((blocks, i) => {
        if (i > 0) y = downsample(y);
        for (const blk of blocks) y = applyBlock(y, blk);
      });
      const flat = tf.reshape(y, [b, -1]) as tf.Tensor2D;
      return tf.reshape(tf.add(tf.matMul(flat, this.fc.w as tf.Tensor2D), this.fc.b), [b]) as tf.Tensor1D;
    });
  }
}

/** Normalised 1-D Gaussian of radius ⌈3σ⌉ (at most size − 1, which reflect padding allows), as channel-diagonal conv filters. */
function gaussianTaps(sigma: number, size: number): { vertical: tf.Tensor4D; horizontal: tf.Tensor4D; radius: number } {
  const radius = Math.max(1, Math.min(Math.ceil(3 * sigma), size - 1));
  const k = 2 * radius + 1;
  const g = Array.from({ length: k }, (_, i) => Math.exp(-((i - radius) ** 2) / (2 * sigma * sigma)));
  const total = g.reduce((a, b) => a + b, 0);
  const taps = new Float32Array(k * 9);
  g.forEach((v, i) => {
    for (let c = 0; c < 3; c++) taps[i * 9 + c * 3 + c] = v / total;
  });
  return {
    vertical: tf.keep(tf.tensor4d(taps, [k, 1, 3, 3])),
    horizontal: tf.keep(tf.tensor4d(taps, [1, k, 3, 3])),
    radius,
  };
}

/** Gaussian blur with reflected borders (zero padding would make every crop's border look like an edge). */
function blur(x: tf.Tensor4D, { vertical, horizontal, radius }: { vertical: tf.Tensor4D; horizontal: tf.Tensor4D; radius: number }): tf.Tensor4D {
  const padded = tf.mirrorPad(x, [[0, 0], [radius, radius], [radius, radius], [0, 0]], 'reflect');
  return tf.conv2d(tf.conv2d(padded, vertical, 1, 'valid'), horizontal, 1, 'valid');
}

interface Conv {
  w: tf.Variable;
  b: tf.Variable;
}
interface Block {
  c0: Conv;
  c1: Conv;
  shortcut: tf.Variable | undefined;
  resRatio: number;
}

/**
 * Average pool 3×3, stride 2, zero padding 1, dividing every window by 9 (PyTorch's AvgPool2d default).
 * The padding is explicit because TF.js's own padded average pool is inconsistent: its forward pass
 * divides border windows by their in-image count while its AvgPoolGrad (cpu and wasm) divides by 9, so
 * its gradients are wrong at the borders. A 'valid' pool of a padded tensor has exact gradients.
 */
function downsample(x: tf.Tensor4D): tf.Tensor4D {
  return tf.avgPool(tf.pad(x, [[0, 0], [1, 1], [1, 1], [0, 0]]), 3, 2, 'valid');
}

function applyBlock(x: tf.Tensor4D, { c0, c1, shortcut, resRatio }: Block): tf.Tensor4D {
  const xs = shortcut ? tf.conv2d(x, shortcut as tf.Tensor4D, 1, 'valid') : x;
  const dx = convSamePlain(tf.leakyRelu(convSamePlain(x, c0.w, c0.b), SLOPE), c1.w, c1.b);
  return tf.leakyRelu(tf.add(xs, tf.mul(dx, resRatio)), SLOPE) as tf.Tensor4D;
}

function checkInt(name: string, value: number, min: number): void {
  if (!Number.isInteger(value) || value < min) throw new UsageError(`critic: ${name} must be an integer >= ${min}, got ${value}`);
}
