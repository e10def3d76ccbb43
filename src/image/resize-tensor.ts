/**
 * Bicubic upsampling by an integer factor as differentiable TF.js ops: the transport cost's reference
 * upsampler U and EDSR's global skip.
 *
 * Semantics are PyTorch's `F.interpolate(x, scale_factor=s, mode='bicubic', align_corners=False)`:
 * Keys cubic a = -0.75, output pixel o samples input coordinate (o + 0.5) / s - 0.5, border replicated
 * (see `resizeBicubic(..., { kernel: 'torch' })`, the plain-JS definition this is tested against).
 *
 * For an integer factor every output phase p (o = s * i + p) is a fixed 4-tap filter around input i, so
 * the whole thing is two separable passes of convolutions with s output phases each, followed by
 * reshapes that interleave the phases (no gathers): fast on wasm/XNNPACK and differentiable with stock
 * gradients (conv2d, concat, slice, reshape, transpose).
 */
import * as tf from '@tensorflow/tfjs-core';
import { cubic } from './resize.js';

/** Filter radius: every phase's 4 taps lie within offsets -2..2 of the input sample. */
const R = 2;

/**
 * The 5-tap filter of each phase: taps[p][k] weighs input i + k - 2 for output s * i + p.
 * Computed in float64 from the definition.
 */
export function upsamplePhaseTaps(scale: number): number[][] {
  const out: number[][] = [];
  for (let p = 0; p < scale; p++) {
    const d = (p + 0.5) / scale - 0.5; // source offset from input i, in (-0.5, 0.5)
    const i0 = Math.floor(d);
    const t = d - i0;
    const taps = new Array<number>(2 * R + 1).fill(0);
    for (let k = 0; k < 4; k++) taps[i0 - 1 + k + R] = cubic(t - (k - 1), -0.75);
    out.push(taps);
  }
  return out;
}

/** Repeats the first and last slices along `axis` R times (replicate padding; tf.pad has no 'edge' mode). */
function padEdge(x: tf.Tensor4D, axis: 1 | 2): tf.Tensor4D {
  const n = x.shape[axis];
  // Fresh arrays per slice: tfjs keeps `begin`/`size` by reference for the gradient, so never mutate them.
  const at = (i: number): [number, number, number, number] => (axis === 1 ? [0, i, 0, 0] : [0, 0, i, 0]);
  const size: [number, number, number, number] = axis === 1 ? [-1, 1, -1, -1] : [-1, -1, 1, -1];
  const first = tf.slice(x, at(0), size);
  const last = tf.slice(x, at(n - 1), size);
  const parts: tf.Tensor4D[] = [];
  for (let i = 0; i < R; i++) parts.push(first);
  parts.push(x);
  for (let i = 0; i < R; i++) parts.push(last);
  return tf.concat(parts, axis);
}

/**
 * A [kh, kw, C, s * C] filter applying phase p's taps to channel c into output channel p * C + c
 * (block-diagonal over channels, so output channels come out phase-major and a reshape interleaves them).
 */
function phaseFilter(taps: number[][], channels: number, vertical: boolean): tf.Tensor4D {
  const s = taps.length;
  const K = 2 * R + 1;
  const data = new Float32Array(K * channels * s * channels);
  for (let k = 0; k < K; k++) {
    for (let c = 0; c < channels; c++) {
      for (let p = 0; p < s; p++) data[(k * channels + c) * s * channels + p * channels + c] = taps[p]![k]!;
    }
  }
  return tf.tensor4d(data, vertical ? [K, 1, channels, s * channels] : [1, K, channels, s * channels]);
}

/**
 * Bicubic upsampling of an NHWC batch by an integer `scale` (PyTorch bicubic, align_corners=False).
 * Returns a new tensor [b, h * scale, w * scale, c]; `x` is not disposed. Differentiable in `x`.
 */
export function upsampleBicubic(x: tf.Tensor4D, scale: number): tf.Tensor4D {
  if (!Number.isInteger(scale) || scale < 1) throw new RangeError(`upsampleBicubic: scale must be a positive integer, got ${scale}`);
  if (x.rank !== 4) throw new RangeError(`upsampleBicubic: expected an NHWC tensor, got shape [${x.shape.join(', ')}]`);
  if (scale === 1) return tf.clone(x);
  return tf.tidy(() => {
    const [b, h, w, c] = x.shape;
    const taps = upsamplePhaseTaps(scale);
    const xf: tf.Tensor4D = x.dtype === 'float32' ? x : tf.cast(x, 'float32');
    // Width pass: [b, h, w, s*c] with channel p*c + ch  ==  [b, h, w*s, c] in row-major order.
    const across = tf.conv2d(padEdge(xf, 2), phaseFilter(taps, c, false), 1, 'valid');
    const wide: tf.Tensor4D = tf.reshape(across, [b, h, w * scale, c]);
    // Height pass: [b, h, w*s, s*c]; the phase must move next to h: [b, h, s, w*s, c].
    const down = tf.conv2d(padEdge(wide, 1), phaseFilter(taps, c, true), 1, 'valid');
    const split = tf.reshape(down, [b, h, w * scale, scale, c]);
    const moved = tf.transpose(split, [0, 1, 3, 2, 4]);
    return tf.reshape(moved, [b, h * scale, w * scale, c]);
  });
}
