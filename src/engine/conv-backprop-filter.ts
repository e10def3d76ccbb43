import type * as tf from '@tensorflow/tfjs-core';
import { type ConvBackpropAttrs, backpropConvInfo } from './conv-attrs.js';
import { filterGradGeometry } from './conv-geometry.js';
import type { KernelCalls } from './kernel-calls.js';

type TensorInfo = tf.TensorInfo;
type Conv2DInfo = tf.backend_util.Conv2DInfo;

/**
 * How the filter gradient dW[kh,kw,ci,co] = Σ_{b,oh,ow} x[b, oh·s+kh·d-p, ow·s+kw·d-p, ci]·dy[b,oh,ow,co]
 * is computed. Each is a GEMM contracting over (b, oh, ow), run by XNNPACK:
 * - `patches`: dW = Pᵀ·dy with XNNPACK's matmul; Pᵀ is the transposed im2col matrix of x (fh·fw copies
 *   of x, built in JS), dy is used as it is.
 * - `rowsX`: one XNNPACK conv sliding along H only: input [(kw, Cin), H, 1, (B, Wo)] = x shifted for each
 *   kw (fw copies), filter [Ho, 1, (B, Wo), Cout] = dy. Fewer copies than `patches`.
 * - `rowsDy`: the same with the kw shifts applied to dy instead: input [Cin, H, 1, (B, W)] = x,
 *   filter [Ho, 1, (B, W), (kw, Cout)]. Fewest copies when Cout is small (an RGB output layer).
 * - `conv`: one XNNPACK conv of x as [Cin, H, W, B] with dy as a [Ho, Wo, B, Cout] filter (DESIGN.md's
 *   first method): no copies, but each tap contracts only B channels, which XNNPACK runs slowly.
 *   Kept for benchmarks.
 * - `auto`: `patches`, `rowsX` or `rowsDy`, whichever a cost model prefers.
 */
export type FilterGradStrategy = 'auto' | 'patches' | 'rowsX' | 'rowsDy' | 'conv';

/**
 * Longest contraction (batch · output pixels) of one GEMM. XNNPACK streams the whole contraction for
 * every tile of output rows, so a long one falls out of cache (measured here: ~1.5x slower at 18432 than
 * at 4096). Longer problems are split over images and output rows, and the partial gradients summed.
 */
let maxContraction = 4096;

/** Sets the split length (tests use a tiny one to exercise the split); returns the previous one. */
export function setMaxContraction(length: number): number {
  const previous = maxContraction;
  maxContraction = length;
  return previous;
}

/**
 * The filter gradient of an NHWC conv2d (any stride, padding, dilation); see {@link FilterGradStrategy}.
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
  const gh = geometryH(info);
  const gw = geometryW(info);
  // Every tap reads only padding: the gradient is zero.
  if (gh.used <= 0 || gw.used <= 0) return calls.keep(calls.zeros([...filterShape]));
  const chosen = strategy === 'auto' ? chooseStrategy(info) : strategy;
  if (chosen === 'conv') return transposedConv(calls, x, dy, info, gh, gw);
  const xt = channelsFirst(calls, x, info);
  let acc: TensorInfo | undefined;
  for (const block of contractionBlocks(info)) {
    const part =
      chosen === 'patches'
        ? patchesBlock(calls, xt, dy, info, block)
        : chosen === 'rowsX'
          ? rowsShiftedXBlock(calls, xt, dy, info, block)
          : rowsShiftedDyBlock(calls, xt, dy, info, block, gw);
    if (part !== undefined) acc = accumulate(calls, acc, part);
  }
  calls.free(xt);
  if (acc === undefined) return calls.keep(calls.zeros([...filterShape]));
  return calls.keep(toFilterLayout(calls, acc, info, chosen));
}

type Geometry = ReturnType<typeof filterGradGeometry>;

function geometryH(info: Conv2DInfo): Geometry {
  return filterGradGeometry(info.inHeight, info.outHeight, info.filterHeight, info.strideHeight, info.dilationHeight, info.padInfo.top);
}

function geometryW(info: Conv2DInfo): Geometry {
  return filterGradGeometry(info.inWidth, info.outWidth, info.filterWidth, info.strideWidth, info.dilationWidth, info.padInfo.left);
}

/** The method `auto` uses for a filter gradient of this geometry (for reports). */
export function autoFilterGradStrategy(
  xShape: readonly number[],
  filterShape: readonly number[],
  attrs: ConvBackpropAttrs,
): Exclude<FilterGradStrategy, 'auto' | 'conv'> {
  return chooseStrategy(backpropConvInfo(xShape, filterShape, attrs, 'Conv2DBackpropFilter'));
}

/** Relative cost of one float written by a JS copy loop / packed by XNNPACK, in GEMM flops (measured order). */
const FLOPS_PER_MOVE = 24;
/** Output-column tile of XNNPACK's f32 wasm-SIMD GEMM kernels: narrower products waste lanes. */
const GEMM_NR = 8;

/** The cheapest method by a simple cost model: floats moved (copies, transposes, packing) + GEMM flops. */
function chooseStrategy(info: Conv2DInfo): Exclude<FilterGradStrategy, 'auto' | 'conv'> {
  const { batchSize: b, inChannels: ci, outChannels: co, filterHeight: fh, filterWidth: fw } = info;
  const gw = geometryW(info);
  const n = b * info.outHeight * info.outWidth; // contraction length of patches and rowsX
  const grid = b * info.outHeight * (gw.padBefore + gw.used + gw.padAfter); // ... of rowsDy
  const waste = (cols: number) => (Math.ceil(cols / GEMM_NR) * GEMM_NR) / cols;
  const flops = (rows: number, cols: number, k: number) => (2 * rows * cols * k * waste(cols)) / FLOPS_PER_MOVE;
  const xSize = b * info.inHeight * info.inWidth * ci;
  const costs = {
    // x transposed once; fh·fw shifted copies; dy packed by XNNPACK.
    patches: xSize + fh * fw * ci * n + co * n + flops(fh * fw * ci, co, n),
    // x transposed once; fw shifted copies; dy copied, transposed and packed (conv filters are).
    rowsX: xSize + fw * ci * info.inHeight * b * info.outWidth + 3 * co * n + flops(fw * ci * fh, co, n),
    // x transposed once and padded; fw shifted copies of dy, transposed and packed.
    rowsDy: 2 * xSize + 3 * fw * co * grid + flops(ci * fh, fw * co, grid),
  };
  let best: keyof typeof costs = 'patches';
  for (const k of Object.keys(costs) as (keyof typeof costs)[]) if (costs[k] < costs[best]) best = k;
  return best;
}

/** A part of the contraction: images b0 .. b0+nb-1, output rows r0 .. r0+nr-1 of each. */
interface Block {
  b0: number;
  nb: number;
  r0: number;
  nr: number;
}

/** Splits (batch, output rows) so that each block contracts at most `maxContraction` (b, oh, ow) terms. */
export function contractionBlocks(info: Pick<Conv2DInfo, 'batchSize' | 'outHeight' | 'outWidth'>): Block[] {
  const { batchSize: batch, outHeight: oh, outWidth: ow } = info;
  const blocks: Block[] = [];
  const pixels = oh * ow;
  if (pixels <= maxContraction) {
    const count = Math.ceil(batch / Math.max(1, Math.floor(maxContraction / pixels)));
    const per = Math.ceil(batch / count);
    for (let b0 = 0; b0 < batch; b0 += per) blocks.push({ b0, nb: Math.min(per, batch - b0), r0: 0, nr: oh });
  } else {
    const count = Math.ceil(oh / Math.max(1, Math.floor(maxContraction / ow)));
    const per = Math.ceil(oh / count);
    for (let b0 = 0; b0 < batch; b0++) for (let r0 = 0; r0 < oh; r0 += per) blocks.push({ b0, nb: 1, r0, nr: Math.min(per, oh - r0) });
  }
  return blocks;
}

/** Input rows that output rows r0 .. r0+nr-1 read: [first, first+count) plus zero rows before/after. */
function blockRows(info: Conv2DInfo, block: Block): { first: number; count: number; padBefore: number; padAfter: number } {
  const lo = block.r0 * info.strideHeight - info.padInfo.top;
  const hiEx = lo + (block.nr - 1) * info.strideHeight + (info.filterHeight - 1) * info.dilationHeight + 1;
  const first = Math.max(0, lo);
  const end = Math.min(info.inHeight, hiEx);
  return { first, count: end - first, padBefore: first - lo, padAfter: hiEx - Math.max(end, first) };
}

/** Output columns q whose input column q·s + off lies inside the image: [lo, hi). */
function validColumns(info: Conv2DInfo, off: number): [number, number] {
  const { outWidth: ow, strideWidth: sw, inWidth: inW } = info;
  const lo = Math.min(ow, Math.max(0, Math.ceil(-off / sw)));
  const hi = Math.max(lo, Math.min(ow, Math.floor((inW - 1 - off) / sw) + 1));
  return [lo, hi];
}

/** Adds `part` into `acc` (running sum over blocks); frees `part`. */
function accumulate(calls: KernelCalls, acc: TensorInfo | undefined, part: TensorInfo): TensorInfo {
  if (acc === undefined) return part;
  const a = calls.view(acc);
  const p = calls.view(part);
  for (let i = 0; i < a.length; i++) a[i]! += p[i]!;
  calls.free(part);
  return acc;
}

/** x [B, H, W, C] -> [C, B, H, W]: every image row of every channel becomes one contiguous run. */
function channelsFirst(calls: KernelCalls, x: TensorInfo, info: Conv2DInfo): TensorInfo {
  const { batchSize: batch, inHeight: inH, inWidth: inW, inChannels: inC } = info;
  return calls.fromValues([inC, batch, inH, inW], (out) => {
    const src = calls.view(x);
    const plane = batch * inH * inW;
    for (let p = 0, i = 0; p < plane; p++) for (let c = 0; c < inC; c++, i++) out[c * plane + p] = src[i]!;
  });
}

/** Copies input row `row` of channel-first x (columns q·s + off, q in [0, ow)) to out[dst ..], zeros outside. */
function copyRow(out: Float32Array, dst: number, src: Float32Array, row: number, info: Conv2DInfo, off: number): void {
  const ow = info.outWidth;
  const sw = info.strideWidth;
  const [lo, hi] = validColumns(info, off);
  if (lo > 0) out.fill(0, dst, dst + lo);
  if (sw === 1) out.set(src.subarray(row + lo + off, row + hi + off), dst + lo);
  else for (let q = lo; q < hi; q++) out[dst + q] = src[row + q * sw + off]!;
  if (hi < ow) out.fill(0, dst + hi, dst + ow);
}

/** patches: Pᵀ[(kh,kw,ci), (b,oh,ow)] · dy[(b,oh,ow), co] -> [(kh,kw,ci), co]. */
function patchesBlock(calls: KernelCalls, xt: TensorInfo, dy: TensorInfo, info: Conv2DInfo, block: Block): TensorInfo {
  const { batchSize: batch, inHeight: inH, inWidth: inW, inChannels: inC, outChannels: outC } = info;
  const { filterHeight: fh, filterWidth: fw, outHeight: oh, outWidth: ow } = info;
  const { strideHeight: sh, dilationHeight: dh, dilationWidth: dw } = info;
  const [pt, pl] = [info.padInfo.top, info.padInfo.left];
  const k = block.nb * block.nr * ow;
  const pT = calls.fromValues([1, fh * fw * inC, k], (out) => {
    const src = calls.view(xt);
    for (let kh = 0; kh < fh; kh++) {
      for (let kw = 0; kw < fw; kw++) {
        for (let c = 0; c < inC; c++) {
          let dst = ((kh * fw + kw) * inC + c) * k;
          for (let b = block.b0; b < block.b0 + block.nb; b++) {
            for (let r = block.r0; r < block.r0 + block.nr; r++, dst += ow) {
              const ih = r * sh + kh * dh - pt;
              if (ih < 0 || ih >= inH) out.fill(0, dst, dst + ow);
              else copyRow(out, dst, src, ((c * batch + b) * inH + ih) * inW, info, kw * dw - pl);
            }
          }
        }
      }
    }
  });
  const whole = block.nb === batch && block.nr === oh;
  const dyBlock = whole
    ? calls.reshape(dy, [1, k, outC])
    : calls.fromValues([1, k, outC], (out) => {
        const src = calls.view(dy);
        let dst = 0;
        for (let b = block.b0; b < block.b0 + block.nb; b++) {
          const start = ((b * oh + block.r0) * ow) * outC;
          const len = block.nr * ow * outC;
          out.set(src.subarray(start, start + len), dst);
          dst += len;
        }
      });
  const part = calls.run('BatchMatMul', { a: pT, b: dyBlock }, { transposeA: false, transposeB: false });
  calls.free(pT);
  calls.free(dyBlock);
  return part;
}

/** dy rows r0 .. r0+nr-1 of images b0 .. as a row filter [nr, 1, (b, ow), Cout]. */
function dyRowFilter(calls: KernelCalls, dy: TensorInfo, info: Conv2DInfo, block: Block): TensorInfo {
  const { outHeight: oh, outWidth: ow, outChannels: outC } = info;
  const run = ow * outC;
  return calls.fromValues([block.nr, 1, block.nb * ow, outC], (out) => {
    const src = calls.view(dy);
    for (let r = 0; r < block.nr; r++) {
      for (let b = 0; b < block.nb; b++) {
        const s = ((block.b0 + b) * oh + block.r0 + r) * run;
        out.set(src.subarray(s, s + run), (r * block.nb + b) * run);
      }
    }
  });
}

/**
 * rowsX: a conv along H of input [(kw, ci), rows, 1, (b, ow)] (x shifted for each kw) with filter
 * [nr, 1, (b, ow), Cout] (dy), stride = dilation_h, dilation = stride_h -> [(kw, ci), fh, 1, Cout].
 */
function rowsShiftedXBlock(calls: KernelCalls, xt: TensorInfo, dy: TensorInfo, info: Conv2DInfo, block: Block): TensorInfo | undefined {
  const { batchSize: batch, inHeight: inH, inWidth: inW, inChannels: inC } = info;
  const { filterWidth: fw, outWidth: ow, dilationWidth: dw } = info;
  const rows = blockRows(info, block);
  if (rows.count <= 0) return undefined;
  const rowLen = block.nb * ow;
  const shifted = calls.fromValues([fw * inC, rows.count, 1, rowLen], (out) => {
    const src = calls.view(xt);
    for (let kw = 0; kw < fw; kw++) {
      const off = kw * dw - info.padInfo.left;
      for (let c = 0; c < inC; c++) {
        for (let r = 0; r < rows.count; r++) {
          for (let b = 0; b < block.nb; b++) {
            const dst = ((kw * inC + c) * rows.count + r) * rowLen + b * ow;
            copyRow(out, dst, src, ((c * batch + block.b0 + b) * inH + rows.first + r) * inW, info, off);
          }
        }
      }
    }
  });
  const filter = dyRowFilter(calls, dy, info, block);
  const part = calls.conv2d(shifted, filter, [info.dilationHeight, 1], [info.strideHeight, 1], [
    [rows.padBefore, rows.padAfter],
    [0, 0],
  ]);
  calls.free(shifted);
  calls.free(filter);
  return part;
}

/**
 * rowsDy: a conv along H of input [ci, rows, 1, (b, j)] (x over its zero-padded columns j) with filter
 * [nr, 1, (b, j), (kw, co)] = dy[b, r, (j - kw·d)/s, co] -> [ci, fh, 1, (kw, co)].
 */
function rowsShiftedDyBlock(
  calls: KernelCalls,
  xt: TensorInfo,
  dy: TensorInfo,
  info: Conv2DInfo,
  block: Block,
  gw: Geometry,
): TensorInfo | undefined {
  const { batchSize: batch, inHeight: inH, inWidth: inW, inChannels: inC, outChannels: outC } = info;
  const { filterWidth: fw, outHeight: oh, outWidth: ow, strideWidth: sw, dilationWidth: dw } = info;
  const rows = blockRows(info, block);
  if (rows.count <= 0) return undefined;
  const gridW = gw.padBefore + gw.used + gw.padAfter;
  const rowLen = block.nb * gridW;
  const padded = calls.fromValues([inC, rows.count, 1, rowLen], (out) => {
    out.fill(0);
    const src = calls.view(xt);
    for (let c = 0; c < inC; c++) {
      for (let r = 0; r < rows.count; r++) {
        for (let b = 0; b < block.nb; b++) {
          const s = ((c * batch + block.b0 + b) * inH + rows.first + r) * inW;
          out.set(src.subarray(s, s + gw.used), (c * rows.count + r) * rowLen + b * gridW + gw.padBefore);
        }
      }
    }
  });
  const cols = fw * outC;
  const filter = calls.fromValues([block.nr, 1, rowLen, cols], (out) => {
    out.fill(0);
    const src = calls.view(dy);
    for (let r = 0; r < block.nr; r++) {
      for (let b = 0; b < block.nb; b++) {
        const srcRow = ((block.b0 + b) * oh + block.r0 + r) * ow;
        const dstRow = (r * block.nb + b) * gridW;
        for (let kw = 0; kw < fw; kw++) {
          for (let q = 0; q < ow; q++) {
            const j = q * sw + kw * dw; // grid column that tap kw of output column q reads
            const s = (srcRow + q) * outC;
            out.set(src.subarray(s, s + outC), (dstRow + j) * cols + kw * outC);
          }
        }
      }
    }
  });
  const part = calls.conv2d(padded, filter, [info.dilationHeight, 1], [info.strideHeight, 1], [
    [rows.padBefore, rows.padAfter],
    [0, 0],
  ]);
  calls.free(padded);
  calls.free(filter);
  return part;
}

/** The summed GEMM result in each method's layout -> [fh, fw, Cin, Cout]. */
function toFilterLayout(calls: KernelCalls, acc: TensorInfo, info: Conv2DInfo, method: 'patches' | 'rowsX' | 'rowsDy'): TensorInfo {
  const { filterHeight: fh, filterWidth: fw, inChannels: inC, outChannels: outC } = info;
  if (method === 'patches') return calls.reshape(acc, [fh, fw, inC, outC]); // [(kh,kw,ci), co] already
  return calls.fromValues([fh, fw, inC, outC], (dst) => {
    const src = calls.view(acc);
    for (let kh = 0; kh < fh; kh++) {
      for (let kw = 0; kw < fw; kw++) {
        for (let c = 0; c < inC; c++) {
          // rowsX: [(kw, ci), kh, co]; rowsDy: [ci, kh, (kw, co)]
          const s = method === 'rowsX' ? ((kw * inC + c) * fh + kh) * outC : ((c * fh + kh) * fw + kw) * outC;
          dst.set(src.subarray(s, s + outC), ((kh * fw + kw) * inC + c) * outC);
        }
      }
    }
  });
}

/** `conv`: x as [Cin, H, W, B] with dy as a [Ho, Wo, B, Cout] filter, stride d, dilation s. */
function transposedConv(calls: KernelCalls, x: TensorInfo, dy: TensorInfo, info: Conv2DInfo, gh: Geometry, gw: Geometry): TensorInfo {
  const { batchSize: batch, inChannels: inC } = info;
  const xt = calls.slice(calls.transpose(x, [3, 1, 2, 0]), [0, 0, 0, 0], [inC, gh.used, gw.used, batch]);
  const dyt = calls.transpose(dy, [1, 2, 0, 3]);
  const out = calls.conv2d(xt, dyt, [info.dilationHeight, info.dilationWidth], [info.strideHeight, info.strideWidth], [
    [gh.padBefore, gh.padAfter],
    [gw.padBefore, gw.padAfter],
  ]);
  return calls.keep(calls.transpose(out, [1, 2, 0, 3]));
}
