import * as tf from '@tensorflow/tfjs-core';

/**
 * Pixel shuffle (sub-pixel convolution): [B, h, w, s·s·C] -> [B, h·s, w·s, C], with exactly the channel
 * order of `tf.depthToSpace(x, s, 'NHWC')` (output (h·s+i, w·s+j, c) reads input channel (i·s+j)·C + c).
 *
 * Written as reshape -> 4-D transpose -> reshape instead of calling `tf.depthToSpace` because tfjs-core
 * has no gradient for DepthToSpace, while reshape and transpose have gradients of every order; the cost is
 * one memory copy either way.
 */
export function pixelShuffle(x: tf.Tensor4D, s: number): tf.Tensor4D {
  if (s === 1) return x;
  return tf.tidy(() => {
    const [b, h, w, cs] = x.shape;
    const c = cs / (s * s);
    if (!Number.isInteger(c)) throw new Error(`pixelShuffle: ${cs} channels are not divisible by ${s}²`);
    // Rows (b, y) stay together; within a row the layout (x, i, j, c) becomes (i, x, j, c).
    const t = tf.transpose(tf.reshape(x, [b * h, w, s, s * c]), [0, 2, 1, 3]);
    return tf.reshape(t, [b, h * s, w * s, c]);
  });
}

/**
 * The filter of the sub-pixel conv that equals nearest-neighbour upsampling by `s` then a 'same' 3×3 conv with
 * `w` ([3, 3, cin, cout]): pixelShuffle(conv(x, resizeConvFilter(w, s)), s) is that resize conv exactly, borders
 * included, at the cost of one conv at LR resolution to s²·cout channels (what a pixel shuffle's conv costs)
 * instead of a conv at HR resolution. HR row s·y + i + dy reads LR row y + ⌊(i + dy)/s⌋, so each sub-pixel's
 * 3×3 filter is a sum of w's taps; s ≤ 3 keeps every read within one LR pixel.
 */
export function resizeConvFilter(w: tf.Tensor4D, s: number): tf.Tensor4D {
  const [kh, kw, cin, cout] = w.shape;
  if (kh !== 3 || kw !== 3 || !(s === 2 || s === 3)) throw new Error(`resizeConvFilter: needs a 3x3 filter and s = 2 or 3, got ${kh}x${kw}, s = ${s}`);
  return tf.tidy(() => {
    const sums = tf.matMul(tf.tensor2d(resizeConvTaps(s), [s * s * 9, 9]), tf.reshape(w, [9, cin * cout]));
    // [k, tap·cin, cout] -> [tap·cin, k, cout]: out channel k·cout + c is sub-pixel k's channel c (pixelShuffle's order).
    return tf.reshape(tf.transpose(tf.reshape(sums, [s * s, 9 * cin, cout]), [1, 0, 2]), [3, 3, cin, s * s * cout]);
  });
}

const tapsByFactor = new Map<number, Float32Array>();

/** Rows (sub-pixel k = i·s + j, LR tap), columns w's taps: which of w's taps each LR tap of each sub-pixel sums. Built once per s. */
function resizeConvTaps(s: number): Float32Array {
  let taps = tapsByFactor.get(s);
  if (!taps) {
    taps = new Float32Array(s * s * 9 * 9);
    for (let i = 0; i < s; i++) {
      for (let j = 0; j < s; j++) {
        for (let dy = -1; dy <= 1; dy++) {
          for (let dx = -1; dx <= 1; dx++) {
            const tap = (Math.floor((i + dy) / s) + 1) * 3 + Math.floor((j + dx) / s) + 1;
            taps[((i * s + j) * 9 + tap) * 9 + (dy + 1) * 3 + dx + 1] = 1;
          }
        }
      }
    }
    tapsByFactor.set(s, taps);
  }
  return taps;
}

/** 'same'-padded stride-1 conv with bias and an optional fused ReLU (the fast path on wasm). */
export function convSame(
  x: tf.Tensor4D,
  w: tf.Variable | tf.Tensor,
  b: tf.Variable | tf.Tensor | undefined,
  activation: 'linear' | 'relu' = 'linear',
): tf.Tensor4D {
  return tf.fused.conv2d({ x, filter: w as tf.Tensor4D, strides: 1, pad: 'same', bias: b, activation });
}

/**
 * Conv with bias as separate plain ops. Used where double backprop (gradient penalties) must go through:
 * fused kernels use custom gradients, whose own gradients tfjs-core does not promise.
 */
export function convSamePlain(x: tf.Tensor4D, w: tf.Variable | tf.Tensor, b?: tf.Variable | tf.Tensor): tf.Tensor4D {
  const y = tf.conv2d(x, w as tf.Tensor4D, 1, 'same');
  return b === undefined ? y : tf.add(y, b);
}
