import { F32, I32, V128, WasmFunction } from './encoder.js';

/**
 * otsr's SIMD GEMM for the wasm backend: C[rows x cols] (=|+=) A·B, where each row of A is gathered from
 * `segments` runs of `segmentLength` floats anywhere on the heap (an indirection table holds their
 * addresses), and B is packed in panels of 8 columns.
 *
 * One kernel serves every conv of training:
 * - forward conv / input gradient: a row is an output pixel, a segment the Cin channels under one filter
 *   tap (the address of a zero run where the tap falls in the padding): im2col without copying;
 * - filter gradient: a row is a (tap, input channel), a segment one output row's run of the channel-first
 *   input (every stride-th element), and B is dy.
 *
 * Why not XNNPACK: tfjs-backend-wasm 4.22's conv reaches ~50% of this core's SIMD ceiling. This micro-kernel
 * computes a 4 x 8 tile per step of the contraction with one load per row (`v128.load32_splat`), two loads
 * of B and 8 multiply-adds, so its 8 accumulators plus the 6 loaded vectors fit the 15 SIMD registers V8
 * allocates. A multiply-add is one `f32x4.relaxed_madd` (an FMA) where the engine has relaxed SIMD, else a
 * multiply and an add. Measured on 64-channel 3x3 convs: ~1.25x XNNPACK with mul + add, ~1.6x with FMA.
 * Unrolling the contraction loop made it *slower* (V8 hoists the loads of every unrolled step, and the
 * extra live vectors spill); taller or wider tiles spill too (5 x 8, 6 x 8, 3 x 16; 2 x 16 and 3 x 12 were
 * within 5% of 4 x 8).
 */

/** Rows and columns of the register tile. */
export const TILE_ROWS = 4;
export const TILE_COLS = 8;
/** Bytes per float. */
const F = 4;

export type GemmActivation = 'linear' | 'relu' | 'leakyrelu';

const ACTIVATION_CODE: Record<GemmActivation, number> = { linear: 0, relu: 1, leakyrelu: 2 };
const ACCUMULATE = 4;

/**
 * `gemm(indirection, segments, segmentLength, aStep, packedB, out, outStride, rows, panels, bias, flags,
 * alpha)`, addresses and steps in bytes:
 * - `indirection`: i32 [rows][segments], the address of each segment of each row of A, whose elements lie
 *   `aStep` apart (4: contiguous);
 * - `packedB`: f32 [panels][segments·segmentLength][8];
 * - `out`: row r, columns 8p..8p+7 at out + (r·outStride + 8p)·4;
 * - `bias`: f32 [panels·8] added to every row, or 0 for none;
 * - `flags`: activation code (0 linear, 1 relu, 2 leaky relu with slope `alpha`) | 4 to add into `out`.
 * Tiles past the last row repeat the last row (same values, stored to the same place; all loads of `out`
 * precede its stores, so accumulation stays exact).
 */
export function gemmFunction(options: { fma: boolean }): WasmFunction {
  const f = new WasmFunction([I32, I32, I32, I32, I32, I32, I32, I32, I32, I32, I32, F32]);
  const [indirection, segments, segmentLength, aStep, packedB, out, outStride, rows, panels, bias, flags, alpha] =
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11];
  const row0 = f.local(I32);
  const panel = f.local(I32);
  const segmentByte = f.local(I32);
  const k = f.local(I32);
  const b = f.local(I32);
  const last = f.local(I32);
  const rowIndex = Array.from({ length: TILE_ROWS }, () => f.local(I32)); // address of the row's indirection entries
  const rowOut = Array.from({ length: TILE_ROWS }, () => f.local(I32)); // address of the row's first output
  const a = Array.from({ length: TILE_ROWS }, () => f.local(I32)); // current A address of each row
  const acc = Array.from({ length: TILE_ROWS * 2 }, () => f.local(V128));
  const b0 = f.local(V128);
  const b1 = f.local(V128);
  const splat = f.local(V128);
  const alphas = f.local(V128);
  const accAt = (r: number, half: number) => acc[2 * r + half]!;

  f.get(alpha).f32x4Splat().set(alphas);
  f.get(rows).i32Const(1).i32Sub().set(last);
  f.i32Const(0).set(row0);
  f.loop(); // row tiles
  for (let r = 0; r < TILE_ROWS; r++) {
    // row = min(row0 + r, rows - 1)
    f.get(row0).i32Const(r).i32Add().tee(k).get(last).get(k).get(last).i32LtU().select().set(b);
    f.get(b).get(segments).i32Mul().i32Const(F).i32Mul().get(indirection).i32Add().set(rowIndex[r]!);
    f.get(b).get(outStride).i32Mul().i32Const(F).i32Mul().get(out).i32Add().set(rowOut[r]!);
  }
  f.get(packedB).set(b); // panels are contiguous: the contraction of one ends where the next begins
  f.i32Const(0).set(panel);
  f.loop(); // column panels
  for (const v of acc) f.v128Zero().set(v);
  f.i32Const(0).set(segmentByte);
  f.loop(); // segments
  for (let r = 0; r < TILE_ROWS; r++) f.get(rowIndex[r]!).get(segmentByte).i32Add().i32Load().set(a[r]!);
  f.get(segmentLength).set(k);
  f.loop(); // the contraction: one step = 4 x 8 multiply-adds
  f.get(b).v128Load(0).set(b0);
  f.get(b).v128Load(16).set(b1);
  for (let r = 0; r < TILE_ROWS; r++) {
    f.get(a[r]!).v128Load32Splat().set(splat);
    for (const [half, bv] of [[0, b0], [1, b1]] as const) {
      const v = accAt(r, half);
      if (options.fma) f.get(splat).get(bv).get(v).f32x4RelaxedMadd().set(v);
      else f.get(v).get(splat).get(bv).f32x4Mul().f32x4Add().set(v);
    }
  }
  for (let r = 0; r < TILE_ROWS; r++) f.get(a[r]!).get(aStep).i32Add().set(a[r]!);
  f.get(b).i32Const(TILE_COLS * F).i32Add().set(b);
  f.get(k).i32Const(1).i32Sub().tee(k).brIf(0);
  f.end();
  f.get(segmentByte).i32Const(F).i32Add().tee(segmentByte).get(segments).i32Const(F).i32Mul().i32LtU().brIf(0);
  f.end();
  // Epilogue: (+ out) (+ bias) (activation), then store. Loads of `out` all come before the stores.
  const forEachAcc = (fn: (r: number, half: number) => void) => {
    for (let r = 0; r < TILE_ROWS; r++) for (let half = 0; half < 2; half++) fn(r, half);
  };
  const outAddress = (r: number) => f.get(rowOut[r]!).get(panel).i32Const(TILE_COLS * F).i32Mul().i32Add();
  f.get(flags).i32Const(ACCUMULATE).i32And().if();
  forEachAcc((r, half) => {
    f.get(accAt(r, half));
    outAddress(r).v128Load(16 * half).f32x4Add().set(accAt(r, half));
  });
  f.end();
  f.get(bias).if();
  forEachAcc((r, half) => {
    f.get(accAt(r, half)).get(bias).get(panel).i32Const(TILE_COLS * F).i32Mul().i32Add().v128Load(16 * half).f32x4Add().set(accAt(r, half));
  });
  f.end();
  f.get(flags).i32Const(3).i32And().i32Const(ACTIVATION_CODE.relu).i32Eq().if();
  forEachAcc((r, half) => f.get(accAt(r, half)).v128Zero().f32x4Max().set(accAt(r, half)));
  f.end();
  f.get(flags).i32Const(3).i32And().i32Const(ACTIVATION_CODE.leakyrelu).i32Eq().if();
  forEachAcc((r, half) => {
    const v = accAt(r, half);
    f.get(v).get(alphas).f32x4Mul().get(v).get(v).v128Zero().f32x4Lt().v128Bitselect().set(v);
  });
  f.end();
  forEachAcc((r, half) => {
    outAddress(r).get(accAt(r, half)).v128Store(16 * half);
  });
  f.get(panel).i32Const(1).i32Add().tee(panel).get(panels).i32LtU().brIf(0);
  f.end();
  f.get(row0).i32Const(TILE_ROWS).i32Add().tee(row0).get(rows).i32LtU().brIf(0);
  f.end();
  return f;
}

/**
 * `pack(src, rowStride, rows, panels, dst)`: rows of a row-major matrix (`rowStride` bytes apart, 8·panels
 * columns) into packed panels [panels][rows][8] at `dst`, 32 bytes at a time. The GEMM re-reads B for every
 * tile of rows: packed, a panel is one contiguous stream, where a row-major B with a power-of-two row size
 * lands in a few cache sets and misses (measured: dy read in place, 32 bytes of each row, made the filter
 * gradient slower than packing it with a JS loop, 16.4 vs 17.6 GFLOP/s; packing it here, 21.4).
 */
export function packFunction(): WasmFunction {
  const f = new WasmFunction([I32, I32, I32, I32, I32]);
  const [src, rowStride, rows, panels, dst] = [0, 1, 2, 3, 4];
  const panel = f.local(I32);
  const row = f.local(I32);
  const from = f.local(I32);
  f.i32Const(0).set(panel);
  f.loop();
  f.get(src).get(panel).i32Const(TILE_COLS * F).i32Mul().i32Add().set(from);
  f.get(rows).set(row);
  f.loop();
  f.get(dst).get(from).v128Load(0).v128Store(0);
  f.get(dst).get(from).v128Load(16).v128Store(16);
  f.get(dst).i32Const(TILE_COLS * F).i32Add().set(dst);
  f.get(from).get(rowStride).i32Add().set(from);
  f.get(row).i32Const(1).i32Sub().tee(row).brIf(0);
  f.end();
  f.get(panel).i32Const(1).i32Add().tee(panel).get(panels).i32LtU().brIf(0);
  f.end();
  return f;
}

/** One GEMM call; addresses are byte offsets on the heap the kernel was instantiated on. */
export interface GemmCall {
  indirection: number;
  segments: number;
  segmentLength: number;
  /** Bytes between consecutive elements of a segment (default 4: contiguous). */
  aStep?: number;
  /** B in panels of 8 columns (see {@link packPanels}). */
  packedB: number;
  out: number;
  /** Floats between the starts of two output rows. */
  outStride: number;
  rows: number;
  /** Output columns: a multiple of 8 (pad B with zero columns otherwise). */
  cols: number;
  /** Address of `cols` floats added to every row, or 0. */
  bias?: number;
  activation?: GemmActivation;
  /** Slope of leaky relu for negative inputs. */
  alpha?: number;
  /** Add into `out` instead of overwriting it. */
  accumulate?: boolean;
}

/** The arguments of the `gemm` export for `call` (checked). */
export function gemmArguments(call: GemmCall): number[] {
  const { segments, segmentLength, rows, cols } = call;
  if (cols % TILE_COLS !== 0 || cols <= 0) throw new Error(`gemm: cols ${cols} is not a positive multiple of ${TILE_COLS}`);
  if (segments < 1 || segmentLength < 1 || rows < 1) throw new Error(`gemm: empty problem (${rows} rows, ${segments} x ${segmentLength})`);
  const flags = ACTIVATION_CODE[call.activation ?? 'linear'] | (call.accumulate ? ACCUMULATE : 0);
  return [
    call.indirection,
    segments,
    segmentLength,
    call.aStep ?? F,
    call.packedB,
    call.out,
    call.outStride,
    rows,
    cols / TILE_COLS,
    call.bias ?? 0,
    flags,
    call.alpha ?? 0,
  ];
}

/**
 * Packs B [k x n] (row-major at `src`, row stride `srcStride` floats, n <= 8·panels) into [panels][k][8]
 * at `dst`, zero-filling columns past n. Indices are float indices into `heap`.
 */
export function packPanels(heap: Float32Array, src: number, srcStride: number, k: number, n: number, dst: number): void {
  const panels = Math.ceil(n / TILE_COLS);
  for (let p = 0; p < panels; p++) {
    const c0 = p * TILE_COLS;
    const width = Math.min(TILE_COLS, n - c0);
    let d = dst + p * k * TILE_COLS;
    for (let i = 0; i < k; i++, d += TILE_COLS) {
      const s = src + i * srcStride + c0;
      for (let j = 0; j < TILE_COLS; j++) heap[d + j] = j < width ? heap[s + j]! : 0;
    }
  }
}
