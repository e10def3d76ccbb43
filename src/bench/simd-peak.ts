/**
 * The arithmetic ceiling of 128-bit WebAssembly SIMD on this core: a tiny wasm module whose loop does only
 * f32x4 multiply-adds on 12 independent accumulators (enough to hide the latency of mul + add), so no
 * memory traffic, shuffles or bounds checks. Engine figures in GFLOP/s mean little across machines without
 * it: the same XNNPACK conv runs at 18 GFLOP/s on one CPU and 45 on another, and what a kernel can still
 * gain is its distance to this ceiling.
 *
 * The module is generated with otsr's wasm encoder (src/engine/wasm/encoder.ts), like the engine's GEMM.
 */

import { F32, I32, V128, WasmFunction, encodeModule } from '../engine/wasm/encoder.js';

const ACCUMULATORS = 12;
/** Each accumulator does acc = acc·x + y on 4 lanes per iteration: 4 multiplies + 4 adds. */
const FLOP_PER_ITERATION = ACCUMULATORS * 8;
const MUL = 0.999;
const ADD = 0.0001;

/** `run(n: i32) -> f32`: n iterations of the multiply-add loop; returns lane 0 of the accumulators' sum. */
export function simdPeakModuleBytes(): Uint8Array<ArrayBuffer> {
  const f = new WasmFunction([I32], [F32]);
  const n = 0;
  const x = f.local(V128);
  const y = f.local(V128);
  const acc = Array.from({ length: ACCUMULATORS }, () => f.local(V128));
  f.f32Const(MUL).f32x4Splat().set(x);
  f.f32Const(ADD).f32x4Splat().set(y);
  acc.forEach((a, i) => f.f32Const(i * 0.001).f32x4Splat().set(a));
  f.loop();
  for (const a of acc) f.get(a).get(x).f32x4Mul().get(y).f32x4Add().set(a);
  f.get(n).i32Const(1).i32Sub().tee(n).brIf(0).end();
  f.get(acc[0]!);
  for (const a of acc.slice(1)) f.get(a).f32x4Add();
  f.f32x4ExtractLane(0);
  return encodeModule({ run: f });
}

/** What the loop computes, in float32 arithmetic: lane 0 of the sum of the accumulators after n iterations. */
export function simdPeakExpected(n: number): number {
  const f = Math.fround;
  let sum = 0;
  const accs = Array.from({ length: ACCUMULATORS }, (_, i) => f(i * 0.001));
  for (let k = 0; k < n; k++) {
    for (let i = 0; i < ACCUMULATORS; i++) accs[i] = f(f(accs[i]! * f(MUL)) + f(ADD));
  }
  for (const a of accs) sum = f(sum + a);
  return sum;
}

export interface SimdPeak {
  /** Best of the timed runs, in GFLOP/s (counting a multiply and an add as 2 FLOP, as the conv figures do). */
  gflops: number;
  iterations: number;
}

/** Times the loop (best of `runs` after a warm-up), on the calling thread. */
export async function measureSimdPeak(options: { iterations?: number; runs?: number } = {}): Promise<SimdPeak> {
  const iterations = options.iterations ?? 20_000_000;
  const runs = options.runs ?? 3;
  const { instance } = await WebAssembly.instantiate(simdPeakModuleBytes());
  const run = instance.exports.run as (n: number) => number;
  run(Math.min(iterations, 1_000_000));
  let best = Infinity;
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    run(iterations);
    best = Math.min(best, performance.now() - t0);
  }
  return { gflops: (iterations * FLOP_PER_ITERATION) / (best / 1000) / 1e9, iterations };
}
