import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import * as path from 'node:path';
import { after, test } from 'node:test';
import { InputError } from '../../src/errors.js';
import { alignedCrops, cropRgb, PairedFolders } from '../../src/data/paired.js';
import type { CropSpec } from '../../src/data/augment.js';
import { degradeFloat } from '../../src/image/degrade-float.js';
import { Rng } from '../../src/util/rng.js';
import { unpairedX4 } from '../helpers/data.js';
import { tempDir, writeBytes, writePng } from '../helpers/images.js';

const tmp = tempDir();
after(tmp.cleanup);
const quiet = { onWarning: () => undefined };

test('the shared val set: 6 pairs, HR = 4 x LR, aligned crops agree (up to noise and JPEG), shifted ones do not', async () => {
  const val = await PairedFolders.open({ lr: path.join(unpairedX4, 'val', 'lr'), hr: path.join(unpairedX4, 'val', 'hr'), scale: 4, ...quiet });
  assert.equal(val.length, 6);
  assert.deepEqual(val.pairs.map((p) => p.name), ['building', 'eagle', 'fruits', 'garden', 'horses', 'yellowflower']);
  const eagle = await val.load(1);
  assert.deepEqual([eagle.lr.width, eagle.lr.height, eagle.hr.width, eagle.hr.height], [192, 127, 768, 508]);
  const pair = await val.load(0); // building: lots of texture, so a misalignment shows
  const c = 40;
  /** Mean abs difference (8-bit levels) between the LR crop and the HR crop degraded as the README says. */
  const err = (spec: CropSpec, dx: number, dy: number) => {
    const { lr } = alignedCrops(pair, spec, 4);
    const { hr } = alignedCrops(pair, { ...spec, x: spec.x + dx, y: spec.y + dy }, 4);
    const down = degradeFloat({ width: 4 * c, height: 4 * c, channels: 3, data: hr }, { scale: 4, blur: 1.2 }, new Rng(0)).data;
    let sum = 0;
    let n = 0;
    for (let y = 3; y < c - 3; y++) {
      for (let x = 3; x < c - 3; x++) for (let ch = 0; ch < 3; ch++, n++) sum += Math.abs(down[(y * c + x) * 3 + ch]! - lr[(y * c + x) * 3 + ch]!);
    }
    return (sum / n) * 127.5;
  };
  for (const spec of [
    { x: 60, y: 40, size: c, rot: 0, flip: false },
    { x: 60, y: 40, size: c, rot: 1, flip: true },
    { x: 120, y: 70, size: c, rot: 3, flip: false },
  ]) {
    const aligned = err(spec, 0, 0);
    // About the noise (sigma 8: mean |n| = 6.4) plus JPEG q60 on a textured scene.
    assert.ok(aligned < 16, `aligned crops differ by ${aligned.toFixed(2)} levels`);
    for (const [dx, dy] of [[1, 0], [0, 1], [-1, 0], [0, -1]]) {
      const shifted = err(spec, dx!, dy!);
      assert.ok(shifted > aligned + 1, `shift (${dx}, ${dy}) should be worse: ${shifted.toFixed(2)} vs ${aligned.toFixed(2)}`);
    }
  }
  // The same flip/turn on both sides: turning the spec does not change the error.
  const a = err({ x: 60, y: 40, size: c, rot: 0, flip: false }, 0, 0);
  const b = err({ x: 60, y: 40, size: c, rot: 2, flip: true }, 0, 0);
  assert.ok(Math.abs(a - b) < 0.5, `${a} vs ${b}`);
});

test('names match across extensions and a DIV2K-style x4 suffix; HR may exceed s x LR by < s pixels', async () => {
  const lr = path.join(tmp.dir, 'lr');
  const hr = path.join(tmp.dir, 'hr');
  mkdirSync(lr);
  mkdirSync(hr);
  await writePng(path.join(lr, 'a.png'), 10, 8);
  await writePng(path.join(hr, 'a.png'), 40, 32);
  await writePng(path.join(lr, '0801x4.png'), 6, 5);
  await writePng(path.join(hr, '0801.png'), 27, 23, 3); // 24x20 plus 3 pixels: cut to 24x20
  await writePng(path.join(lr, 'lonely.png'), 6, 5);
  await writePng(path.join(hr, 'orphan.png'), 24, 20);
  writeBytes(path.join(lr, 'broken.png'), 'not a png');
  await writePng(path.join(hr, 'broken.png'), 24, 20);
  const warnings: string[] = [];
  const p = await PairedFolders.open({ lr, hr, scale: 4, onWarning: (m) => warnings.push(m) });
  assert.deepEqual(p.pairs.map((x) => x.name), ['0801', 'a']);
  assert.equal(warnings.length, 3, warnings.join('\n'));
  assert.ok(warnings.some((w) => w.includes('lonely.png') && /no HR image named 'lonely'/.test(w)));
  assert.ok(warnings.some((w) => w.includes('orphan.png') && /no LR image named 'orphan'/.test(w)));
  assert.ok(warnings.some((w) => w.includes('broken.png') && /not an image/.test(w)));
  const loaded = await p.load(0);
  assert.deepEqual([loaded.hr.width, loaded.hr.height], [24, 20]);
  const { readImage } = await import('../../src/image/io.js');
  assert.deepEqual(loaded.hr.data, cropRgb(await readImage(path.join(hr, '0801.png')), 0, 0, 24, 20).data);
});

test('a size that does not fit the scale, or no pairs at all, is an InputError', async () => {
  const lr = path.join(tmp.dir, 'lr2');
  const hr = path.join(tmp.dir, 'hr2');
  mkdirSync(lr);
  mkdirSync(hr);
  await writePng(path.join(lr, 'a.png'), 10, 8);
  await writePng(path.join(hr, 'a.png'), 20, 16);
  await assert.rejects(PairedFolders.open({ lr, hr, scale: 4, ...quiet }), (e: unknown) => {
    return e instanceof InputError && e.path === path.join(hr, 'a.png') && /is 20x16, .* is 10x8: expected 40x32 at scale 4/.test(e.message);
  });
  const ok = await PairedFolders.open({ lr, hr, scale: 2, ...quiet });
  assert.equal(ok.length, 1);
  const hr3 = path.join(tmp.dir, 'hr3');
  mkdirSync(hr3);
  await writePng(path.join(hr3, 'b.png'), 20, 16);
  await assert.rejects(PairedFolders.open({ lr, hr: hr3, scale: 2, ...quiet }), /no LR\/HR image pairs/);
});
