import { F32, I32, V128, WasmFunction } from './encoder.js';
import type { GemmActivation } from './gemm.js';

/**
 * Winograd's minimal filtering F(m x m, 3 x 3) for stride-1 3x3 convs (Lavin & Gray 2016): an (m+2)² input
 * tile d gives an m² output tile as Y = Aᵀ [(G g Gᵀ) ⊙ (Bᵀ d B)] A, summed over input channels. The sum over
 * channels of the elementwise products is, for each of the n² = (m+2)² transform positions ξ, a GEMM
 * [tiles x Cin]·[Cin x Cout], which runs on otsr's SIMD GEMM; the transforms here are SIMD over 4 channels
 * (NHWC keeps a pixel's channels contiguous). Multiplies per output: 9 direct, 4 with F(2x2) (n² / m² =
 * 16/4), 2.25 with F(4x4) (36/16).
 *
 * Rounding: each transform is a fixed linear map, so the error is a few ulps of the transformed values
 * (Barabasz et al. 2020, "Error analysis and improving the accuracy of Winograd convolution"), which are
 * larger than the data by about ‖Bᵀ‖²‖G‖²‖Aᵀ‖² (max row sums): 2²·1.5²·3² for F(2x2), 10²·0.5²·19² for
 * F(4x4). test/engine/conv-winograd.test.ts states the tolerance each is held to.
 */

export type WinogradTile = 2 | 4;

export interface WinogradMatrices {
  /** Output tile side. */
  m: number;
  /** Input tile side, m + 2. */
  n: number;
  /** Input transform Bᵀ, n x n. */
  BT: number[][];
  /** Filter transform G, n x 3. */
  G: number[][];
  /** Output transform Aᵀ, m x n. */
  AT: number[][];
}

/** Lavin & Gray's matrices: F(2x2) on the points 0, ±1; F(4x4) on 0, ±1, ±2 (and ∞ for both). */
export const WINOGRAD: Record<WinogradTile, WinogradMatrices> = {
  2: {
    m: 2,
    n: 4,
    BT: [
      [1, 0, -1, 0],
      [0, 1, 1, 0],
      [0, -1, 1, 0],
      [0, 1, 0, -1],
    ],
    G: [
      [1, 0, 0],
      [0.5, 0.5, 0.5],
      [0.5, -0.5, 0.5],
      [0, 0, 1],
    ],
    AT: [
      [1, 1, 1, 0],
      [0, 1, -1, -1],
    ],
  },
  4: {
    m: 4,
    n: 6,
    BT: [
      [4, 0, -5, 0, 1, 0],
      [0, -4, -4, 1, 1, 0],
      [0, 4, -4, -1, 1, 0],
      [0, -2, -1, 2, 1, 0],
      [0, 2, -1, -2, 1, 0],
      [0, 4, 0, -5, 0, 1],
    ],
    G: [
      [1 / 4, 0, 0],
      [-1 / 6, -1 / 6, -1 / 6],
      [-1 / 6, 1 / 6, -1 / 6],
      [1 / 24, 1 / 12, 1 / 6],
      [1 / 24, -1 / 12, 1 / 6],
      [0, 0, 1],
    ],
    AT: [
      [1, 1, 1, 1, 1, 0],
      [0, 1, -1, 2, -2, 0],
      [0, 1, 1, 4, 4, 0],
      [0, 1, -1, 8, -8, 1],
    ],
  },
};

/** Splatted constants of a function, one v128 local per distinct |coefficient| other than 0 and 1. */
class Constants {
  private readonly locals = new Map<number, number>();
  constructor(
    private readonly f: WasmFunction,
    matrix: number[][],
  ) {
    for (const c of new Set(matrix.flat().map(Math.abs))) {
      if (c === 0 || c === 1) continue;
      const local = f.local(V128);
      f.f32Const(c).f32x4Splat().set(local);
      this.locals.set(c, local);
    }
  }
  get(c: number): number {
    return this.locals.get(c)!;
  }
}

/** Pushes Σ coefficient·value over `terms` (zero coefficients skipped) as one v128. */
function combination(f: WasmFunction, constants: Constants, terms: [number, () => void][]): void {
  const live = terms.filter(([c]) => c !== 0);
  if (live.length === 0) {
    f.v128Zero();
    return;
  }
  // Start with a positive term where there is one, so that no negation is needed.
  const first = live.findIndex(([c]) => c > 0);
  const ordered = first < 0 ? live : [live[first]!, ...live.filter((_, i) => i !== first)];
  const scaled = ([c, push]: [number, () => void]) => {
    push();
    if (Math.abs(c) !== 1) f.get(constants.get(Math.abs(c))).f32x4Mul();
  };
  if (ordered[0]![0] > 0) scaled(ordered[0]!);
  else {
    f.v128Zero();
    scaled(ordered[0]!);
    f.f32x4Sub();
  }
  for (const term of ordered.slice(1)) {
    scaled(term);
    if (term[0] > 0) f.f32x4Add();
    else f.f32x4Sub();
  }
}

/**
 * An emitter of Y = L X Lᵀ for a p x q matrix L and a q x q matrix X of v128 values: `load(k, j)` pushes
 * X[k][j], `store(i, i2, push)` stores Y[i][i2] (calling `push` to put the value on the stack). Row by row,
 * so that only q intermediate vectors (one row of L X) are live. Its constants are splatted where it is
 * created: create it before the loops.
 */
function transform2d(f: WasmFunction, L: number[][]) {
  const constants = new Constants(f, L);
  const q = L[0]!.length;
  const row = Array.from({ length: q }, () => f.local(V128));
  return (load: (k: number, j: number) => void, store: (i: number, i2: number, push: () => void) => void): void => {
    for (let i = 0; i < L.length; i++) {
      for (let j = 0; j < q; j++) {
        combination(f, constants, L[i]!.map((c, k) => [c, () => load(k, j)] as [number, () => void]));
        f.set(row[j]!);
      }
      for (let i2 = 0; i2 < L.length; i2++) {
        store(i, i2, () => combination(f, constants, L[i2]!.map((c, j) => [c, () => f.get(row[j]!)] as [number, () => void])));
      }
    }
  };
}

/**
 * `winogradInput(table, tiles, quads, dst, xiStride, rowBytes)`, bytes: for each tile t, V = Bᵀ d B over
 * 4·quads channels, d[k][j] being the pixel at address table[t·n² + k·n + j] (a zero run where the tile
 * overhangs the padded input); V[ξ] for channels 4c..4c+3 goes to dst + ξ·xiStride + t·rowBytes + 16c, so
 * each ξ is a row-major [tiles x channels] matrix: A of that position's GEMM.
 */
export function winogradInputFunction(tile: WinogradTile): WasmFunction {
  const { n, BT } = WINOGRAD[tile];
  const f = new WasmFunction([I32, I32, I32, I32, I32, I32]);
  const [table, tiles, quads, dst, xiStride, rowBytes] = [0, 1, 2, 3, 4, 5];
  const t = f.local(I32);
  const q = f.local(I32);
  const offset = f.local(I32); // 16·quad
  const entries = f.local(I32); // this tile's table entries
  const out = f.local(I32); // dst + t·rowBytes + 16·quad
  const transform = transform2d(f, BT);
  f.i32Const(0).set(t);
  f.loop(); // tiles
  f.get(table).get(t).i32Const(n * n * 4).i32Mul().i32Add().set(entries);
  f.i32Const(0).set(offset);
  f.get(quads).set(q);
  f.loop(); // quads of channels
  f.get(dst).get(t).get(rowBytes).i32Mul().i32Add().get(offset).i32Add().set(out);
  transform(
    (k, j) => f.get(entries).i32Load(4 * (k * n + j)).get(offset).i32Add().v128Load(0),
    (i, i2, push) => {
      f.get(out).get(xiStride).i32Const(i * n + i2).i32Mul().i32Add();
      push();
      f.v128Store(0);
    },
  );
  f.get(offset).i32Const(16).i32Add().set(offset);
  f.get(q).i32Const(1).i32Sub().tee(q).brIf(0);
  f.end();
  f.get(t).i32Const(1).i32Add().tee(t).get(tiles).i32LtU().brIf(0);
  f.end();
  return f;
}

/**
 * `winogradOutput(table, tiles, quads, src, xiStride, rowBytes, bias, alpha)`, bytes: for each tile t,
 * Y = Aᵀ M A over 4·quads channels, M[ξ] read from src + ξ·xiStride + t·rowBytes + 16c (the GEMMs' outputs),
 * plus the bias (4·quads floats at `bias`), then the activation (compiled in: one function per activation),
 * stored to the pixel at table[t·m² + i·m + i2] (a scratch run where the tile overhangs the output).
 */
export function winogradOutputFunction(tile: WinogradTile, activation: GemmActivation): WasmFunction {
  const { m, n, AT } = WINOGRAD[tile];
  const f = new WasmFunction([I32, I32, I32, I32, I32, I32, I32, F32]);
  const [table, tiles, quads, src, xiStride, rowBytes, bias, alpha] = [0, 1, 2, 3, 4, 5, 6, 7];
  const t = f.local(I32);
  const q = f.local(I32);
  const offset = f.local(I32);
  const entries = f.local(I32);
  const from = f.local(I32); // src + t·rowBytes + 16·quad
  const biases = f.local(V128);
  const alphas = f.local(V128);
  const y = f.local(V128);
  const transform = transform2d(f, AT);
  f.get(alpha).f32x4Splat().set(alphas);
  f.i32Const(0).set(t);
  f.loop(); // tiles
  f.get(table).get(t).i32Const(m * m * 4).i32Mul().i32Add().set(entries);
  f.i32Const(0).set(offset);
  f.get(quads).set(q);
  f.loop(); // quads of channels
  f.get(src).get(t).get(rowBytes).i32Mul().i32Add().get(offset).i32Add().set(from);
  f.get(bias).get(offset).i32Add().v128Load(0).set(biases);
  transform(
    (k, j) => f.get(from).get(xiStride).i32Const(k * n + j).i32Mul().i32Add().v128Load(0),
    (i, i2, push) => {
      f.get(entries).i32Load(4 * (i * m + i2)).get(offset).i32Add();
      push();
      f.get(biases).f32x4Add();
      if (activation === 'relu') f.v128Zero().f32x4Max();
      else if (activation === 'leakyrelu') {
        f.set(y);
        f.get(y).get(alphas).f32x4Mul().get(y).get(y).v128Zero().f32x4Lt().v128Bitselect();
      }
      f.v128Store(0);
    },
  );
  f.get(offset).i32Const(16).i32Add().set(offset);
  f.get(q).i32Const(1).i32Sub().tee(q).brIf(0);
  f.end();
  f.get(t).i32Const(1).i32Add().tee(t).get(tiles).i32LtU().brIf(0);
  f.end();
  return f;
}

/**
 * `winogradFilter(src, inChannels, quads, tapBytes, channelBytes, dst, xiStride, halfPanelBytes)`, bytes:
 * U = G g Gᵀ of a [3, 3, Cin, Cout] filter at `src` (tap (a, b) of input channel ci at
 * src + (3a + b)·tapBytes + ci·channelBytes), 4·quads output channels at a time, written as the GEMM's
 * packed B of each position ξ: [panels][Cin][8] at dst + ξ·xiStride, so output channel 4c's run of 4 lies
 * at (c & ~1)·halfPanelBytes + ci·32 + (c & 1)·16.
 */
export function winogradFilterFunction(tile: WinogradTile): WasmFunction {
  const { n, G } = WINOGRAD[tile];
  const f = new WasmFunction([I32, I32, I32, I32, I32, I32, I32, I32]);
  const [src, inChannels, quads, tapBytes, channelBytes, dst, xiStride, halfPanelBytes] = [0, 1, 2, 3, 4, 5, 6, 7];
  const ci = f.local(I32);
  const c = f.local(I32);
  const from = f.local(I32);
  const to = f.local(I32);
  const transform = transform2d(f, G);
  f.i32Const(0).set(ci);
  f.loop(); // input channels
  f.i32Const(0).set(c);
  f.loop(); // quads of output channels
  f.get(src).get(ci).get(channelBytes).i32Mul().i32Add().get(c).i32Const(16).i32Mul().i32Add().set(from);
  setPanelAddress(f, to, dst, c, ci, halfPanelBytes);
  transform(
    (a, b) => f.get(from).get(tapBytes).i32Const(3 * a + b).i32Mul().i32Add().v128Load(0),
    (i, j, push) => {
      f.get(to).get(xiStride).i32Const(i * n + j).i32Mul().i32Add();
      push();
      f.v128Store(0);
    },
  );
  f.get(c).i32Const(1).i32Add().tee(c).get(quads).i32LtU().brIf(0);
  f.end();
  f.get(ci).i32Const(1).i32Add().tee(ci).get(inChannels).i32LtU().brIf(0);
  f.end();
  return f;
}

/**
 * Sets local `to` to where channel quad `c` of row `row` (a GEMM row: an input channel, or a tile) goes in packed
 * GEMM panels of 8 columns at `dst`: (c & ~1)·halfPanelBytes + 32·row + 16·(c & 1) bytes. All are locals.
 */
function setPanelAddress(f: WasmFunction, to: number, dst: number, c: number, row: number, halfPanelBytes: number): void {
  f.get(dst).get(c).i32Const(-2).i32And().get(halfPanelBytes).i32Mul().i32Add();
  f.get(row).i32Const(32).i32Mul().i32Add().get(c).i32Const(1).i32And().i32Const(16).i32Mul().i32Add().set(to);
}

/**
 * The filter gradient as Winograd (the transpose of the forward algorithm): the forward output tile is
 * Y = Aᵀ[(G g Gᵀ) ⊙ V]A, so its gradient with respect to g is Gᵀ[(A dY Aᵀ) ⊙ V]G, summed over tiles. The input
 * transform V is the forward one; these are the dy transform (A dY Aᵀ, m x m -> n x n) and the last one
 * (Gᵀ M G, n x n -> 3 x 3), with the sum over tiles a GEMM per position ξ between them.
 */

/**
 * `winogradDy(table, tiles, quads, dst, xiStride, halfPanelBytes)`, bytes: for each tile t, A dY Aᵀ over
 * 4·quads channels, dY[i][j] at table[t·m² + i·m + j] (a zero run where the tile overhangs dy), written as
 * the GEMM's packed B [panels][tiles][8] of each position ξ at dst + ξ·xiStride: channel 4c's run of 4 of
 * tile t at (c & ~1)·halfPanelBytes + 32t + 16(c & 1).
 */
export function winogradDyFunction(tile: WinogradTile): WasmFunction {
  const { m, n, AT } = WINOGRAD[tile];
  const A = AT[0]!.map((_, k) => AT.map((row) => row[k]!)); // n x m
  const f = new WasmFunction([I32, I32, I32, I32, I32, I32]);
  const [table, tiles, quads, dst, xiStride, halfPanelBytes] = [0, 1, 2, 3, 4, 5];
  const t = f.local(I32);
  const c = f.local(I32);
  const entries = f.local(I32);
  const to = f.local(I32);
  const transform = transform2d(f, A);
  f.i32Const(0).set(t);
  f.loop(); // tiles
  f.get(table).get(t).i32Const(m * m * 4).i32Mul().i32Add().set(entries);
  f.i32Const(0).set(c);
  f.loop(); // quads of channels
  setPanelAddress(f, to, dst, c, t, halfPanelBytes);
  transform(
    (i, j) => f.get(entries).i32Load(4 * (i * m + j)).get(c).i32Const(16).i32Mul().i32Add().v128Load(0),
    (i, j, push) => {
      f.get(to).get(xiStride).i32Const(i * n + j).i32Mul().i32Add();
      push();
      f.v128Store(0);
    },
  );
  f.get(c).i32Const(1).i32Add().tee(c).get(quads).i32LtU().brIf(0);
  f.end();
  f.get(t).i32Const(1).i32Add().tee(t).get(tiles).i32LtU().brIf(0);
  f.end();
  return f;
}

/**
 * `winogradFilterGrad(src, inChannels, quads, rowBytes, xiStride, dst, tapBytes, channelBytes)`, bytes:
 * dW = Gᵀ M G for each input channel ci and 4·quads output channels, M[ξ] read from
 * src + ξ·xiStride + ci·rowBytes + 16c (the GEMMs' [Cin x Cout] outputs), tap (a, b) stored at
 * dst + (3a + b)·tapBytes + ci·channelBytes + 16c (a [3, 3, Cin, Cout] filter).
 */
export function winogradFilterGradFunction(tile: WinogradTile): WasmFunction {
  const { n, G } = WINOGRAD[tile];
  const GT = G[0]!.map((_, k) => G.map((row) => row[k]!)); // 3 x n
  const f = new WasmFunction([I32, I32, I32, I32, I32, I32, I32, I32]);
  const [src, inChannels, quads, rowBytes, xiStride, dst, tapBytes, channelBytes] = [0, 1, 2, 3, 4, 5, 6, 7];
  const ci = f.local(I32);
  const c = f.local(I32);
  const from = f.local(I32);
  const to = f.local(I32);
  const transform = transform2d(f, GT);
  f.i32Const(0).set(ci);
  f.loop(); // input channels
  f.i32Const(0).set(c);
  f.loop(); // quads of output channels
  f.get(src).get(ci).get(rowBytes).i32Mul().i32Add().get(c).i32Const(16).i32Mul().i32Add().set(from);
  f.get(dst).get(ci).get(channelBytes).i32Mul().i32Add().get(c).i32Const(16).i32Mul().i32Add().set(to);
  transform(
    (k, j) => f.get(from).get(xiStride).i32Const(k * n + j).i32Mul().i32Add().v128Load(0),
    (a, b, push) => {
      f.get(to).get(tapBytes).i32Const(3 * a + b).i32Mul().i32Add();
      push();
      f.v128Store(0);
    },
  );
  f.get(c).i32Const(1).i32Add().tee(c).get(quads).i32LtU().brIf(0);
  f.end();
  f.get(ci).i32Const(1).i32Add().tee(ci).get(inChannels).i32LtU().brIf(0);
  f.end();
  return f;
}
