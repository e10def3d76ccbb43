import type * as tf from '@tensorflow/tfjs-core';
import type { ConvEpilogue } from './conv-forward.js';
import type { KernelCalls } from './kernel-calls.js';
import { laneRange, onLanes } from './threads/lanes.js';
import { TILE_COLS } from './wasm/gemm.js';
import { WINOGRAD, type WinogradTile } from './wasm/winograd.js';

type TensorInfo = tf.TensorInfo;
type Conv2DInfo = tf.backend_util.Conv2DInfo;

/**
 * Bytes of transformed data (V and M) per block of tiles: bounds the scratch on large images. Measured on
 * the EDSR layers from 128 KiB to 8 MiB: below 1 MiB the 16 or 36 GEMM calls per block cost more than the
 * cache saves; from 1 to 8 MiB the same within the noise.
 */
export const WINOGRAD_BLOCK_BYTES = 2 << 20;
/** Padding after each transform position's row of V and M (one cache line). */
export const WINOGRAD_PAD_BYTES = 64;

/** Whether a conv can run as Winograd F(m x m, 3 x 3): 3x3, stride 1, no dilation, channels in fours. */
export function winogradApplies(info: Conv2DInfo): boolean {
  return (
    info.filterHeight === 3 &&
    info.filterWidth === 3 &&
    info.strideHeight === 1 &&
    info.strideWidth === 1 &&
    info.dilationHeight === 1 &&
    info.dilationWidth === 1 &&
    info.inChannels % 4 === 0 &&
    info.outChannels % 4 === 0
  );
}

/**
 * How a conv's output is cut into Winograd tiles, shared by the forward conv and the filter gradient: output tile
 * side m, transform side n (positions = n²), the tile grid, the GEMM's padded column count for Cout, and the bytes
 * of one position's row of V (Cin floats plus a cache line).
 */
export function winogradGeometry(info: Conv2DInfo, tile: WinogradTile) {
  const { m, n } = WINOGRAD[tile];
  const tilesH = Math.ceil(info.outHeight / m);
  const tilesW = Math.ceil(info.outWidth / m);
  return {
    m,
    n,
    positions: n * n,
    cols: Math.ceil(info.outChannels / TILE_COLS) * TILE_COLS,
    tilesH,
    tilesW,
    tiles: info.batchSize * tilesH * tilesW,
    vRow: info.inChannels * 4 + WINOGRAD_PAD_BYTES,
  };
}

/**
 * A forward NHWC 3x3 stride-1 conv as Winograd F(m x m, 3 x 3) (wasm/winograd.ts), m = `tile`: the output is
 * cut into m x m tiles; per block of tiles, the input transform writes each transform position ξ's
 * [tiles x Cin] matrix, one GEMM per ξ multiplies it by the transformed filter [Cin x Cout] (otsr's SIMD
 * GEMM, packed B), and the output transform adds the bias, applies the activation and stores the tiles.
 * Tiles reach their pixels through address tables, as the direct conv's rows do: the input padding and the
 * tiles that overhang the output need no special code (a zero run, a scratch run). The result is one of
 * `calls`' intermediates: the caller keeps it.
 */
export function conv2dWinograd(
  calls: KernelCalls,
  x: TensorInfo,
  filter: TensorInfo,
  info: Conv2DInfo,
  tile: WinogradTile,
  epilogue: ConvEpilogue = {},
): TensorInfo {
  if (!winogradApplies(info)) throw new Error('conv2dWinograd: not a 3x3 stride-1 undilated conv with channels in multiples of 4');
  const simd = calls.simd();
  const { batchSize: batch, inHeight: inH, inWidth: inW, inChannels: inC, outHeight: outH, outWidth: outW, outChannels: outC } = info;
  // V and M are [tile][ξ][channels] with ξ's rows padded by a cache line: a tile's transforms then read or
  // write one contiguous run, where [ξ][tile] put the n² vectors of a tile a power-of-two stride apart, in
  // one set of the L1 cache (measured: the output transform ran at a third of the speed).
  const { m, n, positions, cols, tilesH, tilesW, tiles, vRow } = winogradGeometry(info, tile);
  const mRow = cols * 4 + WINOGRAD_PAD_BYTES;
  // With kernel threads each lane transforms, multiplies and stores its own run of tiles, in its own V and M:
  // a tile's outputs are the same arithmetic in any lane and any block, so the result has the same bits.
  const lanes = calls.lanes()?.count ?? 1;
  const laneTiles = Math.ceil(tiles / lanes);
  const block = Math.min(laneTiles, Math.max(4, Math.floor(WINOGRAD_BLOCK_BYTES / (positions * (vRow + mRow)))));

  const out = calls.empty([batch, outH, outW, outC]);
  const zeros = calls.zeros([inC]);
  const scratch = calls.empty([outC]);
  const bias = epilogue.bias ?? calls.zeros([outC]);
  const inTable = calls.empty([tiles * positions], 'int32');
  const outTable = calls.empty([tiles * m * m], 'int32');
  // A last half panel (outC = 8k + 4) stays zero: the filter transform writes only outC columns.
  const packed = cols === outC ? calls.empty([positions * cols * inC]) : calls.zeros([positions * cols * inC]);
  const perLane = Array.from({ length: lanes }, () => ({
    rowTable: calls.empty([block * positions], 'int32'),
    v: calls.empty([(block * positions * vRow) / 4]),
    mOut: calls.empty([(block * positions * mRow) / 4]),
  }));
  // Addresses (which survive allocations, see KernelCalls) of what the kernels read and write.
  const [xAt, outAt, packedAt] = [x, out, packed].map((t) => calls.address(t)) as [number, number, number];
  const packedStride = cols * inC * 4;
  const inTableAt = calls.address(inTable);
  const outTableAt = calls.address(outTable);
  const grid = { batch, grid: [tilesH, tilesW] as [number, number], step: [m, m] as [number, number], dilation: [1, 1] as [number, number] };
  simd.addressTable(inTableAt, {
    ...grid,
    taps: [n, n],
    origin: [info.padInfo.top, info.padInfo.left],
    size: [inH, inW],
    base: xAt,
    pixelBytes: inC * 4,
    fallback: calls.address(zeros),
  });
  simd.addressTable(outTableAt, { ...grid, taps: [m, m], origin: [0, 0], size: [outH, outW], base: outAt, pixelBytes: outC * 4, fallback: calls.address(scratch) });
  // The GEMM of position ξ gathers its rows (one per tile of a block) from the lane's V through its table (small).
  const scratches = perLane.map(({ rowTable, v, mOut }) => {
    const vAt = calls.address(v);
    const rows = calls.backend.typedArrayFromHeap(rowTable) as Int32Array;
    for (let xi = 0; xi < positions; xi++) for (let t = 0; t < block; t++) rows[xi * block + t] = vAt + (t * positions + xi) * vRow;
    return { rowTableAt: calls.address(rowTable), vAt, mAt: calls.address(mOut) };
  });

  const biasAt = calls.address(bias);
  const filterAt = calls.address(filter);
  onLanes(calls, simd, (kernels, count, lane) => {
    // The filter transform is split by input channels; every lane's GEMMs read all of it, after the barrier.
    kernels.winogradFilter(tile, filterAt, inC, outC, packedAt, packedStride, laneRange(inC, count, lane));
    kernels.barrier();
    const { rowTableAt, vAt, mAt } = scratches[lane]!;
    const [first, end] = laneRange(tiles, count, lane);
    for (let t0 = first; t0 < end; t0 += block) {
      const rows = Math.min(block, end - t0);
      kernels.winogradInput(tile, inTableAt + t0 * positions * 4, rows, inC, vAt, vRow, positions * vRow);
      for (let xi = 0; xi < positions; xi++) {
        kernels.gemm({
          indirection: rowTableAt + xi * block * 4,
          segments: 1,
          segmentLength: inC,
          packedB: packedAt + xi * packedStride,
          out: mAt + xi * mRow,
          outStride: (positions * mRow) / 4,
          rows,
          cols,
        });
      }
      kernels.winogradOutput(tile, epilogue.activation ?? 'linear', {
        table: outTableAt + t0 * m * m * 4,
        tiles: rows,
        channels: outC,
        src: mAt,
        xiStride: mRow,
        rowBytes: positions * mRow,
        bias: biasAt,
        alpha: epilogue.leakyreluAlpha,
      });
    }
  });
  for (const t of [zeros, scratch, inTable, outTable, packed, ...perLane.flatMap((l) => [l.rowTable, l.v, l.mOut])]) calls.free(t);
  if (epilogue.bias === undefined) calls.free(bias);
  return out;
}
