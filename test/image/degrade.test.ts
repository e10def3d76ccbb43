import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { after, test } from 'node:test';
import { InputError, UsageError } from '../../src/errors.js';
import { degradeFloat } from '../../src/image/degrade-float.js';
import { degradeImage, degradePaths, rngForFile } from '../../src/image/degrade.js';
import { readImage, readImageInfo, toFloat } from '../../src/image/io.js';
import { Rng } from '../../src/util/rng.js';
import { pattern, tempDir, writeBytes, writePng } from '../helpers/images.js';

const tmp = tempDir();
after(tmp.cleanup);

test('per-file noise streams depend on the seed and the name only', () => {
  // Per-file streams depend on the seed and the name only.
  assert.deepEqual(rngForFile(1, 'a.png').getState(), rngForFile(1, 'a.png').getState());
  assert.notDeepEqual(rngForFile(1, 'a.png').getState(), rngForFile(1, 'b.png').getState());
  assert.notDeepEqual(rngForFile(1, 'a.png').getState(), rngForFile(2, 'a.png').getState());
});

test('JPEG step: the returned image is the decoding of the returned bytes; lower quality, fewer bytes', async () => {
  const img = { width: 96, height: 64, data: pattern(96, 64) };
  const q90 = await degradeImage(img, { scale: 2, jpeg: 90 }, new Rng(1));
  const q30 = await degradeImage(img, { scale: 2, jpeg: 30 }, new Rng(1));
  assert.ok(q90.jpeg && q30.jpeg);
  assert.ok(q30.jpeg.length < q90.jpeg.length);
  assert.deepEqual([q90.image.width, q90.image.height], [48, 32]);
  const plain = await degradeImage(img, { scale: 2 }, new Rng(1));
  assert.equal(plain.jpeg, undefined);
  // JPEG changes pixels, more so at low quality.
  const diff = (x: Uint8Array) => x.reduce((s, v, i) => s + Math.abs(v - plain.image.data[i]!), 0);
  assert.ok(diff(q30.image.data) > diff(q90.image.data));
});

test('degradePaths: folder -> folder with subfolders, deterministic, bad files reported and skipped', async () => {
  const input = path.join(tmp.dir, 'in');
  mkdirSync(path.join(input, 'sub'), { recursive: true });
  await writePng(path.join(input, 'a.png'), 64, 48, 1);
  await writePng(path.join(input, 'sub', 'b b é.png'), 41, 30, 2);
  writeBytes(path.join(input, 'broken.png'), 'not an image');
  const warnings: string[] = [];
  const progress: number[] = [];
  const run = (out: string) =>
    degradePaths(input, path.join(tmp.dir, out), {
      scale: 4,
      blur: 1.2,
      noise: 8,
      jpeg: 60,
      seed: 1,
      onWarning: (m) => warnings.push(m),
      onProgress: (done) => progress.push(done),
    });
  const r1 = await run('out1');
  assert.deepEqual(progress, [1, 2, 3]);
  assert.equal(r1.written.length, 2);
  assert.equal(r1.failed.length, 1);
  assert.equal(warnings.length, 1);
  assert.match(warnings[0]!, /broken\.png: not an image/);
  const outA = path.join(tmp.dir, 'out1', 'a.jpg');
  const outB = path.join(tmp.dir, 'out1', 'sub', 'b b é.jpg');
  assert.deepEqual(await readImageInfo(outA).then((i) => [i.format, i.width, i.height]), ['jpeg', 16, 12]);
  assert.deepEqual(await readImageInfo(outB).then((i) => [i.width, i.height]), [10, 7]);
  await run('out2');
  assert.deepEqual(readFileSync(path.join(tmp.dir, 'out2', 'a.jpg')), readFileSync(outA), 'same seed, same bytes');
  const other = await degradePaths(input, path.join(tmp.dir, 'out3'), { scale: 4, noise: 8, jpeg: 60, seed: 2, onWarning: () => undefined });
  assert.notDeepEqual(readFileSync(other.written[0]!), readFileSync(outA));
  assert.deepEqual(readdirSync(path.join(tmp.dir, 'out1')).sort(), ['a.jpg', 'sub']);
});

test('degradePaths: file -> file (format by extension), file -> existing folder, refusals', async () => {
  const src = await writePng(path.join(tmp.dir, 'hr.png'), 40, 40, 3);
  const out = path.join(tmp.dir, 'lr.png');
  await degradePaths(src, out, { scale: 2, blur: 0.8 });
  const lr = await readImage(out);
  assert.deepEqual([lr.width, lr.height], [20, 20]);
  // Without noise or JPEG the PNG holds exactly the rounded float result.
  const expect = degradeFloat(toFloat(await readImage(src)), { scale: 2, blur: 0.8 }, new Rng(0));
  for (let i = 0; i < lr.data.length; i++) assert.ok(Math.abs(lr.data[i]! / 127.5 - 1 - expect.data[i]!) <= 0.5 / 127.5 + 1e-6);
  const folder = path.join(tmp.dir, 'into');
  mkdirSync(folder);
  const r = await degradePaths(src, folder, { scale: 2, jpeg: 80 });
  assert.deepEqual(r.written, [path.join(folder, 'hr.jpg')]);
  await assert.rejects(degradePaths(src, src, { scale: 2 }), UsageError);
  await assert.rejects(degradePaths(src, path.join(tmp.dir, 'x.gif'), { scale: 2 }), UsageError);
  await assert.rejects(degradePaths(path.join(tmp.dir, 'none.png'), out, { scale: 2 }), InputError);
  const tiny = await writePng(path.join(tmp.dir, 'tiny.png'), 3, 3);
  await assert.rejects(degradePaths(tiny, out, { scale: 4 }), (e: unknown) => e instanceof InputError && /3x3, smaller than the scale 4/.test(e.message));
});
