import * as tf from '@tensorflow/tfjs-core';
import { UsageError } from '../errors.js';
import { Rng } from '../util/rng.js';
import { type ArchSpec, Module, heNormal, zeros } from './module.js';
import { convSame, pixelShuffle } from './ops.js';

export interface UnetOptions {
  inChannels: number;
  outChannels: number;
  /** Feature maps at full resolution; doubled at each level down. */
  base: number;
  /** Number of 2× downsamplings (0 = a plain conv stack). */
  depth: number;
  /**
   * Add the input to the output (needs inChannels === outChannels): a map that starts near the identity,
   * e.g. a correction of an upsampled image. The output conv then starts 10× smaller.
   */
  residual?: boolean;
  seed?: number;
}

/**
 * A small UNet for maps that keep the resolution, [B, H, W, inChannels] -> [B, H, W, outChannels], any H, W.
 *
 * Encoder: per level two conv 3×3 + ReLU, then a 2×2 average pool; widths base·2^level. Decoder: conv 3×3
 * to 4× the width + pixel shuffle ×2 (no resize kernel needed), concatenation with the encoder's features
 * at that level, two conv 3×3 + ReLU; a final 1×1 conv. Inputs whose sides are not multiples of 2^depth are
 * padded (symmetric reflection at the bottom/right) and the output cropped back.
 *
 * He-normal weights and zero biases: without normalisation layers, PyTorch's default init (uniform
 * ±1/√fanIn for weights and biases) shrinks the signal ~2.4× per ReLU conv, so after the ~10 convs of a
 * depth-2 UNet the output is nearly independent of the input and training stalls at a constant.
 */
export class Unet extends Module {
  readonly spec: ArchSpec;
  private readonly depth: number;
  private readonly residual: boolean;
  private readonly enc: DoubleConv[] = [];
  private readonly dec: { up: Conv; conv: DoubleConv }[] = [];
  private readonly out: Conv;

  constructor(options: UnetOptions) {
    super();
    const { inChannels, outChannels, base, depth, residual = false, seed = 0 } = options;
    checkInt('inChannels', inChannels, 1);
    checkInt('outChannels', outChannels, 1);
    checkInt('base', base, 1);
    checkInt('depth', depth, 0);
    if (depth > 8) throw new UsageError(`unet: depth must be <= 8, got ${depth}`);
    if (residual && inChannels !== outChannels) throw new UsageError('unet: residual needs inChannels === outChannels');
    this.spec = { kind: 'unet', inChannels, outChannels, base, depth, residual };
    this.depth = depth;
    this.residual = residual;
    const rng = new Rng(seed);
    const conv = (name: string, k: number, cin: number, cout: number, gain = 1): Conv => {
      const fanIn = k * k * cin;
      return {
        w: this.param(`${name}.w`, [k, k, cin, cout], heNormal(rng, fanIn * cout, fanIn, gain)),
        b: this.param(`${name}.b`, [cout], zeros(cout)),
      };
    };
    const doubleConv = (name: string, cin: number, cout: number): DoubleConv => [
      conv(`${name}.conv0`, 3, cin, cout),
      conv(`${name}.conv1`, 3, cout, cout),
    ];
    const width = (level: number) => base * 2 ** level;
    for (let l = 0; l <= depth; l++) this.enc.push(doubleConv(`enc${l}`, l === 0 ? inChannels : width(l - 1), width(l)));
    for (let l = depth - 1; l >= 0; l--) {
      this.dec.push({
        up: conv(`dec${l}.up`, 3, width(l + 1), 4 * width(l)),
        conv: doubleConv(`dec${l}`, 2 * width(l), width(l)),
      });
    }
    this.out = conv('out', 1, base, outChannels, residual ? 0.1 : 1);
  }

  apply(x: tf.Tensor): tf.Tensor4D {
    return tf.tidy(() => {
      const x4 = x as tf.Tensor4D;
      const [, h, w, c] = x4.shape;
      if (x4.rank !== 4 || c !== this.spec.inChannels) {
        throw new Error(`Unet: expected [B, H, W, ${this.spec.inChannels}], got [${x4.shape.join(', ')}]`);
      }
      const m = 2 ** this.depth;
      const ph = (m - (h % m)) % m, pw = (m - (w % m)) % m;
      let y = ph || pw ? padBottomRight(x4, ph, pw) : x4;
      const skips: tf.Tensor4D[] = [];
      this.enc.forEach((dc, l) => {
        if (l > 0) y = tf.avgPool(y, 2, 2, 'valid');
        y = applyDoubleConv(y, dc);
        skips.push(y);
      });
      this.dec.forEach(({ up, conv }, i) => {
        const skip = skips[this.depth - 1 - i]!;
        y = pixelShuffle(convSame(y, up.w, up.b), 2);
        y = applyDoubleConv(tf.concat([skip, y], 3), conv);
      });
      y = tf.conv2d(y, this.out.w as tf.Tensor4D, 1, 'valid');
      y = tf.add(y, this.out.b);
      if (ph || pw) y = tf.slice(y, [0, 0, 0, 0], [-1, h, w, -1]);
      return this.residual ? tf.add(y, x4) : y;
    });
  }
}

type Conv = { w: tf.Variable; b: tf.Variable };
type DoubleConv = [Conv, Conv];

function applyDoubleConv(x: tf.Tensor4D, [c0, c1]: DoubleConv): tf.Tensor4D {
  return convSame(convSame(x, c0.w, c0.b, 'relu'), c1.w, c1.b, 'relu');
}

/**
 * Pads the bottom and right edges by symmetric reflection (the edge pixel repeated, then the image mirrored),
 * falling back to zeros when the pad is larger than the image. Built from slice/reverse/concat rather than
 * tf.mirrorPad because tfjs-core's MirrorPad gradient only slices the centre out of dy and drops the
 * reflected contributions.
 */
export function padBottomRight(x: tf.Tensor4D, ph: number, pw: number): tf.Tensor4D {
  const [, h, w] = x.shape;
  if (ph > h || pw > w) return tf.pad(x, [[0, 0], [0, ph], [0, pw], [0, 0]]);
  let y = x;
  if (ph > 0) y = tf.concat([y, tf.reverse(tf.slice(y, [0, h - ph, 0, 0], [-1, ph, -1, -1]), 1)], 1);
  if (pw > 0) y = tf.concat([y, tf.reverse(tf.slice(y, [0, 0, w - pw, 0], [-1, -1, pw, -1]), 2)], 2);
  return y;
}

function checkInt(name: string, value: number, min: number): void {
  if (!Number.isInteger(value) || value < min) throw new UsageError(`unet: ${name} must be an integer >= ${min}, got ${value}`);
}
