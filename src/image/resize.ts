/**
 * Bicubic resampling of float HWC images, separable, in plain JS (no TF.js): used to make LR images
 * (degrade), for previews and as the reference that the TF.js upsampler is tested against.
 *
 * Two standard definitions, chosen by `kernel`:
 * - 'pil' (default): Pillow's `Image.resize(size, Image.BICUBIC)` — Keys cubic with a = -0.5; when
 *   downscaling the kernel is stretched by the scale factor (antialiasing); near the borders the taps that
 *   fall outside the image are dropped and the rest renormalised. Also MATLAB's `imresize` kernel.
 * - 'torch': PyTorch's `F.interpolate(mode='bicubic', align_corners=False)` — Keys cubic with a = -0.75,
 *   never antialiased, source coordinates clamped to the border (replicate). Also OpenCV's INTER_CUBIC.
 * Both map output pixel centres to input coordinates by (o + 0.5) * in / out - 0.5.
 */
import type { FloatImage } from './io.js';

export type BicubicKernel = 'pil' | 'torch';

export interface ResizeOptions {
  /** Which standard bicubic to compute (see the module comment). Default 'pil'. */
  kernel?: BicubicKernel;
}

/** Keys' cubic convolution kernel with parameter `a` (-0.5: Pillow / MATLAB; -0.75: PyTorch / OpenCV). */
export function cubic(x: number, a: number): number {
  const t = Math.abs(x);
  if (t < 1) return ((a + 2) * t - (a + 3)) * t * t + 1;
  if (t < 2) return (((t - 5) * t + 8) * t - 4) * a;
  return 0;
}

/** Per-output-index taps of a 1-D resampling: input index and weight of tap k of output o at [o * taps + k]. */
export interface Taps {
  readonly outSize: number;
  readonly taps: number;
  readonly index: Int32Array;
  readonly weight: Float64Array;
}

/** The 1-D bicubic taps for resizing `inSize` samples to `outSize`. */
export function bicubicTaps(inSize: number, outSize: number, kernel: BicubicKernel = 'pil'): Taps {
  if (!(inSize >= 1 && outSize >= 1 && Number.isInteger(inSize) && Number.isInteger(outSize))) {
    throw new RangeError(`bicubicTaps: sizes must be positive integers, got ${inSize} -> ${outSize}`);
  }
  const scale = inSize / outSize;
  if (kernel === 'torch') {
    const taps = 4;
    const index = new Int32Array(outSize * taps);
    const weight = new Float64Array(outSize * taps);
    for (let o = 0; o < outSize; o++) {
      // Not clamped at 0 for cubic (unlike PyTorch's linear modes): the taps are clamped instead.
      const src = (o + 0.5) * scale - 0.5;
      const i0 = Math.floor(src);
      const t = src - i0;
      for (let k = 0; k < taps; k++) {
        index[o * taps + k] = Math.min(Math.max(i0 - 1 + k, 0), inSize - 1);
        weight[o * taps + k] = cubic(t - (k - 1), -0.75);
      }
    }
    return { outSize, taps, index, weight };
  }
  // Pillow's precompute_coeffs (Resample.c), in double precision as Pillow does for float images.
  const filterScale = Math.max(scale, 1);
  const support = 2 * filterScale;
  const taps = Math.ceil(support) * 2 + 1;
  const index = new Int32Array(outSize * taps);
  const weight = new Float64Array(outSize * taps);
  for (let o = 0; o < outSize; o++) {
    const center = (o + 0.5) * scale;
    const xmin = Math.max(Math.trunc(center - support + 0.5), 0);
    const xmax = Math.min(Math.trunc(center + support + 0.5), inSize);
    let sum = 0;
    for (let x = xmin; x < xmax; x++) sum += cubic((x - center + 0.5) / filterScale, -0.5);
    for (let k = 0; k < taps; k++) {
      const x = xmin + k;
      const inside = x < xmax;
      index[o * taps + k] = inside ? x : xmin;
      const w = inside ? cubic((x - center + 0.5) / filterScale, -0.5) : 0;
      weight[o * taps + k] = sum !== 0 ? w / sum : w;
    }
  }
  return { outSize, taps, index, weight };
}

/** Resamples along one axis of an HWC image with precomputed taps. */
function resampleAxis(img: FloatImage, taps: Taps, axis: 'x' | 'y'): FloatImage {
  const { width, height, channels: C, data } = img;
  const T = taps.taps;
  const outW = axis === 'x' ? taps.outSize : width;
  const outH = axis === 'y' ? taps.outSize : height;
  const out = new Float32Array(outW * outH * C);
  const acc = new Float64Array(C);
  if (axis === 'x') {
    for (let y = 0; y < height; y++) {
      const row = y * width * C;
      for (let o = 0; o < outW; o++) {
        acc.fill(0);
        for (let k = 0; k < T; k++) {
          const w = taps.weight[o * T + k]!;
          if (w === 0) continue;
          const p = row + taps.index[o * T + k]! * C;
          for (let c = 0; c < C; c++) acc[c] += w * data[p + c]!;
        }
        const q = (y * outW + o) * C;
        for (let c = 0; c < C; c++) out[q + c] = acc[c]!;
      }
    }
  } else {
    const rowLen = width * C;
    const accRow = new Float64Array(rowLen);
    for (let o = 0; o < outH; o++) {
      accRow.fill(0);
      for (let k = 0; k < T; k++) {
        const w = taps.weight[o * T + k]!;
        if (w === 0) continue;
        const p = taps.index[o * T + k]! * rowLen;
        for (let i = 0; i < rowLen; i++) accRow[i] += w * data[p + i]!;
      }
      out.set(accRow, o * rowLen);
    }
  }
  return { width: outW, height: outH, channels: C, data: out };
}

/**
 * Bicubic resize of a float HWC image to `width` x `height` (any sizes, up or down). A pass whose size does
 * not change is skipped, as Pillow does. Values are not clipped (bicubic overshoots at edges).
 */
export function resizeBicubic(img: FloatImage, width: number, height: number, options: ResizeOptions = {}): FloatImage {
  const kernel = options.kernel ?? 'pil';
  let out = img;
  if (width !== img.width) out = resampleAxis(out, bicubicTaps(img.width, width, kernel), 'x');
  if (height !== img.height) out = resampleAxis(out, bicubicTaps(img.height, height, kernel), 'y');
  return out === img ? { ...img, data: Float32Array.from(img.data) } : out;
}
