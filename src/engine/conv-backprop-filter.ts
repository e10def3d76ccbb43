import type * as tf from '@tensorflow/tfjs-core';
import { type ConvBackpropAttrs, backpropConvInfo } from './conv-attrs.js';
import { filterGradGeometry } from './conv-geometry.js';
import type { KernelCalls } from './kernel-calls.js';

type TensorInfo = tf.TensorInfo;
type Conv2DInfo = tf.backend_util.Conv2DInfo;

/**
 * How the filter gradient is computed.
 * - `patches`: dW = Pᵀ·dy, with Pᵀ the transposed im2col matrix of x (rows (kh,kw,ci)); dy is used as
 *   it is, [n, Cout]. Best when Cout is not much smaller than Cin.
 * - `shiftedDy`: dWᵀ = x̃·D, with x̃ the zero-padded x as [Cin, pixels] and D the im2col matrix of dy
 *   over x's padded grid (columns (kh,kw,co)). Best when Cout is small (an RGB output layer).
 * - `conv`: one XNNPACK conv of x as [Cin, H, W, B] with dy as a [Ho, Wo, B, Cout] filter. Kept for
 *   benchmarks: its inner loop runs over only B channels per tap, so it is slow.
 * - `auto`: `patches` or `shiftedDy`, whichever a cost model (float moves + GEMM work) prefers.
 */
export type FilterGradStrategy = 'auto' | 'patches' | 'shiftedDy' | 'conv';

/** Largest im2col block (floats) built at once; bigger problems are split over the batch. */
let blockFloats = 1 << 22;

/** Sets the im2col block limit (tests use a tiny one to exercise the split); returns the previous one. */
export function setIm2colBlockFloats(floats: number): number {
  const previous = blockFloats;
  blockFloats = floats;
  return previous;
}
/** GEMM flops that cost as much time as moving one float in JS / packing (measured order of magnitude). */
const FLOPS_PER_MOVE = 30;
/** Output-column tile of XNNPACK's f32 wasm-SIMD GEMM kernels: narrower products waste lanes. */
const GEMM_NR = 8;

/**
 * The filter gradient of an NHWC conv2d (any stride, padding, dilation) with XNNPACK's matmul; see
 * {@link FilterGradStrategy}. Large problems are split over the batch so no im2col block exceeds
 * ~16 MB.
 */
export function conv2dBackpropFilter(
  calls: KernelCalls,
  x: TensorInfo,
  dy: TensorInfo,
  filterShape: [number, number, number, number],
  attrs: ConvBackpropAttrs,
  strategy: FilterGradStrategy = 'auto',
): TensorInfo {
  const info = backpropConvInfo(x.shape, filterShape, attrs, 'Conv2DBackpropFilter');
  const gh = filterGradGeometry(info.inHeight, info.outHeight, info.filterHeight, info.strideHeight, info.dilationHeight, info.padInfo.top);
  const gw = filterGradGeometry(info.inWidth, info.outWidth, info.filterWidth, info.strideWidth, info.dilationWidth, info.padInfo.left);
  if (gh.used <= 0 || gw.used <= 0) return calls.keep(calls.zeros([...filterShape]));
  const chosen = strategy === 'auto' ? chooseStrategy(info, gh, gw) : strategy;
  switch (chosen) {
    case 'patches':
      return patches(calls, x, dy, info);
    case 'shiftedDy':
      return shiftedDy(calls, x, dy, info, gh, gw);
    case 'conv':
      return transposedConv(calls, x, dy, info, gh, gw);
  }
}

type Geometry = ReturnType<typeof filterGradGeometry>;

/** The cheaper of `patches` and `shiftedDy` by a simple cost model (float moves + GEMM flops). */
export function chooseStrategy(info: Conv2DInfo, gh: Geometry, gw: Geometry): 'patches' | 'shiftedDy' {
  const { batchSize: b, inChannels: ci, outChannels: co, filterHeight: fh, filterWidth: fw } = info;
  const taps = fh * fw;
  const n = b * info.outHeight * info.outWidth;
  const grid = b * (gh.padBefore + gh.used + gh.padAfter) * (gw.padBefore + gw.used + gw.padAfter);
  const waste = (cols: number) => (Math.ceil(cols / GEMM_NR) * GEMM_NR) / cols;
  const patchesCost = ci * b * info.inHeight * info.inWidth + taps * ci * n + co * n + (2 * taps * ci * co * n * waste(co)) / FLOPS_PER_MOVE;
  const shiftedCost = ci * grid + 2 * taps * co * grid + (2 * taps * ci * co * grid * waste(taps * co)) / FLOPS_PER_MOVE;
  return shiftedCost < patchesCost ? 'shiftedDy' : 'patches';
}

/** Adds `part` into `acc` (running sum over batch blocks); frees `part`. */
function accumulate(calls: KernelCalls, acc: TensorInfo | undefined, part: TensorInfo): TensorInfo {
  if (acc === undefined) return part;
  const a = calls.view(acc);
  const p = calls.view(part);
  for (let i = 0; i < a.length; i++) a[i]! += p[i]!;
  calls.free(part);
  return acc;
}

/** Images per block so that a block of `floatsPerImage` stays under the block limit. */
function imagesPerBlock(floatsPerImage: number): number {
  return Math.max(1, Math.floor(blockFloats / floatsPerImage));
}

/** dW[(kh,kw,ci), co] = Σ_n Pᵀ[(kh,kw,ci), n]·dy[n, co]. */
function patches(calls: KernelCalls, x: TensorInfo, dy: TensorInfo, info: Conv2DInfo): TensorInfo {
  const { batchSize: batch, inHeight: inH, inWidth: inW, inChannels: inC, outChannels: outC } = info;
  const { filterHeight: fh, filterWidth: fw, outHeight: oh, outWidth: ow } = info;
  const { strideHeight: sh, strideWidth: sw, dilationHeight: dh, dilationWidth: dw } = info;
  const [pt, pl] = [info.padInfo.top, info.padInfo.left];
  const rows = fh * fw * inC;
  const pixels = oh * ow;
  // x as [Cin, B, H, W], so that each row of Pᵀ copies runs of one channel.
  const xt = calls.fromValues([inC, batch, inH, inW], (out) => {
    const src = calls.view(x);
    const plane = batch * inH * inW;
    for (let p = 0, i = 0; p < plane; p++) for (let c = 0; c < inC; c++, i++) out[c * plane + p] = src[i]!;
  });
  // Output columns whose input column lies inside the image, per kw: [lo, hi).
  const lo: number[] = [];
  const hi: number[] = [];
  for (let kw = 0; kw < fw; kw++) {
    const off = kw * dw - pl;
    lo.push(Math.min(ow, Math.max(0, Math.ceil(-off / sw))));
    hi.push(Math.max(0, Math.min(ow, Math.floor((inW - 1 - off) / sw) + 1)));
  }
  const per = imagesPerBlock(rows * pixels);
  let acc: TensorInfo | undefined;
  for (let b0 = 0; b0 < batch; b0 += per) {
    const nb = Math.min(per, batch - b0);
    const n = nb * pixels;
    const pT = calls.fromValues([1, rows, n], (out) => {
      const src = calls.view(xt);
      for (let kh = 0; kh < fh; kh++) {
        for (let kw = 0; kw < fw; kw++) {
          const [l, h, offW] = [lo[kw]!, hi[kw]!, kw * dw - pl];
          for (let c = 0; c < inC; c++) {
            let dst = ((kh * fw + kw) * inC + c) * n;
            for (let b = 0; b < nb; b++) {
              const chan = (c * batch + b0 + b) * inH;
              for (let r = 0; r < oh; r++, dst += ow) {
                const ih = r * sh + kh * dh - pt;
                if (ih < 0 || ih >= inH || l >= h) {
                  out.fill(0, dst, dst + ow);
                  continue;
                }
                const base = (chan + ih) * inW + offW;
                if (l > 0) out.fill(0, dst, dst + l);
                if (sw === 1) out.set(src.subarray(base + l, base + h), dst + l);
                else for (let q = l; q < h; q++) out[dst + q] = src[base + q * sw]!;
                if (h < ow) out.fill(0, dst + h, dst + ow);
              }
            }
          }
        }
      }
    });
    const dyBlock =
      nb === batch
        ? calls.reshape(dy, [1, n, outC])
        : calls.slice(calls.reshape(dy, [batch, pixels, outC]), [b0, 0, 0], [nb, pixels, outC]);
    const part = calls.run('BatchMatMul', { a: pT, b: dyBlock }, { transposeA: false, transposeB: false });
    calls.free(pT);
    calls.free(dyBlock);
    acc = accumulate(calls, acc, part);
  }
  return calls.keep(calls.reshape(acc!, [fh, fw, inC, outC]));
}

/** dWᵀ[ci, (kh,kw,co)] = Σ_g x̃[ci, g]·D[g, (kh,kw,co)] over the cells g of x's padded grid. */
function shiftedDy(
  calls: KernelCalls,
  x: TensorInfo,
  dy: TensorInfo,
  info: Conv2DInfo,
  gh: Geometry,
  gw: Geometry,
): TensorInfo {
  const { batchSize: batch, inHeight: inH, inWidth: inW, inChannels: inC, outChannels: outC } = info;
  const { filterHeight: fh, filterWidth: fw, outHeight: oh, outWidth: ow } = info;
  const { strideHeight: sh, strideWidth: sw, dilationHeight: dh, dilationWidth: dw } = info;
  const [gridH, gridW] = [gh.padBefore + gh.used + gh.padAfter, gw.padBefore + gw.used + gw.padAfter];
  const cols = fh * fw * outC;
  const cells = gridH * gridW;
  const per = imagesPerBlock(cells * (cols + inC));
  let acc: TensorInfo | undefined;
  for (let b0 = 0; b0 < batch; b0 += per) {
    const nb = Math.min(per, batch - b0);
    const n = nb * cells;
    // x̃: [Cin, nb·gridH·gridW], zero outside the image.
    const xg = calls.fromValues([1, inC, n], (out) => {
      out.fill(0);
      const src = calls.view(x);
      for (let b = 0; b < nb; b++) {
        for (let i = 0; i < gh.used; i++) {
          for (let j = 0; j < gw.used; j++) {
            const s = (((b0 + b) * inH + i) * inW + j) * inC;
            const g = (b * gridH + i + gh.padBefore) * gridW + j + gw.padBefore;
            for (let c = 0; c < inC; c++) out[c * n + g] = src[s + c]!;
          }
        }
      }
    });
    // D[g, (kh,kw,co)] = dy[b, (i - kh·dh)/sh, (j - kw·dw)/sw, co] where that is a whole, in-range index.
    const d = calls.fromValues([1, n, cols], (out) => {
      out.fill(0);
      const src = calls.view(dy);
      for (let b = 0; b < nb; b++) {
        for (let i = 0; i < gridH; i++) {
          for (let kh = 0; kh < fh; kh++) {
            const ti = i - kh * dh;
            if (ti < 0 || ti % sh !== 0 || ti / sh >= oh) continue;
            const r = ti / sh;
            for (let j = 0; j < gridW; j++) {
              const rowBase = ((b * gridH + i) * gridW + j) * cols + kh * fw * outC;
              for (let kw = 0; kw < fw; kw++) {
                const tj = j - kw * dw;
                if (tj < 0 || tj % sw !== 0 || tj / sw >= ow) continue;
                const s = (((b0 + b) * oh + r) * ow + tj / sw) * outC;
                const t = rowBase + kw * outC;
                for (let c = 0; c < outC; c++) out[t + c] = src[s + c]!;
              }
            }
          }
        }
      }
    });
    const part = calls.run('BatchMatMul', { a: xg, b: d }, { transposeA: false, transposeB: false });
    calls.free(xg);
    calls.free(d);
    acc = accumulate(calls, acc, part);
  }
  // [Cin, (kh,kw,co)] -> [kh, kw, Cin, Cout]
  const taps = fh * fw;
  return calls.keep(
    calls.fromValues([fh, fw, inC, outC], (out) => {
      const src = calls.view(acc!);
      for (let c = 0; c < inC; c++)
        for (let t = 0; t < taps; t++)
          for (let o = 0; o < outC; o++) out[(t * inC + c) * outC + o] = src[(c * taps + t) * outC + o]!;
    }),
  );
}

/** One XNNPACK conv: x as [Cin, H, W, B] with dy as a [Ho, Wo, B, Cout] filter, stride d, dilation s. */
function transposedConv(
  calls: KernelCalls,
  x: TensorInfo,
  dy: TensorInfo,
  info: Conv2DInfo,
  gh: Geometry,
  gw: Geometry,
): TensorInfo {
  const { batchSize: batch, inChannels: inC } = info;
  const xt = calls.slice(calls.transpose(x, [3, 1, 2, 0]), [0, 0, 0, 0], [inC, gh.used, gw.used, batch]);
  const dyt = calls.transpose(dy, [1, 2, 0, 3]);
  const out = calls.conv2d(xt, dyt, [info.dilationHeight, info.dilationWidth], [info.strideHeight, info.strideWidth], [
    [gh.padBefore, gh.padAfter],
    [gw.padBefore, gw.padAfter],
  ]);
  return calls.keep(calls.transpose(out, [1, 2, 0, 3]));
}
