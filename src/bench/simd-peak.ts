/**
 * The arithmetic ceiling of 128-bit WebAssembly SIMD on this core: a tiny wasm module whose loop does only
 * f32x4 multiply-adds on 12 independent accumulators (enough to hide the latency of mul + add), so no
 * memory traffic, shuffles or bounds checks. Engine figures in GFLOP/s mean little across machines without
 * it: the same XNNPACK conv runs at 18 GFLOP/s on one CPU and 45 on another, and what a kernel can still
 * gain is its distance to this ceiling.
 *
 * The module is encoded here byte by byte (a dozen opcodes) rather than shipped as a binary or assembled by a
 * toolchain at run time.
 */

const ACCUMULATORS = 12;
/** Each accumulator does acc = acc·x + y on 4 lanes per iteration: 4 multiplies + 4 adds. */
const FLOP_PER_ITERATION = ACCUMULATORS * 8;
const MUL = 0.999;
const ADD = 0.0001;

const Op = {
  End: 0x0b,
  Loop: 0x03,
  BrIf: 0x0d,
  LocalGet: 0x20,
  LocalSet: 0x21,
  LocalTee: 0x22,
  I32Const: 0x41,
  F32Const: 0x43,
  I32Sub: 0x6b,
  SimdPrefix: 0xfd,
} as const;
/** SIMD sub-opcodes (after the 0xfd prefix), as unsigned LEB128. */
const F32X4_SPLAT = [0x13];
const F32X4_EXTRACT_LANE = [0x1f];
const F32X4_ADD = [0xe4, 0x01];
const F32X4_MUL = [0xe6, 0x01];
const V128 = 0x7b;
const I32 = 0x7f;
const F32 = 0x7d;

function leb128(n: number): number[] {
  const out: number[] = [];
  do {
    let byte = n & 0x7f;
    n >>>= 7;
    if (n !== 0) byte |= 0x80;
    out.push(byte);
  } while (n !== 0);
  return out;
}

function f32Bytes(value: number): number[] {
  return [...new Uint8Array(new Float32Array([value]).buffer)];
}

function section(id: number, body: number[]): number[] {
  return [id, ...leb128(body.length), ...body];
}

/** `run(n: i32) -> f32`: n iterations of the multiply-add loop; returns lane 0 of the accumulators' sum. */
export function simdPeakModuleBytes(): Uint8Array<ArrayBuffer> {
  // Locals: 0 = n (param), 1 = x, 2 = y, 3.. = accumulators.
  const x = 1;
  const y = 2;
  const acc = (i: number) => 3 + i;
  const splatTo = (local: number, value: number) => [Op.F32Const, ...f32Bytes(value), Op.SimdPrefix, ...F32X4_SPLAT, Op.LocalSet, local];
  const code: number[] = [...splatTo(x, MUL), ...splatTo(y, ADD)];
  for (let i = 0; i < ACCUMULATORS; i++) code.push(...splatTo(acc(i), i * 0.001));
  code.push(Op.Loop, 0x40);
  for (let i = 0; i < ACCUMULATORS; i++) {
    code.push(Op.LocalGet, acc(i), Op.LocalGet, x, Op.SimdPrefix, ...F32X4_MUL, Op.LocalGet, y, Op.SimdPrefix, ...F32X4_ADD, Op.LocalSet, acc(i));
  }
  code.push(Op.LocalGet, 0, Op.I32Const, 1, Op.I32Sub, Op.LocalTee, 0, Op.BrIf, 0, Op.End);
  code.push(Op.LocalGet, acc(0));
  for (let i = 1; i < ACCUMULATORS; i++) code.push(Op.LocalGet, acc(i), Op.SimdPrefix, ...F32X4_ADD);
  code.push(Op.SimdPrefix, ...F32X4_EXTRACT_LANE, 0, Op.End);

  const locals = [1, ...leb128(2 + ACCUMULATORS), V128];
  const body = [...locals, ...code];
  const name = [...new TextEncoder().encode('run')];
  return new Uint8Array([
    ...[0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00],
    ...section(1, [1, 0x60, 1, I32, 1, F32]),
    ...section(3, [1, 0]),
    ...section(7, [1, name.length, ...name, 0x00, 0]),
    ...section(10, [1, ...leb128(body.length), ...body]),
  ]);
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
