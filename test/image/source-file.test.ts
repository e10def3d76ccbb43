import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { after, test } from 'node:test';
import sharp from 'sharp';
import { InputError } from '../../src/errors.js';
import { SourceFile } from '../../src/image/source-file.js';
import { rawRgb, tempDir } from '../helpers/images.js';

const tmp = tempDir('otsr-source-file-');
after(tmp.cleanup);
const at = (...p: string[]) => path.join(tmp.dir, ...p);
const scratch = at('scratch');
mkdirSync(scratch);

/** All rows of `src`, read in uneven bands (as a row window reads them). */
async function readAll(src: SourceFile): Promise<number[]> {
  const stride = src.width * src.channels;
  const all = src.depth === 16 ? new Uint16Array(src.height * stride) : new Uint8Array(src.height * stride);
  for (let y = 0; y < src.height; y += 7) await src.read(y, Math.min(7, src.height - y), all.subarray(y * stride));
  return Array.from(all);
}

/** What sharp decodes the whole file to, in one buffer: the pixels the rows must match. */
async function decoded(file: string, space: 'srgb' | 'b-w' | 'rgb16' | 'grey16' | undefined, depth: 'uchar' | 'ushort'): Promise<number[]> {
  let s = sharp(file).autoOrient();
  if (space) s = s.toColourspace(space);
  const { data } = await s.raw({ depth }).toBuffer({ resolveWithObject: true });
  return Array.from(depth === 'ushort' ? new Uint16Array(data.buffer, data.byteOffset, data.length / 2) : data);
}

test('rows read a band at a time are the decoded pixels, as the file holds them: grey, alpha, 16 bits, CMYK, palette, EXIF rotation', async () => {
  const [w, h] = [37, 23];
  const cases: { name: string; make: (f: string) => Promise<unknown>; size: [number, number, number, number]; space?: 'srgb' | 'b-w' | 'rgb16' | 'grey16'; pick?: number[] }[] = [
    { name: 'rgb.png', make: (f) => rawRgb(w, h, 1).png().toFile(f), size: [w, h, 3, 8], space: 'srgb' },
    { name: 'grey.png', make: (f) => rawRgb(w, h, 2).toColourspace('b-w').png().toFile(f), size: [w, h, 1, 8], space: 'b-w' },
    // Grey + alpha keeps its alpha (sharp's own raw output makes it RGBA: the grey and the alpha of that).
    { name: 'grey-alpha.png', make: (f) => rawRgb(w, h, 3).toColourspace('b-w').ensureAlpha(0.3).png().toFile(f), size: [w, h, 2, 8], pick: [0, 3] },
    { name: 'rgba.png', make: (f) => rawRgb(w, h, 4).ensureAlpha(0.5).png().toFile(f), size: [w, h, 4, 8], space: 'srgb' },
    { name: 'deep16.png', make: (f) => rawRgb(w, h, 5).toColourspace('rgb16').png().toFile(f), size: [w, h, 3, 16], space: 'rgb16' },
    { name: 'grey16.png', make: (f) => rawRgb(w, h, 6).toColourspace('grey16').png().toFile(f), size: [w, h, 1, 16], space: 'grey16' },
    { name: 'cmyk.jpg', make: (f) => rawRgb(w, h, 7).toColourspace('cmyk').jpeg({ quality: 90 }).toFile(f), size: [w, h, 3, 8], space: 'srgb' },
    { name: 'palette.png', make: (f) => rawRgb(w, h, 8).png({ palette: true, colours: 32 }).toFile(f), size: [w, h, 3, 8], space: 'srgb' },
    // Orientation 6: displayed rotated, h x w.
    { name: 'rotated.jpg', make: (f) => rawRgb(w, h, 9).withMetadata({ orientation: 6 }).jpeg({ quality: 90 }).toFile(f), size: [h, w, 3, 8], space: 'srgb' },
  ];
  for (const { name, make, size, space, pick } of cases) {
    await make(at(name));
    const src = await SourceFile.open(at(name), { tempDir: scratch });
    try {
      assert.deepEqual([src.width, src.height, src.channels, src.depth], size, name);
      assert.equal(src.framesLeft, 0);
      let want = await decoded(at(name), space, size[3] === 16 ? 'ushort' : 'uchar');
      if (pick) want = want.filter((_, i) => pick.includes(i % 4));
      assert.deepEqual(await readAll(src), want, name);
    } finally {
      await src.close();
    }
  }
  assert.deepEqual(readdirSync(scratch), [], 'temporary files removed');
});

test('frames beyond the first are counted; broken files are an InputError naming them, and leave no temporary file', async () => {
  const frame = (seed: number) => rawRgb(20, 16, seed).raw().toBuffer();
  await sharp(Buffer.concat([await frame(1), await frame(2)]), { raw: { width: 20, height: 32, channels: 3, pageHeight: 16 } }).gif().toFile(at('anim.gif'));
  const anim = await SourceFile.open(at('anim.gif'), { tempDir: scratch });
  assert.deepEqual([anim.width, anim.height, anim.framesLeft], [20, 16, 1]);
  await anim.close();

  const png = await rawRgb(40, 32, 5).png().toBuffer();
  writeFileSync(at('truncated.png'), png.subarray(0, png.length >> 1));
  writeFileSync(at('notes.png'), 'not an image');
  for (const [name, problem] of [['truncated.png', /truncated or corrupt/], ['notes.png', /not an image/], ['missing.png', /no such file/]] as const) {
    await assert.rejects(SourceFile.open(at(name), { tempDir: scratch }), (err: unknown) => {
      assert.ok(err instanceof InputError, String(err));
      assert.match(err.message, new RegExp(`${name}.*${problem.source}`));
      return true;
    });
  }
  await assert.rejects(SourceFile.open(at('anim.gif'), { tempDir: scratch, maxPixels: 100 }), /above the limit/);
  assert.deepEqual(readdirSync(scratch), []);
});
