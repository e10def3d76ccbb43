import assert from 'node:assert/strict';
import { test } from 'node:test';
import { measureSimdPeak, simdPeakExpected, simdPeakModuleBytes } from '../../src/bench/simd-peak.js';

test('the SIMD peak module is valid wasm and computes the float32 recurrence it claims', async () => {
  const bytes = simdPeakModuleBytes();
  assert.ok(WebAssembly.validate(bytes), 'the hand-encoded module does not validate');
  const { instance } = await WebAssembly.instantiate(bytes);
  const run = instance.exports.run as (n: number) => number;
  for (const n of [1, 2, 7, 1000]) {
    assert.equal(run(n), simdPeakExpected(n), `lane 0 after ${n} iterations`);
  }
});

test('measureSimdPeak reports a finite positive rate for the iterations asked', async () => {
  const peak = await measureSimdPeak({ iterations: 100_000, runs: 1 });
  assert.equal(peak.iterations, 100_000);
  assert.ok(Number.isFinite(peak.gflops) && peak.gflops > 0, `gflops ${peak.gflops}`);
});
