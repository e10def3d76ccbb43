import type * as tf from '@tensorflow/tfjs-core';
import { WINOGRAD_BLOCK_BYTES, winogradApplies, winogradGeometry } from './conv-winograd.js';
import type { KernelCalls } from './kernel-calls.js';
import { laneRange, onLanes } from './threads/lanes.js';
import type { WinogradTile } from './wasm/winograd.js';

type TensorInfo = tf.TensorInfo;
type Conv2DInfo = tf.backend_util.Conv2DInfo;

/**
 * The filter gradient of a 3x3 stride-1 conv as Winograd F(m x m, 3 x 3) (wasm/winograd.ts):
 * dW = Gᵀ [Σ_tiles (A dY Aᵀ) ⊙ (Bᵀ x B)] G. Per block of output tiles, the input transform writes V
 * ([tile][ξ][Cin], as the forward conv's), the dy transform writes each position's packed B
 * [panels][tiles][8], and one GEMM per position ξ adds Vᵀ·D ([Cin x tiles]·[tiles x Cout]; A's rows are
 * read down V's columns, `aStep` apart) into M[ξ]; after the last block one transform gives the 3x3 taps.
 * 4x fewer multiplies than the direct gradient with F(4x4) (36 per 16 outputs against 9 per output).
 */
export function conv2dBackpropFilterWinograd(calls: KernelCalls, x: TensorInfo, dy: TensorInfo, info: Conv2DInfo, tile: WinogradTile): TensorInfo {
  if (!winogradApplies(info)) throw new Error('conv2dBackpropFilterWinograd: not a 3x3 stride-1 undilated conv with channels in multiples of 4');
  const simd = calls.simd();
  const { batchSize: batch, inHeight: inH, inWidth: inW, inChannels: inC, outHeight: outH, outWidth: outW, outChannels: outC } = info;
  const { m, n, positions, cols, tilesH, tilesW, tiles, vRow } = winogradGeometry(info, tile);
  const block = Math.min(tiles, Math.max(4, Math.floor(WINOGRAD_BLOCK_BYTES / (positions * (vRow + cols * 4)))));

  const dw = calls.empty([3, 3, inC, outC]);
  const zeros = calls.zeros([Math.max(inC, outC)]);
  const inTable = calls.empty([tiles * positions], 'int32');
  const dyTable = calls.empty([tiles * m * m], 'int32');
  const rowTable = calls.empty([positions * inC], 'int32');
  const v = calls.empty([(block * positions * vRow) / 4]);
  // A last half panel (outC = 8k + 4) stays zero: the dy transform writes only outC columns.
  const dPacked = cols === outC ? calls.empty([positions * block * cols]) : calls.zeros([positions * block * cols]);
  const mAcc = calls.empty([positions * inC * cols]);
  // Addresses (which survive allocations, see KernelCalls) of what the kernels read and write.
  const [vAt, dAt, mAt] = [v, dPacked, mAcc].map((t) => calls.address(t)) as [number, number, number];
  const [inTableAt, dyTableAt, rowTableAt, zeroAt] = [inTable, dyTable, rowTable, zeros].map((t) => calls.address(t)) as [number, number, number, number];
  const grid = { batch, grid: [tilesH, tilesW] as [number, number], step: [m, m] as [number, number], dilation: [1, 1] as [number, number] };
  simd.addressTable(inTableAt, {
    ...grid,
    taps: [n, n],
    origin: [info.padInfo.top, info.padInfo.left],
    size: [inH, inW],
    base: calls.address(x),
    pixelBytes: inC * 4,
    fallback: zeroAt,
  });
  simd.addressTable(dyTableAt, { ...grid, taps: [m, m], origin: [0, 0], size: [outH, outW], base: calls.address(dy), pixelBytes: outC * 4, fallback: zeroAt });
  // Row ci of position ξ's A: V[t][ξ][ci] over the block's tiles t, positions·vRow bytes apart.
  const rows = calls.backend.typedArrayFromHeap(rowTable) as Int32Array;
  for (let xi = 0; xi < positions; xi++) for (let ci = 0; ci < inC; ci++) rows[xi * inC + ci] = vAt + xi * vRow + ci * 4;

  const dStride = block * cols * 4;
  const mStride = inC * cols * 4;
  // With kernel threads, one run per block: the lanes transform runs of its tiles (into disjoint rows of V and
  // of the packed D), meet at a barrier, then multiply runs of the positions ξ. Each element of M is then
  // summed by one lane in block order, as in one thread: the same bits.
  for (let t0 = 0; t0 < tiles; t0 += block) {
    const count = Math.min(block, tiles - t0);
    // A shorter last block packs its panels closer together: clear the columns the dy transform leaves.
    if (count < block && cols !== outC) calls.view(dPacked).fill(0);
    onLanes(calls, simd, (kernels, lanes, lane) => {
      const [a, b] = laneRange(count, lanes, lane, 2); // whole 64-byte lines of each panel of D per lane
      if (b > a) {
        kernels.winogradInput(tile, inTableAt + (t0 + a) * positions * 4, b - a, inC, vAt + a * positions * vRow, vRow, positions * vRow);
        kernels.winogradDy(tile, dyTableAt + (t0 + a) * m * m * 4, b - a, outC, dAt + a * 32, dStride, count);
      }
      kernels.barrier();
      const [first, end] = laneRange(positions, lanes, lane);
      for (let xi = first; xi < end; xi++) {
        kernels.gemm({
          indirection: rowTableAt + xi * inC * 4,
          segments: 1,
          segmentLength: count,
          aStep: positions * vRow,
          packedB: dAt + xi * dStride,
          out: mAt + xi * mStride,
          outStride: cols,
          rows: inC,
          cols,
          accumulate: t0 > 0,
        });
      }
    });
  }
  simd.winogradFilterGrad(tile, mAt, inC, outC, cols, mStride, calls.address(dw));
  for (const t of [zeros, inTable, dyTable, rowTable, v, dPacked, mAcc]) calls.free(t);
  return dw;
}
