import type * as tf from '@tensorflow/tfjs-core';
import { type ConvBackpropAttrs, backpropConvInfo } from './conv-attrs.js';
import { filterGradGeometry } from './conv-geometry.js';
import type { KernelCalls } from './kernel-calls.js';
import { conv2dBackpropFilterWinograd } from './conv-backprop-filter-winograd.js';
import { convMethodFor } from './conv-forward.js';
import { winogradApplies } from './conv-winograd.js';
import { laneRange, onLanes } from './threads/lanes.js';
import { TILE_COLS, TILE_ROWS, packPanels } from './wasm/gemm.js';

type TensorInfo = tf.TensorInfo;
type Conv2DInfo = tf.backend_util.Conv2DInfo;

/**
 * How the filter gradient dW[kh,kw,ci,co] = Σ_{b,oh,ow} x[b, oh·s+kh·d-p, ow·s+kw·d-p, ci]·dy[b,oh,ow,co]
 * is computed, all on otsr's SIMD GEMM (wasm/gemm.ts):
 * - `patches` (the default): dW = Pᵀ·dy contracting over (b, oh, ow), where row (kh,kw,ci) of Pᵀ is, per
 *   output row, a run of the zero-padded, channel-first x (every sw-th element): the GEMM's indirection table
 *   points into that x, so nothing is copied but x's transpose and dy's packing. The contraction is split
 *   into cache-sized blocks, accumulated in place.
 * - `shiftedDy` (stride 1, chosen for Cout < 8, i.e. RGB outputs): dWᵀ = D·x contracting over the pixels
 *   of x, where row (kh,kw,co) of D is a shifted run of dy; no transpose of the large x, no zero columns.
 * - `conv`: one conv of x as [Cin, H, W, B] with dy as a [Ho, Wo, B, Cout] filter (the engine's first
 *   method): each tap contracts only B channels. Kept for benchmarks.
 * - `winograd2` / `winograd4` (chosen for wide 3x3 stride-1 layers, by the forward conv's rule): Winograd
 *   F(2x2, 3x3) / F(4x4, 3x3), see conv-backprop-filter-winograd.ts.
 * `direct` is `auto` without Winograd (benchmarks compare them).
 *
 * (Also measured and dropped: row convs sliding along H with x or dy shifted for each kw, fewer copies but
 * slower, because tfjs's conv wrapper transposes its big "filter" with a slow generic loop; reading dy in
 * place instead of packing it, see wasm/gemm.ts.)
 */
export type FilterGradStrategy = 'auto' | 'direct' | 'patches' | 'shiftedDy' | 'conv' | 'winograd2' | 'winograd4';

/**
 * Longest contraction (batch · output pixels) of one GEMM by default. The GEMM streams the whole contraction
 * for every tile of output rows, so a long one falls out of cache. Longer problems are split over images and
 * output rows, and the partial gradients summed.
 */
export const MAX_CONTRACTION = 4096;

/** Per-call options of the filter gradient. */
export interface FilterGradOptions {
  strategy?: FilterGradStrategy;
  /** The split length ({@link MAX_CONTRACTION}; tests pass tiny ones to exercise the split). */
  maxContraction?: number;
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
  options: FilterGradOptions = {},
): TensorInfo {
  const { strategy = 'auto', maxContraction = MAX_CONTRACTION } = options;
  const info = backpropConvInfo(x.shape, filterShape, attrs, 'Conv2DBackpropFilter');
  const gh = geometryH(info);
  const gw = geometryW(info);
  // Every tap reads only padding: the gradient is zero.
  if (gh.used <= 0 || gw.used <= 0) return calls.keep(calls.zeros([...filterShape]));
  const strided = info.strideHeight > 1 || info.strideWidth > 1;
  // shiftedDy is written for stride 1 (a strided dy would pair most pixels of x with zeros).
  const method =
    strategy === 'auto' || strategy === 'direct'
      ? chooseMethod(info, { winograd: strategy === 'auto' })
      : strategy === 'shiftedDy' && strided
        ? 'patches'
        : strategy;
  if (method === 'winograd2' || method === 'winograd4') {
    if (winogradApplies(info)) return calls.keep(conv2dBackpropFilterWinograd(calls, x, dy, info, method === 'winograd2' ? 2 : 4));
    return conv2dBackpropFilter(calls, x, dy, filterShape, attrs, { maxContraction });
  }
  if (method === 'conv') return transposedConv(calls, x, dy, info, gh, gw);
  if (method === 'shiftedDy') return calls.keep(shiftedDyGradient(calls, x, dy, info, maxContraction));
  const xt = paddedChannelsFirst(calls, x, info, gh, gw);
  const acc = calls.empty([filterShape[0] * filterShape[1] * filterShape[2], roundUp(info.outChannels)]);
  contractionBlocks(info, maxContraction).forEach((block, i) => patchesBlock(calls, xt, dy, info, block, gh, gw, acc, i > 0));
  calls.free(xt);
  return calls.keep(calls.firstColumns(acc, filterShape[3], [...filterShape]));
}

/** n rounded up to whole GEMM panels. */
function roundUp(n: number): number {
  return Math.ceil(n / TILE_COLS) * TILE_COLS;
}

/**
 * Rows first .. first+count-1 of `matrix` seen as [rows, C] (C its last axis), packed into GEMM panels
 * (zero-padded to whole panels): SIMD copies where C fills whole panels, else a JS loop.
 */
function packedRows(calls: KernelCalls, matrix: TensorInfo, first: number, count: number): TensorInfo {
  const cols = matrix.shape[matrix.shape.length - 1]!;
  const packed = calls.empty([roundUp(cols) * count]);
  if (cols % TILE_COLS === 0) {
    calls.simd().pack(calls.address(matrix) + first * cols * 4, cols, count, cols, calls.address(packed));
  } else {
    const { heap, at } = calls.heap(matrix, packed);
    packPanels(heap, at[0]! + first * cols, cols, count, cols, at[1]!);
  }
  return packed;
}

/**
 * `acc` (=|+=) A·B on otsr's GEMM, for A rows whose segment addresses `fillTable` writes ([rows][segments])
 * and B in packed panels.
 */
function gemmInto(
  calls: KernelCalls,
  acc: TensorInfo,
  a: { rows: number; segments: number; segmentLength: number; step: number; fillTable: (table: Int32Array) => void },
  packedB: TensorInfo,
  accumulate: boolean,
): void {
  const table = calls.empty([a.rows * a.segments], 'int32');
  a.fillTable(calls.backend.typedArrayFromHeap(table) as Int32Array);
  const [tableAt, packedAt, accAt] = [table, packedB, acc].map((t) => calls.address(t)) as [number, number, number];
  const cols = acc.shape[1]!;
  // With kernel threads each lane computes a run of whole 4-row tiles, every row with the whole contraction:
  // the same sums in the same order as one thread, so the same bits.
  onLanes(calls, calls.simd(), (kernels, lanes, lane) => {
    const [r0, r1] = laneRange(a.rows, lanes, lane, TILE_ROWS);
    if (r1 <= r0) return;
    kernels.gemm({
      indirection: tableAt + r0 * a.segments * 4,
      segments: a.segments,
      segmentLength: a.segmentLength,
      aStep: a.step,
      packedB: packedAt,
      out: accAt + r0 * cols * 4,
      outStride: cols,
      rows: r1 - r0,
      cols,
      accumulate,
    });
  });
  calls.free(table);
}

/**
 * The method `auto` picks: Winograd where the forward conv would use it (convMethodFor), else `shiftedDy` for stride-1 layers whose Cout does not fill a GEMM panel (an RGB
 * output: its GEMM is (fh·fw·Cout) x Cin instead of (fh·fw·Cin) x 8 with 8 - Cout zero columns, and it needs
 * no channel-first copy of the large x), else `patches`.
 */
export function chooseMethod(info: Conv2DInfo, options: { winograd?: boolean } = {}): 'patches' | 'shiftedDy' | 'winograd2' | 'winograd4' {
  const winograd = options.winograd === false ? 'direct' : convMethodFor(info);
  if (winograd !== 'direct') return winograd;
  const strided = info.strideHeight > 1 || info.strideWidth > 1;
  return !strided && info.outChannels < TILE_COLS ? 'shiftedDy' : 'patches';
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
export function contractionBlocks(info: Pick<Conv2DInfo, 'batchSize' | 'outHeight' | 'outWidth'>, maxContraction: number): Block[] {
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

/**
 * x [B, H, W, C] -> [C, B, Hp, Wp]: channel-first over the zero-padded grid that the taps read. Runs of 4
 * pixels x 4 channels are transposed by a SIMD kernel (wasm/layout.ts), the rest (odd channel counts, a
 * row's last pixels) in JS.
 */
function paddedChannelsFirst(calls: KernelCalls, x: TensorInfo, info: Conv2DInfo, gh: Geometry, gw: Geometry): TensorInfo {
  const { batchSize: batch, inHeight: inH, inWidth: inW, inChannels: inC } = info;
  const [gridH, gridW] = [gridSize(gh), gridSize(gw)];
  const plane = batch * gridH * gridW;
  const out = calls.zeros([inC * plane]);
  const simdPixels = inC % 4 === 0 ? gw.used - (gw.used % 4) : 0;
  const simd = calls.simd();
  const { heap, at } = calls.heap(x, out);
  const [src, dst] = at as [number, number];
  for (let b = 0; b < batch; b++) {
    for (let i = 0; i < gh.used; i++) {
      const sRow = src + (b * inH + i) * inW * inC;
      const dRow = dst + (b * gridH + i + gh.padBefore) * gridW + gw.padBefore;
      if (simdPixels > 0) simd.channelsFirst(sRow * 4, simdPixels, inC, dRow * 4, plane);
      for (let j = simdPixels; j < gw.used; j++) {
        for (let c = 0; c < inC; c++) heap[dRow + c * plane + j] = heap[sRow + j * inC + c]!;
      }
    }
  }
  return out;
}

/**
 * patches: acc (+)= Pᵀ[(kh,kw,ci), (b,oh,ow)] · dy[(b,oh,ow), co]. Row (kh,kw,ci) of Pᵀ is, per output row,
 * a run of the padded channel-first x (every sw-th element), which the GEMM reads in place; dy is packed.
 */
function patchesBlock(
  calls: KernelCalls,
  xt: TensorInfo,
  dy: TensorInfo,
  info: Conv2DInfo,
  block: Block,
  gh: Geometry,
  gw: Geometry,
  acc: TensorInfo,
  accumulate: boolean,
): void {
  const { batchSize: batch, inChannels: inC, outChannels: outC } = info;
  const { filterHeight: fh, filterWidth: fw, outHeight: oh, outWidth: ow } = info;
  const { strideHeight: sh, strideWidth: sw, dilationHeight: dh, dilationWidth: dw } = info;
  const [gridH, gridW] = [gridSize(gh), gridSize(gw)];
  const k = block.nb * block.nr * ow;
  // The block's dy rows are contiguous: they are B's rows.
  const packed = packedRows(calls, dy, (block.b0 * oh + block.r0) * ow, k);
  const base = calls.address(xt);
  const a = {
    rows: fh * fw * inC,
    segments: block.nb * block.nr,
    segmentLength: ow,
    step: sw * 4,
    fillTable: (table: Int32Array) => {
      let e = 0;
      for (let kh = 0; kh < fh; kh++) {
        for (let kw = 0; kw < fw; kw++) {
          for (let c = 0; c < inC; c++) {
            for (let im = block.b0; im < block.b0 + block.nb; im++) {
              const plane = ((c * batch + im) * gridH + kh * dh) * gridW + kw * dw;
              for (let r = block.r0; r < block.r0 + block.nr; r++) table[e++] = base + (plane + r * sh * gridW) * 4;
            }
          }
        }
      }
    },
  };
  gemmInto(calls, acc, a, packed, accumulate);
  calls.free(packed);
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
 * shiftedDy (stride 1): dWᵀ[(kh,kw,co), ci] = Σ_{b,i,j} dy[b, i + pt - kh·dh, j + pl - kw·dw, co] · x[b, i, j, ci]
 * (dy taken as zero outside its bounds), a GEMM contracting over the pixels of x. Row (kh,kw,co) of A is, per
 * row of x, a run of a zero-bordered copy of dy read every Cout-th float; B is x, packed block by block.
 */
function shiftedDyGradient(calls: KernelCalls, x: TensorInfo, dy: TensorInfo, info: Conv2DInfo, maxContraction: number): TensorInfo {
  const { batchSize: batch, inHeight: inH, inWidth: inW, inChannels: inC, outChannels: outC } = info;
  const { filterHeight: fh, filterWidth: fw, dilationHeight: dh, dilationWidth: dw } = info;
  const taps = fh * fw;
  const dyPad = borderedDy(calls, dy, info);
  const [padH, padW] = [inH + (fh - 1) * dh, inW + (fw - 1) * dw];
  const cols = roundUp(inC);
  const acc = calls.empty([taps * outC, cols]);
  const blocks = contractionBlocks({ batchSize: batch, outHeight: inH, outWidth: inW }, maxContraction);
  blocks.forEach((block, n) => {
    // x rows (b, i) of the block are contiguous in x: they are B's rows.
    const k = block.nb * block.nr * inW;
    const packed = packedRows(calls, x, (block.b0 * inH + block.r0) * inW, k);
    const base = calls.address(dyPad);
    const a = {
      rows: taps * outC,
      segments: block.nb * block.nr,
      segmentLength: inW,
      step: outC * 4,
      fillTable: (table: Int32Array) => {
        let e = 0;
        for (let kh = 0; kh < fh; kh++) {
          for (let kw = 0; kw < fw; kw++) {
            for (let co = 0; co < outC; co++) {
              for (let b = block.b0; b < block.b0 + block.nb; b++) {
                for (let i = block.r0; i < block.r0 + block.nr; i++) {
                  const row = b * padH + i + (fh - 1 - kh) * dh;
                  table[e++] = base + ((row * padW + (fw - 1 - kw) * dw) * outC + co) * 4;
                }
              }
            }
          }
        }
      },
    };
    gemmInto(calls, acc, a, packed, n > 0);
    calls.free(packed);
  });
  calls.free(dyPad);
  // [(kh,kw,co), ci] -> [kh, kw, ci, co]
  return calls.fromValues([fh, fw, inC, outC], (dst) => {
    const src = calls.view(acc);
    for (let t = 0; t < taps; t++)
      for (let co = 0; co < outC; co++)
        for (let ci = 0; ci < inC; ci++) dst[(t * inC + ci) * outC + co] = src[(t * outC + co) * cols + ci]!;
  });
}

/**
 * dy on the grid of output positions that x's pixels meet under some tap, zero outside dy:
 * [B, H + (fh-1)·dh, W + (fw-1)·dw, Cout], where row u holds output row u + pt - (fh-1)·dh (columns alike).
 */
function borderedDy(calls: KernelCalls, dy: TensorInfo, info: Conv2DInfo): TensorInfo {
  const { batchSize: batch, inHeight: inH, inWidth: inW, outHeight: oh, outWidth: ow, outChannels: outC } = info;
  const [padH, padW] = [inH + (info.filterHeight - 1) * info.dilationHeight, inW + (info.filterWidth - 1) * info.dilationWidth];
  const [rowShift, colShift] = [info.padInfo.top - (info.filterHeight - 1) * info.dilationHeight, info.padInfo.left - (info.filterWidth - 1) * info.dilationWidth];
  const out = calls.zeros([batch, padH, padW, outC]);
  const { heap, at } = calls.heap(dy, out);
  const [src, dst] = at as [number, number];
  // Output columns q with 0 <= q - colShift < padW, as one run per row.
  const [q0, q1] = [Math.max(0, colShift), Math.min(ow, padW + colShift)];
  if (q0 >= q1) return out;
  for (let b = 0; b < batch; b++) {
    for (let u = Math.max(0, -rowShift); u < padH && u + rowShift < oh; u++) {
      const from = src + ((b * oh + u + rowShift) * ow + q0) * outC;
      heap.copyWithin(dst + ((b * padH + u) * padW + q0 - colShift) * outC, from, from + (q1 - q0) * outC);
    }
  }
  return out;
}
