import assert from 'node:assert/strict';
import { test } from 'node:test';
import { measureGemmSpeed } from '../../src/bench/gemm-speed.js';
import { enableRelaxedSimdInNode } from '../../src/engine/wasm/simd-kernels.js';

test('measureGemmSpeed times the GEMM with multiply + add and, where relaxed SIMD is on, with FMA', async () => {
  await enableRelaxedSimdInNode();
  const r = measureGemmSpeed({ rows: 32, runs: 1 });
  assert.deepEqual(r.shape, { rows: 32, segments: 9, segmentLength: 64, cols: 64 });
  assert.ok(Number.isFinite(r.mulAdd) && r.mulAdd > 0);
  assert.ok(r.fma !== null && Number.isFinite(r.fma) && r.fma > 0);
});
