import type * as tf from '@tensorflow/tfjs-core';
import type { KernelCalls } from './kernel-calls.js';
import { conv2dWinograd, winogradApplies } from './conv-winograd.js';
import { laneRange, onLanes } from './threads/lanes.js';
import { type GemmActivation, TILE_COLS, TILE_ROWS, packPanels } from './wasm/gemm.js';

type TensorInfo = tf.TensorInfo;
type Conv2DInfo = tf.backend_util.Conv2DInfo;

/** What a conv adds after the sum: a bias of `outChannels` values and an activation. */
export interface ConvEpilogue {
  bias?: TensorInfo;
  activation?: GemmActivation;
  leakyreluAlpha?: number;
}

/**
 * A forward NHWC conv2d (any stride, padding, dilation, channel counts) on otsr's SIMD GEMM: each output pixel is a row
 * whose fh·fw segments are the Cin channels of the input pixel under each tap, or a run of zeros where the
 * tap falls in the padding. The indirection table holds their addresses, so nothing is copied (im2col
 * without the copy); the filter [fh, fw, Cin, Cout] is already the GEMM's B and is only packed into panels.
 * Bias and relu / leaky relu are applied as each tile is stored. The result is one of `calls`' intermediates:
 * the caller keeps it.
 */
export function conv2dGemm(calls: KernelCalls, x: TensorInfo, filter: TensorInfo, info: Conv2DInfo, epilogue: ConvEpilogue = {}): TensorInfo {
  const simd = calls.simd();
  const { batchSize: batch, inHeight: inH, inWidth: inW, inChannels: inC, outHeight: outH, outWidth: outW, outChannels: outC } = info;
  const { filterHeight: fh, filterWidth: fw, strideHeight: sh, strideWidth: sw, dilationHeight: dh, dilationWidth: dw } = info;
  const taps = fh * fw;
  const rows = batch * outH * outW;
  // Output channels in whole panels; a 3-channel (RGB) output is computed 8 wide and copied out.
  const cols = Math.ceil(outC / TILE_COLS) * TILE_COLS;
  const padded = cols !== outC;
  const wide = calls.empty([rows, cols]);
  const bias = epilogue.bias === undefined ? undefined : padded ? calls.zeros([cols]) : epilogue.bias;
  const zeros = calls.zeros([inC]);
  const table = calls.empty([rows * taps], 'int32');
  const packed = calls.empty([taps * inC * cols]);
  // After the last allocation: views (see KernelCalls).
  if (padded) {
    const { heap, at } = calls.heap(filter, packed);
    packPanels(heap, at[0]!, outC, taps * inC, outC, at[1]!);
  } else simd.pack(calls.address(filter), outC, taps * inC, outC, calls.address(packed));
  if (padded && bias !== undefined) calls.view(bias).set(calls.view(epilogue.bias!));
  // Row (b, oh, ow)'s segments: the input pixel under each tap, or the zero run in the padding.
  simd.addressTable(calls.address(table), {
    batch,
    grid: [outH, outW],
    step: [sh, sw],
    taps: [fh, fw],
    dilation: [dh, dw],
    origin: [info.padInfo.top, info.padInfo.left],
    size: [inH, inW],
    base: calls.address(x),
    pixelBytes: inC * 4,
    fallback: calls.address(zeros),
  });
  const [tableAt, packedAt, wideAt] = [table, packed, wide].map((t) => calls.address(t)) as [number, number, number];
  const biasAt = bias === undefined ? 0 : calls.address(bias);
  // With kernel threads each lane computes a run of whole 4-row tiles: every output element is then the same
  // sum in the same order as in one thread, so the result has the same bits.
  onLanes(calls, simd, (kernels, lanes, lane) => {
    const [r0, r1] = laneRange(rows, lanes, lane, TILE_ROWS);
    if (r1 <= r0) return;
    kernels.gemm({
      indirection: tableAt + r0 * taps * 4,
      segments: taps,
      segmentLength: inC,
      packedB: packedAt,
      out: wideAt + r0 * cols * 4,
      outStride: cols,
      rows: r1 - r0,
      cols,
      bias: biasAt,
      activation: epilogue.activation,
      alpha: epilogue.leakyreluAlpha,
    });
  });
  return calls.firstColumns(wide, outC, [batch, outH, outW, outC]);
}

/** How a forward conv runs: the direct GEMM conv above, or Winograd F(2x2, 3x3) / F(4x4, 3x3). */
export type ConvMethod = 'direct' | 'winograd2' | 'winograd4';

/** Fewest multiply-adds per image (as direct FLOPs) for which Winograd pays: 5 MFLOP. */
const WINOGRAD_MIN_FLOP_PER_IMAGE = 5e6;

/**
 * The method for a conv, by a rule measured on this project's CPU (bench/RESULTS.md, "Winograd"): Winograd
 * where it applies (3x3, stride 1, undilated, channels in fours) and the layer is wide enough for the
 * transforms and the 16 or 36 GEMM calls per block to pay: at least 16 channels in and out and 5 MFLOP per
 * image (16 -> 16 channels tie with direct at 24² and win 1.4x at 96²). F(4x4) unless the output is so small
 * that F(2x2) does fewer multiplies (its tiles overhang the output less).
 *
 * The rule looks at one image, not the batch, so that a batch split over workers runs every image by the
 * same method as in one thread (each image's output is then the same to the bit).
 */
export function convMethodFor(info: Conv2DInfo): ConvMethod {
  if (!winogradApplies(info)) return 'direct';
  const { inChannels: inC, outChannels: outC, outHeight: outH, outWidth: outW } = info;
  const flopPerImage = 2 * outH * outW * 9 * inC * outC;
  if (Math.min(inC, outC) < 16 || flopPerImage < WINOGRAD_MIN_FLOP_PER_IMAGE) return 'direct';
  const multiplies = (m: number) => Math.ceil(outH / m) * Math.ceil(outW / m) * (m + 2) ** 2;
  return multiplies(2) < multiplies(4) ? 'winograd2' : 'winograd4';
}

/**
 * A forward conv by `method` (default: {@link convMethodFor}); a Winograd method where Winograd does not apply
 * falls back to direct.
 */
export function conv2dForward(calls: KernelCalls, x: TensorInfo, filter: TensorInfo, info: Conv2DInfo, epilogue: ConvEpilogue = {}, method: ConvMethod = convMethodFor(info)): TensorInfo {
  if (method === 'direct' || !winogradApplies(info)) return conv2dGemm(calls, x, filter, info, epilogue);
  return conv2dWinograd(calls, x, filter, info, method === 'winograd2' ? 2 : 4, epilogue);
}
