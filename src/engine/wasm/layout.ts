import { I32, V128, WasmFunction } from './encoder.js';

/**
 * Layout kernels for the filter gradient and the bias gradient: moves and sums that JS loops did at
 * 5-7 ns per float, which the SIMD GEMM had made a visible share of a training step.
 */

/**
 * `channelsFirst(src, quads, channels, dst, dstStride)`: a run of 4·quads pixels [p][c] (channels a
 * multiple of 4) to channel rows: channel c's pixels at dst + c·dstStride (bytes), contiguous. Each 4 x 4
 * block goes through registers as a transpose of four vectors (8 shuffles).
 */
export function channelsFirstFunction(): WasmFunction {
  const f = new WasmFunction([I32, I32, I32, I32, I32]);
  const [src, quads, channels, dst, dstStride] = [0, 1, 2, 3, 4];
  const quad = f.local(I32);
  const c = f.local(I32);
  const from = f.local(I32);
  const to = f.local(I32);
  const pixelBytes = f.local(I32);
  const v = Array.from({ length: 4 }, () => f.local(V128));
  const t = Array.from({ length: 4 }, () => f.local(V128));
  f.get(channels).i32Const(4).i32Mul().set(pixelBytes);
  f.i32Const(0).set(quad);
  f.loop(); // quads of pixels
  f.i32Const(0).set(c);
  f.loop(); // quads of channels
  // from = src + (4·quad·channels + c)·4; to = dst + c·dstStride + 16·quad
  f.get(src).get(quad).get(pixelBytes).i32Mul().i32Const(4).i32Mul().i32Add().get(c).i32Const(4).i32Mul().i32Add().set(from);
  f.get(dst).get(c).get(dstStride).i32Mul().i32Add().get(quad).i32Const(16).i32Mul().i32Add().set(to);
  for (let k = 0; k < 4; k++) f.get(from).v128Load(0).set(v[k]!).get(from).get(pixelBytes).i32Add().set(from);
  f.get(v[0]!).get(v[1]!).i32x4Shuffle([0, 4, 1, 5]).set(t[0]!);
  f.get(v[0]!).get(v[1]!).i32x4Shuffle([2, 6, 3, 7]).set(t[1]!);
  f.get(v[2]!).get(v[3]!).i32x4Shuffle([0, 4, 1, 5]).set(t[2]!);
  f.get(v[2]!).get(v[3]!).i32x4Shuffle([2, 6, 3, 7]).set(t[3]!);
  const rows: [number, number, [number, number, number, number]][] = [
    [0, 2, [0, 1, 4, 5]],
    [0, 2, [2, 3, 6, 7]],
    [1, 3, [0, 1, 4, 5]],
    [1, 3, [2, 3, 6, 7]],
  ];
  for (const [a, b, lanes] of rows) {
    f.get(to).get(t[a]!).get(t[b]!).i32x4Shuffle(lanes).v128Store(0);
    f.get(to).get(dstStride).i32Add().set(to);
  }
  f.get(c).i32Const(4).i32Add().tee(c).get(channels).i32LtU().brIf(0);
  f.end();
  f.get(quad).i32Const(1).i32Add().tee(quad).get(quads).i32LtU().brIf(0);
  f.end();
  return f;
}

/**
 * `columnSums(src, rows, quads, dst)`: dst[c] = Σ_r src[r][c] for a row-major [rows][4·quads] matrix, in
 * float32 (callers keep blocks short and add the blocks in float64).
 */
export function columnSumsFunction(): WasmFunction {
  const f = new WasmFunction([I32, I32, I32, I32]);
  const [src, rows, quads, dst] = [0, 1, 2, 3];
  const r = f.local(I32);
  const q = f.local(I32);
  const at = f.local(I32);
  const to = f.local(I32);
  f.i32Const(0).set(q);
  f.loop(); // zero dst
  f.get(dst).get(q).i32Const(16).i32Mul().i32Add().v128Zero().v128Store(0);
  f.get(q).i32Const(1).i32Add().tee(q).get(quads).i32LtU().brIf(0);
  f.end();
  f.get(src).set(at);
  f.get(rows).set(r);
  f.loop(); // rows
  f.get(dst).set(to);
  f.get(quads).set(q);
  f.loop(); // quads of columns
  f.get(to).get(to).v128Load(0).get(at).v128Load(0).f32x4Add().v128Store(0);
  f.get(to).i32Const(16).i32Add().set(to);
  f.get(at).i32Const(16).i32Add().set(at);
  f.get(q).i32Const(1).i32Sub().tee(q).brIf(0);
  f.end();
  f.get(r).i32Const(1).i32Sub().tee(r).brIf(0);
  f.end();
  return f;
}
