import type * as tf from '@tensorflow/tfjs-core';
import { type ConvBackpropAttrs, backpropConvInfo } from './conv-attrs.js';
import { filterGradGeometry } from './conv-geometry.js';
import type { KernelCalls } from './kernel-calls.js';

type TensorInfo = tf.TensorInfo;
type Conv2DInfo = tf.backend_util.Conv2DInfo;

/**
 * How the filter gradient dW[kh,kw,ci,co] = Σ_{b,oh,ow} x[b, oh·s+kh·d-p, ow·s+kw·d-p, ci]·dy[b,oh,ow,co]
 * is computed.
 * - `patches` (the default): a GEMM contracting over (b, oh, ow) with XNNPACK's matmul, dW = Pᵀ·dy, where
 *   Pᵀ holds fh·fw shifted copies of the zero-padded, channel-first x. With stride 1 along W each row of
 *   Pᵀ is, per image, one contiguous run of that x, so building it costs a few memory copies; the
 *   contraction is split into cache-sized blocks.
 * - `conv`: one XNNPACK conv of x as [Cin, H, W, B] with dy as a [Ho, Wo, B, Cout] filter (DESIGN.md's
 *   first method): no copies, but each tap contracts only B channels, which XNNPACK runs 2-4x slower.
 *   Kept for benchmarks.
 *
 * (Also measured and dropped: row convs sliding along H with x or dy shifted for each kw, fewer copies but
 * slower, because tfjs's conv wrapper transposes its big "filter" with a slow generic loop; and the im2col
 * of dy instead of x, for small Cout.)
 */
export type FilterGradStrategy = 'auto' | 'patches' | 'shiftedDy' | 'conv';

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
  const strided = info.strideHeight > 1 || info.strideWidth > 1;
  // shiftedDy is written for stride 1 (a strided dy would leave most of D zero).
  const method = strategy === 'auto' ? chooseMethod(info) : strategy === 'shiftedDy' && strided ? 'patches' : strategy;
  if (method === 'conv') return transposedConv(calls, x, dy, info, gh, gw);
  const xt = paddedChannelsFirst(calls, x, info, gh, gw);
  let acc: TensorInfo | undefined;
  if (method === 'patches') {
    for (const block of contractionBlocks(info)) acc = accumulate(calls, acc, patchesBlock(calls, xt, dy, info, block, gh, gw));
    calls.free(xt);
    return calls.keep(calls.reshape(acc!, [...filterShape]));
  }
  const grid = { batchSize: info.batchSize, outHeight: gridSize(gh), outWidth: gridSize(gw) };
  for (const block of contractionBlocks(grid)) acc = accumulate(calls, acc, shiftedDyBlock(calls, xt, dy, info, block, gh, gw));
  calls.free(xt);
  return calls.keep(fromChannelsFirst(calls, acc!, info));
}

/**
 * The method `auto` picks: `shiftedDy` for stride-1 layers with few output channels (its GEMM is
 * Cin x (fh·fw·Cout) instead of (fh·fw·Cin) x Cout, so it wastes no SIMD lanes on Cout < 8 and copies
 * dy, the smaller tensor, fh·fw times), else `patches`.
 */
export function chooseMethod(info: Pick<Conv2DInfo, 'strideHeight' | 'strideWidth' | 'inChannels' | 'outChannels'>): 'patches' | 'shiftedDy' {
  const strided = info.strideHeight > 1 || info.strideWidth > 1;
  return !strided && 2 * info.outChannels <= info.inChannels ? 'shiftedDy' : 'patches';
}

function gridSize(g: Geometry): number {
  return g.padBefore + g.used + g.padAfter;
}

type Geometry = ReturnType<typeof filterGradGeometry>;

function geometryH(info: Conv2DInfo): Geometry {
  return filterGradGeometry(info.inHeight, info.outHeight, info.filterHeight, info.strideHeight, info.dilationHeight, info.padInfo.top);
}

function geometryW(info: Conv2DInfo): Geometry {
  return filterGradGeometry(info.inWidth, info.outWidth, info.filterWidth, info.strideWidth, info.dilationWidth, info.padInfo.left);
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

/** Adds `part` into `acc` (running sum over blocks); frees `part`. */
function accumulate(calls: KernelCalls, acc: TensorInfo | undefined, part: TensorInfo): TensorInfo {
  if (acc === undefined) return part;
  const a = calls.view(acc);
  const p = calls.view(part);
  for (let i = 0; i < a.length; i++) a[i]! += p[i]!;
  calls.free(part);
  return acc;
}

/**
 * x [B, H, W, C] -> [C, B, Hp, Wp]: channel-first over the zero-padded grid that the taps read (plus
 * zeros after the end, for the column shifts of the last row).
 */
function paddedChannelsFirst(calls: KernelCalls, x: TensorInfo, info: Conv2DInfo, gh: Geometry, gw: Geometry): TensorInfo {
  const { batchSize: batch, inHeight: inH, inWidth: inW, inChannels: inC } = info;
  const [gridH, gridW] = [gridSize(gh), gridSize(gw)];
  const tail = (info.filterWidth - 1) * info.dilationWidth;
  return calls.fromValues([inC * batch * gridH * gridW + tail], (out) => {
    out.fill(0);
    const src = calls.view(x);
    const plane = batch * gridH * gridW;
    // Tiles of 16 pixels x all channels: reads stay in cache and writes run along rows (~2x faster
    // here than one pixel at a time).
    for (let b = 0; b < batch; b++) {
      for (let i = 0; i < gh.used; i++) {
        const sRow = (b * inH + i) * inW * inC;
        const dRow = (b * gridH + i + gh.padBefore) * gridW + gw.padBefore;
        for (let j0 = 0; j0 < gw.used; j0 += 16) {
          const j1 = Math.min(gw.used, j0 + 16);
          for (let c = 0; c < inC; c++) {
            const d = c * plane + dRow;
            for (let j = j0; j < j1; j++) out[d + j] = src[sRow + j * inC + c]!;
          }
        }
      }
    }
  });
}

/**
 * patches: Pᵀ[(kh,kw,ci), (b,oh,j)] · dy[(b,oh,j), co] -> [(kh,kw,ci), co], with j over the padded grid's
 * columns when the stride along W is 1: row (kh,kw,ci) of Pᵀ is then, per image, one contiguous run of the
 * padded x (columns j >= Wo read junk that meets zero rows of dy), so building Pᵀ is a few memory copies.
 */
function patchesBlock(
  calls: KernelCalls,
  xt: TensorInfo,
  dy: TensorInfo,
  info: Conv2DInfo,
  block: Block,
  gh: Geometry,
  gw: Geometry,
): TensorInfo {
  const { batchSize: batch, inChannels: inC, outChannels: outC } = info;
  const { filterHeight: fh, filterWidth: fw, outHeight: oh, outWidth: ow } = info;
  const { strideHeight: sh, strideWidth: sw, dilationHeight: dh, dilationWidth: dw } = info;
  const [gridH, gridW] = [gridSize(gh), gridSize(gw)];
  const cols = sw === 1 ? gridW : ow; // contraction columns per output row
  const k = block.nb * block.nr * cols;
  const pT = calls.fromValues([1, fh * fw * inC, k], () => {});
  {
    const { heap, at } = calls.heap(xt, pT);
    const [src, dst0] = at as [number, number];
    for (let kh = 0; kh < fh; kh++) {
      for (let kw = 0; kw < fw; kw++) {
        for (let c = 0; c < inC; c++) {
          let dst = dst0 + ((kh * fw + kw) * inC + c) * k;
          for (let b = block.b0; b < block.b0 + block.nb; b++) {
            const plane = src + (c * batch + b) * gridH * gridW + kw * dw;
            if (sw === 1 && sh === 1) {
              const start = plane + (block.r0 + kh * dh) * gridW;
              heap.copyWithin(dst, start, start + block.nr * gridW);
              dst += block.nr * gridW;
            } else {
              for (let r = block.r0; r < block.r0 + block.nr; r++, dst += cols) {
                const start = plane + (r * sh + kh * dh) * gridW;
                if (sw === 1) heap.copyWithin(dst, start, start + gridW);
                else for (let q = 0; q < ow; q++) heap[dst + q] = heap[start + q * sw]!;
              }
            }
          }
        }
      }
    }
  }
  const whole = block.nb === batch && block.nr === oh && cols === ow;
  const dyBlock = whole
    ? calls.reshape(dy, [1, k, outC])
    : calls.fromValues([1, k, outC], (out) => {
        if (cols !== ow) out.fill(0);
        const src = calls.view(dy);
        for (let b = block.b0, d = 0; b < block.b0 + block.nb; b++) {
          for (let r = block.r0; r < block.r0 + block.nr; r++, d += cols * outC) {
            const s = ((b * oh + r) * ow) * outC;
            out.set(src.subarray(s, s + ow * outC), d);
          }
        }
      });
  const part = calls.run('BatchMatMul', { a: pT, b: dyBlock }, { transposeA: false, transposeB: false });
  calls.free(pT);
  calls.free(dyBlock);
  return part;
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

/**
 * shiftedDy (stride 1): dWᵀ[ci, (kh,kw,co)] = Σ_g x̃[ci, g]·D[g, (kh,kw,co)] over the cells g = (b, i, j) of
 * the zero-padded grid, with D[g, (kh,kw,co)] = dy[b, i - kh·dh, j - kw·dw, co] (zero outside dy).
 */
function shiftedDyBlock(
  calls: KernelCalls,
  xt: TensorInfo,
  dy: TensorInfo,
  info: Conv2DInfo,
  block: Block,
  gh: Geometry,
  gw: Geometry,
): TensorInfo {
  const { batchSize: batch, inChannels: inC, outChannels: outC } = info;
  const { filterHeight: fh, filterWidth: fw, outHeight: oh, outWidth: ow, dilationHeight: dh, dilationWidth: dw } = info;
  const [gridH, gridW] = [gridSize(gh), gridSize(gw)];
  const k = block.nb * block.nr * gridW;
  const a = calls.fromValues([1, inC, k], () => {});
  {
    const { heap, at } = calls.heap(xt, a);
    const [src, dst] = at as [number, number];
    const run = block.nr * gridW;
    for (let c = 0; c < inC; c++) {
      for (let b = 0; b < block.nb; b++) {
        const start = src + ((c * batch + block.b0 + b) * gridH + block.r0) * gridW;
        heap.copyWithin(dst + c * k + b * run, start, start + run);
      }
    }
  }
  const cols = fh * fw * outC;
  const d = calls.fromValues([1, k, cols], (out) => {
    out.fill(0);
    const src = calls.view(dy);
    for (let b = 0; b < block.nb; b++) {
      for (let r = 0; r < block.nr; r++) {
        const i = block.r0 + r;
        const rowBase = (b * block.nr + r) * gridW * cols;
        for (let kh = 0; kh < fh; kh++) {
          const oi = i - kh * dh;
          if (oi < 0 || oi >= oh) continue;
          const dyRow = ((block.b0 + b) * oh + oi) * ow * outC;
          for (let kw = 0; kw < fw; kw++) {
            // Grid columns j = q + kw·dw, for dy columns q in [0, ow).
            let t = rowBase + kw * dw * cols + (kh * fw + kw) * outC;
            for (let q = 0, s = dyRow; q < ow; q++, t += cols) for (let co = 0; co < outC; co++, s++) out[t + co] = src[s]!;
          }
        }
      }
    }
  });
  const part = calls.run('BatchMatMul', { a, b: d }, { transposeA: false, transposeB: false });
  calls.free(a);
  calls.free(d);
  return part;
}

/** [Cin, (kh,kw,co)] -> [kh, kw, Cin, Cout]. */
function fromChannelsFirst(calls: KernelCalls, acc: TensorInfo, info: Conv2DInfo): TensorInfo {
  const { filterHeight: fh, filterWidth: fw, inChannels: inC, outChannels: outC } = info;
  const taps = fh * fw;
  return calls.fromValues([fh, fw, inC, outC], (dst) => {
    const src = calls.view(acc);
    for (let c = 0; c < inC; c++)
      for (let t = 0; t < taps; t++)
        for (let o = 0; o < outC; o++) dst[(t * inC + c) * outC + o] = src[(c * taps + t) * outC + o]!;
  });
}
