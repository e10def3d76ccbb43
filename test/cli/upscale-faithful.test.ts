import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, test } from 'node:test';
import sharp, { type Sharp } from 'sharp';
import { runCliAsync } from '../helpers/cli.js';
import { hugeHeaderPng, rawRgb, tempDir } from '../helpers/images.js';
import { STACK_TRACE } from '../helpers/odd-files.js';

// What comes out of `otsr upscale` is what went in, upscaled, or a word says what was not kept; sizes and unwritable
// outputs are found before any work.

const tmp = tempDir('otsr-upscale-faithful-');
after(tmp.cleanup);
const at = (...p: string[]) => path.join(tmp.dir, ...p);
const bicubic = ['--model', 'bicubic', '--scale', '2', '--tile', '16', '--overlap', '4'];

test('grey in, grey out (with its alpha); 16 bits kept in PNG, and a word where they cannot be', async () => {
  const grey = at('grey.png');
  await rawRgb(40, 30, 1).toColourspace('b-w').png().toFile(grey);
  const greyAlpha = at('grey-alpha.png');
  await rawRgb(40, 30, 3).toColourspace('b-w').ensureAlpha(0.25).png().toFile(greyAlpha);
  const deep = at('deep.png');
  await rawRgb(40, 30, 2).toColourspace('rgb16').png().toFile(deep);
  const r = await runCliAsync(['upscale', grey, greyAlpha, deep, '-o', at('out'), ...bicubic]);
  assert.equal(r.code, 0, r.stderr);
  const g = await sharp(at('out', 'grey.png')).metadata();
  assert.deepEqual([g.width, g.height, g.channels], [80, 60, 1]);
  const ga = sharp(at('out', 'grey-alpha.png'));
  assert.deepEqual([(await ga.metadata()).channels, (await ga.metadata()).space], [2, 'b-w']);
  // A flat alpha stays that alpha.
  const alphas = async (s: Sharp) => new Set(await s.extractChannel('alpha').raw().toBuffer());
  const flatAlpha = await alphas(sharp(greyAlpha));
  assert.equal(flatAlpha.size, 1);
  assert.deepEqual(await alphas(ga), flatAlpha);
  const d = await sharp(at('out', 'deep.png')).metadata();
  assert.deepEqual([d.width, d.channels, d.depth], [80, 3, 'ushort']);
  // A flat 16-bit grey stays exactly that grey, in one 16-bit channel.
  const flat = at('flat16.png');
  await sharp({ create: { width: 32, height: 32, channels: 3, background: { r: 156, g: 156, b: 156 } } }).toColourspace('grey16').png().toFile(flat);
  assert.equal((await runCliAsync(['upscale', flat, '-o', at('flat-x2.png'), ...bicubic])).code, 0);
  const values = async (file: string) => {
    const { data, info } = await sharp(file).toColourspace('grey16').raw({ depth: 'ushort' }).toBuffer({ resolveWithObject: true });
    return { channels: info.channels, values: new Set(new Uint16Array(data.buffer, data.byteOffset, data.length / 2)) };
  };
  const [before, after] = [await values(flat), await values(at('flat-x2.png'))];
  assert.equal(before.values.size, 1);
  assert.deepEqual(after, before);
  const m = await sharp(at('flat-x2.png')).metadata();
  assert.deepEqual([m.space, m.channels, m.depth], ['grey16', 1, 'ushort']);

  const jpg = await runCliAsync(['upscale', deep, '-o', at('deep.jpg'), ...bicubic]);
  assert.equal(jpg.code, 0, jpg.stderr);
  assert.match(jpg.stderr, /warning: .*deep\.png: 16 bits per channel written as 8 \(jpeg holds no more; a \.png output keeps 16\)/);
});

test('an animated GIF is cut to its first frame with a warning', async () => {
  const gif = at('anim.gif');
  const frames = Buffer.concat([Buffer.alloc(16 * 16 * 3, 200), Buffer.alloc(16 * 16 * 3, 10)]);
  await sharp(frames, { raw: { width: 16, height: 32, channels: 3, pageHeight: 16 } }).gif().toFile(gif);
  const r = await runCliAsync(['upscale', gif, '-o', at('anim.png'), ...bicubic]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /warning: .*anim\.gif: has 2 frames \(animated or multi-page\); only the first is upscaled/);
  assert.equal((await sharp(at('anim.png')).metadata()).height, 32);
});

test('an output too large for its format is refused from the header, before any decoding', async () => {
  // 100 MP, exactly the default --max-pixels: x4 is 40000x40000, 4.8 GB of 8-bit RGB.
  const big = at('big.png');
  writeFileSync(big, await hugeHeaderPng(10000, 10000));
  for (const [out, problem] of [
    ['big.jpg', /upscaled x4 it would be 40000x40000 \(1600 MP\), too large to encode as JPEG in memory; write a \.png/],
    ['big.webp', /upscaled x4 it would be 40000x40000 \(1600 MP\), larger than WEBP allows \(16383 pixels a side\)/],
  ] as const) {
    const r = await runCliAsync(['upscale', big, '-o', at(out), '--model', 'bicubic']);
    assert.equal(r.code, 1, r.stderr);
    assert.doesNotMatch(r.stderr, STACK_TRACE);
    assert.match(r.stderr, new RegExp(`^otsr: ${big.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: `, 'm'));
    assert.match(r.stderr, problem);
    assert.equal(existsSync(at(out)), false);
  }
  // PNG is streamed, but a row of tiles must fit in memory.
  const r = await runCliAsync(['upscale', big, '-o', at('big-x4.png'), '--model', 'bicubic', '--tile', '8192']);
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, /big\.png: upscaled x4 it would be 40000x40000 \(1600 MP\); a row of 8192-pixel tiles of it would need up to 30\.7 GB: use a smaller --tile/);
  assert.equal(existsSync(at('big-x4.png')), false);
});

test('a read-only output is called read-only (upscale, degrade, train), when a read-only mount can be made here', async (t) => {
  const ro = mkdtempSync(path.join(tmpdir(), 'otsr-ro-'));
  if (spawnSync('mount', ['-t', 'tmpfs', '-o', 'ro', 'tmpfs', ro]).status !== 0) {
    rmSync(ro, { recursive: true, force: true });
    t.skip('cannot mount a read-only file system here (needs root)');
    return;
  }
  try {
    const photo = at('ro.png');
    await rawRgb(16, 16, 3).png().toFile(photo);
    const lr = at('ro-lr');
    mkdirSync(lr);
    const runs = await Promise.all([
      runCliAsync(['upscale', photo, '-o', path.join(ro, 'x.png'), ...bicubic]),
      runCliAsync(['upscale', photo, photo, '-o', path.join(ro, 'sub', 'folder'), ...bicubic]),
      runCliAsync(['degrade', photo, path.join(ro, 'x.png'), '--scale', '2']),
      runCliAsync(['train', '--lr', lr, '--hr', lr, '--out', path.join(ro, 'run'), '--steps', '1']),
    ]);
    for (const r of runs) {
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, /on a read-only file system/, r.stderr);
      assert.doesNotMatch(r.stderr, /ENOENT|does not exist/);
    }
  } finally {
    spawnSync('umount', [ro]);
    rmSync(ro, { recursive: true, force: true });
  }
});
