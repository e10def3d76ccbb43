import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { runCli } from '../../helpers/cli.js';

test('otsr bench ot --json prints one JSON object with a row per solver and λ, and writes JSON + table', () => {
  const out = mkdtempSync(path.join(tmpdir(), 'otsr-bench-ot-'));
  try {
    const r = runCli(['bench', 'ot', '--pairs', 'gaussian', '--dims', '2', '--lambdas', '0,1000', '--steps', '2', '--batch', '16', '--workers', '2', '--json', '--out', out]);
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trim().split('\n');
    assert.equal(lines.length, 1);
    const { rows } = JSON.parse(lines[0]!) as { rows: Record<string, unknown>[] };
    assert.deepEqual(
      rows.map((x) => [x.solver, x.lambda, x.pair, x.dim]),
      [['ots', null, 'gaussian', 2], ['gan', 0, 'gaussian', 2], ['gan', 1000, 'gaussian', 2]],
    );
    for (const row of rows) {
      for (const k of ['l2uvp', 'cosine', 'pushforward', 'seconds']) assert.equal(typeof row[k], 'number', k);
    }
    const saved = JSON.parse(readFileSync(path.join(out, 'ot-benchmark.json'), 'utf8')) as { rows: unknown[]; machine: string };
    assert.equal(saved.rows.length, 3);
    assert.match(saved.machine, /Node v/);
    assert.match(readFileSync(path.join(out, 'ot-benchmark.md'), 'utf8'), /\| OTS \| – \| gaussian \| 2 \|/);
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});

test('otsr bench ot prints the markdown table; bad options are one-line errors', () => {
  const out = mkdtempSync(path.join(tmpdir(), 'otsr-bench-ot-'));
  try {
    const r = runCli(['bench', 'ot', '--pairs', 'mixture', '--dims', '3', '--lambdas', '10', '--steps', '1', '--batch', '8', '--workers', '1', '--out', out]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^\| solver \| λ \| pair \| d \| L2-UVP/);
    assert.match(r.stdout, /\| GAN \| 10 \| mixture \| 3 \|/);
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
  const bad = runCli(['bench', 'ot', '--pairs', 'gaussian,swiss-roll']);
  assert.notEqual(bad.code, 0);
  assert.match(bad.stderr, /unknown pair 'swiss-roll'/);
  assert.doesNotMatch(bad.stderr, /\n\s+at /);
  const help = runCli(['bench', '--help']);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /\bot\b/);
});
