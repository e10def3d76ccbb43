import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import sharp from 'sharp';
import { InputError } from '../../src/errors.js';
import { JsonlLog } from '../../src/train/log.js';
import { writeRunReport } from '../../src/train/report.js';
import { runPaths } from '../../src/train/run-dir.js';

test('the report renders config, curves and inlined sample grids into one HTML file', async () => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'otsr-report-'));
  const p = runPaths(dir);
  await fs.writeFile(p.config, JSON.stringify({ solver: 'ots', scale: 4 }));
  const log = new JsonlLog(p.log);
  for (let step = 1; step <= 20; step++) {
    await log.append({ type: 'train', step, seconds: step, losses: { map: 1 / step, potential: -step } });
  }
  await log.append({ type: 'val', step: 20, seconds: 20, metrics: { psnr: 23.5, ssim: 0.61 } });
  await fs.mkdir(p.samples);
  await sharp({ create: { width: 8, height: 4, channels: 3, background: '#f00' } }).png().toFile(p.sample(20));
  const file = await writeRunReport(dir);
  const html = await fs.readFile(file, 'utf8');
  assert.match(html, /<svg[^>]*>.*training: map/s);
  assert.match(html, /validation: psnr/);
  assert.match(html, /psnr <b>23.5000<\/b>/);
  assert.match(html, /data:image\/png;base64,/);
  assert.match(html, /&quot;solver&quot;: &quot;ots&quot;/);
  assert.doesNotMatch(html, /src="(?!data:)/); // nothing external
});

test('a folder that is not a run gives an InputError naming config.json', async () => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'otsr-report-'));
  await assert.rejects(writeRunReport(dir), (e: unknown) => e instanceof InputError && /config\.json: not found/.test(e.message));
});

test('with a map average, each validation plot shows the exported average beside the training weights', async () => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'otsr-report-'));
  const p = runPaths(dir);
  await fs.writeFile(p.config, JSON.stringify({ solver: 'ots', scale: 4, emaDecay: 0.99 }));
  const log = new JsonlLog(p.log);
  await log.append({ type: 'val', step: 0, seconds: 0, metrics: { psnr: 24, ssim: 0.65 } });
  await log.append({ type: 'val', step: 10, seconds: 10, metrics: { psnr: 24.1, ssim: 0.66 }, raw: { psnr: 23.2, ssim: 0.6 } });
  await fs.mkdir(p.samples);
  const html = await fs.readFile(await writeRunReport(dir), 'utf8');
  assert.match(html, /psnr \(average, exported\)/);
  assert.match(html, /psnr \(training weights\)/);
  assert.match(html, /ssim \(training weights\)/);
});
