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
