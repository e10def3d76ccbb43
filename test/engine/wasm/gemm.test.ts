import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type GemmActivation, TILE_COLS, packPanels } from '../../../src/engine/wasm/gemm.js';
import { SimdKernels, enableRelaxedSimdInNode, relaxedSimdSupported } from '../../../src/engine/wasm/simd-kernels.js';
import { Rng } from '../../../src/util/rng.js';

/** A bump allocator over a fresh memory, in floats. */
function heapOf(floats: number) {
  const memory = new WebAssembly.Memory({ initial: Math.ceil((floats * 4) / 65536) + 1 });
  let next = 4; // keep address 0 unused: a bias address of 0 means "no bias"
  const alloc = (n: number) => {
    const at = next;
    next += Math.ceil(n / 4) * 4; // 16-byte aligned
    return at;
  };
  return { memory, heap: new Float32Array(memory.buffer), ints: new Int32Array(memory.buffer), alloc };
}

interface Case {
  rows: number;
  /** Floats between consecutive elements of a segment (default 1). */
  aStep?: number;
  segments: number;
  segmentLength: number;
  cols: number;
  outStride?: number;
  bias?: boolean;
  activation?: GemmActivation;
  alpha?: number;
  accumulate?: boolean;
}

/**
 * Runs one case on random data whose segments lie at scattered places (some rows share a segment, as padding
 * taps share one zero run) and compares with a float64 reference.
 */
function check(c: Case, rng: Rng, fma: boolean): void {
  const { rows, segments, segmentLength: len, cols } = c;
  const stride = c.outStride ?? cols;
  const k = segments * len;
  const { memory, heap, ints, alloc } = heapOf(rows * segments * len * 2 + k * cols * 2 + rows * stride + 4096);
  const step = c.aStep ?? 1;
  const pool = Array.from({ length: segments * 2 + 1 }, () => {
    const at = alloc(len * step);
    heap.set(rng.normals(len * step), at);
    return at;
  });
  const table = alloc(rows * segments);
  for (let r = 0; r < rows; r++) for (let s = 0; s < segments; s++) ints[table + r * segments + s] = pool[rng.int(pool.length)]! * 4;
  const b = alloc(k * cols);
  heap.set(rng.normals(k * cols), b);
  const packed = alloc(k * cols);
  packPanels(heap, b, cols, k, cols, packed);
  const bias = c.bias ? alloc(cols) : 0;
  if (c.bias) heap.set(rng.normals(cols), bias);
  const out = alloc(rows * stride);
  const before = rng.normals(rows * stride);
  heap.set(before, out);

  SimdKernels.on(memory, { fma }).gemm({
    indirection: table * 4,
    segments,
    segmentLength: len,
    aStep: step * 4,
    packedB: packed * 4,
    out: out * 4,
    outStride: stride,
    rows,
    cols,
    bias: bias * 4,
    activation: c.activation,
    alpha: c.alpha,
    accumulate: c.accumulate,
  });

  let worst = 0;
  for (let r = 0; r < rows; r++) {
    for (let j = 0; j < stride; j++) {
      const got = heap[out + r * stride + j]!;
      if (j >= cols) {
        assert.equal(got, before[r * stride + j], `row ${r} col ${j} past cols was written`);
        continue;
      }
      let sum = c.accumulate ? before[r * stride + j]! : 0;
      for (let s = 0; s < segments; s++) {
        const at = ints[table + r * segments + s]! / 4;
        for (let i = 0; i < len; i++) sum += heap[at + i * step]! * heap[b + (s * len + i) * cols + j]!;
      }
      if (c.bias) sum += heap[bias + j]!;
      if (c.activation === 'relu') sum = Math.max(sum, 0);
      if (c.activation === 'leakyrelu' && sum < 0) sum *= c.alpha!;
      worst = Math.max(worst, Math.abs(got - sum) / (1 + Math.abs(sum)));
    }
  }
  assert.ok(worst < 1e-5, `${JSON.stringify(c)}, fma ${fma}: max error ${worst}`);
}

test('the SIMD GEMM matches a float64 reference: ragged rows, gathered and strided segments, bias, activations, accumulation', async () => {
  const rng = new Rng(11);
  const cases: Case[] = [
    { rows: 1, segments: 1, segmentLength: 1, cols: 8 },
    { rows: 3, segments: 1, segmentLength: 5, cols: 8 },
    { rows: 4, segments: 9, segmentLength: 3, cols: 16 },
    { rows: 13, segments: 9, segmentLength: 7, cols: 24, bias: true },
    { rows: 6, segments: 2, segmentLength: 33, cols: 8, activation: 'relu', bias: true },
    { rows: 7, segments: 3, segmentLength: 4, cols: 16, activation: 'leakyrelu', alpha: 0.2 },
    { rows: 5, segments: 3, segmentLength: 4, cols: 8, activation: 'leakyrelu', alpha: 1.5, bias: true },
    { rows: 9, segments: 2, segmentLength: 6, cols: 8, accumulate: true },
    { rows: 2, segments: 1, segmentLength: 9, cols: 16, accumulate: true, bias: true, activation: 'relu' },
    { rows: 10, segments: 4, segmentLength: 5, cols: 8, outStride: 19 },
    { rows: 7, segments: 3, segmentLength: 5, cols: 16, aStep: 3 },
    { rows: 6, segments: 5, segmentLength: 4, cols: 16, aStep: 2, bias: true, activation: 'relu', accumulate: true },
  ];
  await enableRelaxedSimdInNode();
  assert.ok(relaxedSimdSupported(), 'relaxed SIMD is on after enabling it');
  // Both variants: multiply + add, and FMA (relaxed_madd), which otsr uses wherever the engine has it.
  for (const fma of [false, true]) for (const c of cases) check(c, rng, fma);
});

test('SimdKernels.pack packs whole panels as packPanels does', () => {
  const { memory, heap, alloc } = heapOf(4096);
  const rng = new Rng(3);
  const [rows, cols, stride] = [13, 24, 29];
  const src = alloc(rows * stride);
  heap.set(rng.normals(rows * stride), src);
  const [viaWasm, viaJs] = [alloc(rows * cols), alloc(rows * cols)];
  SimdKernels.on(memory).pack(src * 4, stride, rows, cols, viaWasm * 4);
  packPanels(heap, src, stride, rows, cols, viaJs);
  assert.deepEqual(heap.subarray(viaWasm, viaWasm + rows * cols), heap.subarray(viaJs, viaJs + rows * cols));
});

test('packPanels zero-fills the columns past n', () => {
  const heap = new Float32Array(64);
  for (let i = 0; i < 9; i++) heap[i] = i + 1; // B = 3 x 3
  packPanels(heap, 0, 3, 3, 3, 16);
  assert.deepEqual([...heap.subarray(16, 16 + 3 * TILE_COLS)], [1, 2, 3, 0, 0, 0, 0, 0, 4, 5, 6, 0, 0, 0, 0, 0, 7, 8, 9, 0, 0, 0, 0, 0]);
});

test('the GEMM refuses column counts that are not whole panels', () => {
  const { memory } = heapOf(16);
  assert.throws(() => SimdKernels.on(memory).gemm({ indirection: 0, segments: 1, segmentLength: 1, packedB: 0, out: 0, outStride: 8, rows: 1, cols: 6 }), /multiple of 8/);
});

test('the SIMD GEMM runs on a shared memory too (the multi-threaded wasm build)', () => {
  const memory = new WebAssembly.Memory({ initial: 1, maximum: 16, shared: true });
  const heap = new Float32Array(memory.buffer);
  const ints = new Int32Array(memory.buffer);
  heap.set([1, 2], 16); // A: one row, one segment of 2
  ints[0] = 16 * 4;
  heap.set([1, 1, 1, 1, 1, 1, 1, 1, 10, 10, 10, 10, 10, 10, 10, 10], 32); // packed B: 2 x 8
  SimdKernels.on(memory).gemm({ indirection: 0, segments: 1, segmentLength: 2, packedB: 32 * 4, out: 64 * 4, outStride: 8, rows: 1, cols: 8 });
  assert.deepEqual([...heap.subarray(64, 72)], new Array(8).fill(21));
});
