import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { runCliAsync } from '../helpers/cli.js';

test('otsr demo --json: a short run prints its metrics (PSNR, SSIM, perceptual for bicubic and otsr), steps, seconds and the report', async () => {
  const out = path.join(await fs.mkdtemp(path.join(os.tmpdir(), 'otsr-demo-')), 'demo');
  const r = await runCliAsync(['demo', '--minutes', '0.1', '--out', out, '--json']);
  assert.equal(r.code, 0, r.stderr);
  const j = JSON.parse(r.stdout) as {
    metrics: Record<'bicubic' | 'otsr', { psnr: number; ssim: number; perceptual: number }>;
    steps: number;
    seconds: number;
    report: string;
  };
  for (const name of ['bicubic', 'otsr'] as const) {
    const m = j.metrics[name];
    assert.ok(m.psnr > 15 && m.psnr < 60, `${name} PSNR ${m.psnr}`);
    assert.ok(m.ssim > 0 && m.ssim <= 1, `${name} SSIM ${m.ssim}`);
    assert.ok(m.perceptual > 0 && m.perceptual < 2, `${name} perceptual ${m.perceptual}`);
  }
  assert.ok(Number.isInteger(j.steps) && j.steps >= 1, `steps ${j.steps}`);
  assert.ok(j.seconds > 0);
  const html = await fs.readFile(j.report, 'utf8');
  assert.match(html, /perceptual \(otsr features\)/);
  assert.match(html, /<input type="range"/);
});
