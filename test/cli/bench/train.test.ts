import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { runCli } from '../../helpers/cli.js';

test('otsr bench train --quick prints a summary and writes the JSON result under --out', () => {
  const out = mkdtempSync(join(tmpdir(), 'otsr-bench-train-'));
  try {
    const r = runCli(['bench', 'train', '--quick', '--workers', '1', '--steps', '1', '--no-ots', '--out', out]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /reference EDSR step: \d+ ms with 1 worker, \d+ ms with 1/);
    const files = readdirSync(out);
    assert.equal(files.length, 1);
    assert.match(files[0]!, /^train-\d{4}-\d\d-\d\dT[\d-]+Z\.json$/);
    const result = JSON.parse(readFileSync(join(out, files[0]!), 'utf8'));
    for (const key of ['refStep', 'machine', 'date']) assert.ok(key in result, key);
    assert.equal(result.refStep.n, 1);
    assert.ok(result.refStep.workers1 > 0 && result.refStep.cpuMs.workers1 > 0);
    assert.equal(result.otsIter, undefined);
    assert.equal(result.quick, true);
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});

test('otsr bench train rejects a bad worker count in one line', () => {
  const r = runCli(['bench', 'train', '--workers', '0']);
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /--workers must be an integer/);
  assert.doesNotMatch(r.stderr, /\n\s+at /);
});
