import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { runCli } from '../helpers/cli.js';

test('otsr bench --help lists the engine benchmark', () => {
  const r = runCli(['bench', '--help']);
  assert.equal(r.code, 0);
  assert.match(r.stdout, /engine/);
});

test('otsr bench engine --quick --json prints one JSON object and writes it under --out', () => {
  const out = mkdtempSync(join(tmpdir(), 'otsr-bench-'));
  try {
    const r = runCli(['bench', 'engine', '--quick', '--json', '--steps', '1', '--reps', '1', '--out', out]);
    assert.equal(r.code, 0, r.stderr);
    const result = JSON.parse(r.stdout);
    for (const key of ['kernels', 'edsrStep', 'edsrStepDirect', 'maxRelError', 'simdPeak', 'gemm', 'machine', 'date']) assert.ok(key in result, key);
    assert.ok(result.maxRelError < 1e-4);
    assert.ok(result.edsrStep.ms > 0 && result.edsrStep.gflop > 0);
    const dx = result.kernels.find((k: { kernel: string }) => k.kernel === 'Conv2DBackpropInput');
    const dw = result.kernels.find((k: { kernel: string }) => k.kernel === 'Conv2DBackpropFilter');
    assert.ok(dx.stock.ms > 0 && dx.otsr.ms > 0);
    assert.equal(dw.stock, null, 'tfjs-backend-wasm 4.22 has no Conv2DBackpropFilter');
    const fwd = result.kernels.find((k: { kernel: string }) => k.kernel === 'Conv2D');
    assert.ok(fwd.stock.ms > 0 && fwd.otsr.ms > 0, 'the forward conv is timed on XNNPACK and on otsr');
    assert.ok(result.gemm.mulAdd > 0);
    assert.equal(typeof result.gemm.fma, 'number', 'Node gets relaxed SIMD at backend setup');
    const files = readdirSync(out);
    assert.equal(files.length, 1);
    assert.match(files[0]!, /^engine-\d{4}-\d\d-\d\dT[\d-]+Z\.json$/);
    assert.deepEqual(JSON.parse(readFileSync(join(out, files[0]!), 'utf8')), result);
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});

test('otsr bench engine rejects a bad option value in one line', () => {
  const r = runCli(['bench', 'engine', '--steps', 'zero']);
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /--steps must be an integer/);
  assert.doesNotMatch(r.stderr, /\n\s+at /);
});
