import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { runCli } from '../../helpers/cli.js';

test('otsr bench upscale --quick prints a summary and writes the JSON result under --out', () => {
  const out = mkdtempSync(join(tmpdir(), 'otsr-bench-upscale-'));
  try {
    const r = runCli(['bench', 'upscale', '--quick', '--workers', '2', '--out', out]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /1 worker: [\d.]+ MP\/s; 2 workers: [\d.]+ MP\/s \([\d.]+x; outputs identical\)/);
    assert.match(r.stdout, /ONNX Runtime: 1 thread [\d.]+ MP\/s \([\d.]+x TF\.js\); 2 threads [\d.]+ MP\/s \([\d.]+x TF\.js on 2 workers; outputs identical\)/);
    const files = readdirSync(out);
    assert.equal(files.length, 1);
    assert.match(files[0]!, /^upscale-\d{4}-\d\d-\d\dT[\d-]+Z\.json$/);
    const result = JSON.parse(readFileSync(join(out, files[0]!), 'utf8'));
    for (const key of ['mpps1', 'mppsN', 'n', 'peakRssMB', 'machine', 'date']) assert.ok(key in result, key);
    assert.equal(result.n, 2);
    assert.ok(result.mpps1 > 0 && result.mppsN > 0 && result.peakRssMB > 0);
    assert.equal(result.identical, true);
    // The ONNX Runtime row: the same model, the same pixels to float rounding.
    assert.ok(result.onnx.mpps1 > 0 && result.onnx.mppsN > 0);
    assert.equal(result.onnx.identical, true);
    assert.ok(result.onnx.maxAbsDiff < 1e-4, `max |ONNX - TF.js| ${result.onnx.maxAbsDiff}`);
    assert.equal(result.quick, true);
    assert.deepEqual([result.workload.width, result.workload.height, result.workload.scale], [128, 96, 4]);
    assert.match(result.workload.image, /dragonfly_by_bolly\.png$/);
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});

test('otsr bench upscale --model times that model folder instead of the reference EDSR, and names it', () => {
  const r = runCli(['bench', 'upscale', '--quick', '--workers', '1', '--model', 'models/unpaired-x4', '--no-save', '--json']);
  assert.equal(r.code, 0, r.stderr);
  const result = JSON.parse(r.stdout);
  assert.equal(result.workload.model, 'models/unpaired-x4');
  assert.ok(result.mpps1 > 0 && result.onnx.mpps1 > 0);
  assert.ok(result.onnx.maxAbsDiff < 1e-4, `max |ONNX - TF.js| ${result.onnx.maxAbsDiff}`);
});

test('otsr bench upscale --memory measures peak RSS per size and tile, each in fresh processes (the median of --repeats), and writes the table', () => {
  const out = mkdtempSync(join(tmpdir(), 'otsr-bench-memory-'));
  try {
    const r = runCli(['bench', 'upscale', '--memory', '--sizes', '0.02,0.08', '--tiles', '32,64', '--repeats', '2', '--out', out]);
    assert.equal(r.code, 0, r.stderr);
    const cell = (tile: number) => `\\d+ MB of \\d+, \\d+ \\([\\d.]+ s; tiles ${tile}x${tile}, band \\d+ MB\\)`;
    assert.match(r.stdout, new RegExp(`\\| 0\\.02 MP \\(163x122\\) \\| ${cell(32)} \\| ${cell(64)} \\|`));
    assert.match(r.stdout, /\| largest \/ smallest \| [\d.]+x \| [\d.]+x \|/);
    const files = readdirSync(out);
    assert.match(files[0]!, /^upscale-memory-.*\.json$/);
    const result = JSON.parse(readFileSync(join(out, files[0]!), 'utf8'));
    assert.equal(result.rows.length, 4);
    // Each run is a process of its own: node, the wasm backend and sharp alone are tens of MB.
    for (const row of result.rows) {
      assert.ok(row.peakRssMB > 30 && row.peakRssMB < 2000, JSON.stringify(row));
      assert.equal(row.peaksMB.length, 2);
      assert.ok(row.peaksMB.includes(row.peakRssMB));
    }
    assert.deepEqual(Object.keys(result.spread), ['32', '64']);
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});
