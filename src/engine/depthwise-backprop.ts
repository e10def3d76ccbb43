import * as tf from '@tensorflow/tfjs-core';

/**
 * The two gradients of a depthwise convolution (NHWC), which tfjs-backend-wasm 4.22 lacks, as plain JS loops on
 * the tensors' data. Forward definition (depth multiplier m, output channel c·m + k):
 *
 *     y[b, r, s, c·m + k] = Σ_{i, j} x[b, r·sh + i·dh − top, s·sw + j·dw − left, c] · w[i, j, c, k]
 *
 * Both loops run over (b, r, s, i, j) and then over the channels, innermost and contiguous, accumulating in
 * float64. Depthwise layers are cheap (9 multiply-adds per output value for 3x3), so this is fast enough for
 * what otsr differentiates through them (perceptual losses); unlike tfjs's cpu kernels it honours dilations.
 */

/** Calls `visit(dyBase, xBase, tap)` for every output position and filter tap that reads inside the input. */
function forEachTap(info: tf.backend_util.Conv2DInfo, visit: (dyBase: number, xBase: number, tap: number) => void): void {
  const { batchSize, inHeight, inWidth, inChannels, outHeight, outWidth, outChannels, filterHeight, filterWidth } = info;
  const { strideHeight: sh, strideWidth: sw, dilationHeight: dh, dilationWidth: dw } = info;
  const { top, left } = info.padInfo;
  for (let b = 0; b < batchSize; b++) {
    for (let r = 0; r < outHeight; r++) {
      for (let s = 0; s < outWidth; s++) {
        const dyBase = ((b * outHeight + r) * outWidth + s) * outChannels;
        for (let i = 0; i < filterHeight; i++) {
          const xr = r * sh + i * dh - top;
          if (xr < 0 || xr >= inHeight) continue;
          for (let j = 0; j < filterWidth; j++) {
            const xc = s * sw + j * dw - left;
            if (xc < 0 || xc >= inWidth) continue;
            visit(dyBase, ((b * inHeight + xr) * inWidth + xc) * inChannels, i * filterWidth + j);
          }
        }
      }
    }
  }
}

/** dx = ∂L/∂x given dy = ∂L/∂y and the filter; `dx` (inShape, zero or not) is overwritten. */
export function depthwiseBackpropInput(dy: Float32Array, filter: Float32Array, info: tf.backend_util.Conv2DInfo, dx: Float32Array): void {
  const C = info.inChannels;
  const m = info.outChannels / C;
  const acc = new Float64Array(dx.length);
  forEachTap(info, (dyBase, xBase, tap) => {
    const wBase = tap * C * m;
    if (m === 1) {
      for (let c = 0; c < C; c++) acc[xBase + c]! += dy[dyBase + c]! * filter[wBase + c]!;
    } else {
      for (let c = 0; c < C; c++) {
        let sum = 0;
        for (let k = 0; k < m; k++) sum += dy[dyBase + c * m + k]! * filter[wBase + c * m + k]!;
        acc[xBase + c]! += sum;
      }
    }
  });
  dx.set(acc);
}

/** dw = ∂L/∂w given the input x and dy = ∂L/∂y; `dw` (filterShape) is overwritten. */
export function depthwiseBackpropFilter(x: Float32Array, dy: Float32Array, info: tf.backend_util.Conv2DInfo, dw: Float32Array): void {
  const C = info.inChannels;
  const m = info.outChannels / C;
  const acc = new Float64Array(dw.length);
  forEachTap(info, (dyBase, xBase, tap) => {
    const wBase = tap * C * m;
    if (m === 1) {
      for (let c = 0; c < C; c++) acc[wBase + c]! += x[xBase + c]! * dy[dyBase + c]!;
    } else {
      for (let c = 0; c < C; c++) {
        const v = x[xBase + c]!;
        for (let k = 0; k < m; k++) acc[wBase + c * m + k]! += v * dy[dyBase + c * m + k]!;
      }
    }
  });
  dw.set(acc);
}
