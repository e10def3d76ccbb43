import assert from 'node:assert/strict';
import { readdirSync, statSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import sharp from 'sharp';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { InputError, OtsrError, UsageError } from '../../src/errors.js';
import {
  decodeImage,
  fromFloat,
  imageToTensor,
  readImage,
  readImageInfo,
  tensorToImage,
  toFloat,
  writeImage,
  type RgbImage,
} from '../../src/image/io.js';
import { hugeHeaderPng, pattern, rawRgb, tempDir, writeBytes, writeJpeg, writePng } from '../helpers/images.js';

const W = 12;
const H = 8;
const ref = pattern(W, H);
let dir: string;
let cleanup: () => void;

before(async () => {
  ({ dir, cleanup } = tempDir());
  await tf.setBackend('cpu');
});
after(() => cleanup());

const f = (name: string) => path.join(dir, name);

function maxDiff(a: Uint8Array, b: Uint8Array): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

function luma(rgb: Uint8Array): Uint8Array {
  const out = new Uint8Array(rgb.length);
  for (let i = 0; i < rgb.length; i += 3) {
    out[i] = out[i + 1] = out[i + 2] = rgb[i]!; // grey images repeat one value
  }
  return out;
}

async function expectInputError(p: Promise<unknown>, file: string, problem: RegExp): Promise<InputError> {
  const err = await p.then(
    () => assert.fail(`expected an InputError for ${file}`),
    (e: unknown) => e,
  );
  assert.ok(err instanceof InputError, `expected InputError, got ${String(err)}`);
  assert.equal(err.path, file);
  assert.match(err.message, problem);
  assert.ok(err.message.startsWith(file), err.message);
  assert.doesNotMatch(err.message, /\n/);
  return err;
}

test('8-bit RGB PNG, WebP (lossless) and TIFF decode to the exact pixels', async () => {
  await writePng(f('rgb.png'), W, H);
  await rawRgb(W, H).webp({ lossless: true }).toFile(f('rgb.webp'));
  await rawRgb(W, H).tiff({ compression: 'lzw' }).toFile(f('rgb.tiff'));
  for (const name of ['rgb.png', 'rgb.webp', 'rgb.tiff']) {
    const img = await readImage(f(name));
    assert.equal(img.width, W);
    assert.equal(img.height, H);
    assert.equal(img.alpha, undefined);
    assert.deepEqual(img.data, ref, name);
  }
});

test('grey, 16-bit RGB, 16-bit grey and palette images become 8-bit RGB', async () => {
  await rawRgb(W, H).toColourspace('b-w').png().toFile(f('grey.png'));
  await rawRgb(W, H).toColourspace('rgb16').png().toFile(f('rgb16.png'));
  await rawRgb(W, H).toColourspace('grey16').png().toFile(f('grey16.png'));
  await rawRgb(W, H).png({ palette: true, colours: 256, dither: 0 }).toFile(f('palette.png'));
  const meta16 = await sharp(f('rgb16.png')).metadata();
  assert.equal(meta16.depth, 'ushort');
  assert.equal((await sharp(f('palette.png')).metadata()).isPalette, true);

  const grey = await readImage(f('grey.png'));
  assert.equal(grey.data.length, W * H * 3);
  const g = grey.data;
  for (let i = 0; i < g.length; i += 3) assert.ok(g[i] === g[i + 1] && g[i] === g[i + 2]);
  const grey16 = await readImage(f('grey16.png'));
  assert.ok(maxDiff(luma(grey16.data), luma(grey.data)) <= 1, '16-bit grey ~ 8-bit grey');
  assert.ok(maxDiff((await readImage(f('rgb16.png'))).data, ref) <= 1, '16-bit RGB');
  // 256 colours for 96 pixels: the palette may still merge near colours a little.
  assert.ok(maxDiff((await readImage(f('palette.png'))).data, ref) <= 8, 'palette');
});

test('a CMYK JPEG is converted to RGB through its colour profile', async () => {
  // Large flat blocks so that JPEG artifacts stay small: red, green, blue, white quadrants.
  const w = 32;
  const h = 32;
  const raw = new Uint8Array(w * h * 3);
  // Muted colours, inside the CMYK gamut, so that the round trip through CMYK keeps them.
  const colours = [[190, 80, 70], [90, 160, 90], [70, 90, 170], [230, 230, 230]];
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) raw.set(colours[(y < 16 ? 0 : 2) + (x < 16 ? 0 : 1)]!, 3 * (y * w + x));
  }
  await sharp(raw, { raw: { width: w, height: h, channels: 3 } }).toColourspace('cmyk').jpeg({ quality: 95 }).toFile(f('cmyk.jpg'));
  assert.equal((await sharp(f('cmyk.jpg')).metadata()).space, 'cmyk');
  const img = await readImage(f('cmyk.jpg'));
  assert.equal(img.data.length, w * h * 3);
  for (const [i, [x, y]] of [[8, 8], [24, 8], [8, 24], [24, 24]].entries()) {
    const p = 3 * (y! * w + x!);
    const got = Array.from(img.data.subarray(p, p + 3));
    for (let c = 0; c < 3; c++) assert.ok(Math.abs(got[c]! - colours[i]![c]!) <= 40, `quadrant ${i}: ${got} vs ${colours[i]}`);
  }
});

test('alpha is returned separately, RGB straight (not premultiplied)', async () => {
  const n = W * H;
  const rgba = new Uint8Array(n * 4);
  for (let i = 0; i < n; i++) {
    rgba.set(ref.subarray(3 * i, 3 * i + 3), 4 * i);
    rgba[4 * i + 3] = (i * 13) % 256;
  }
  await sharp(rgba, { raw: { width: W, height: H, channels: 4 } }).png().toFile(f('alpha.png'));
  const img = await readImage(f('alpha.png'));
  assert.ok(img.alpha);
  assert.equal(img.alpha.length, n);
  for (let i = 0; i < n; i++) assert.equal(img.alpha[i], (i * 13) % 256);
  // Fully transparent pixels keep their colour too: straight alpha.
  assert.deepEqual(img.data, ref);
  assert.equal((await readImageInfo(f('alpha.png'))).hasAlpha, true);
});

test('EXIF orientation is applied (decode and header size)', async () => {
  // 16x8 image: left half red, right half blue. Orientation 6 = rotate 90 degrees clockwise to display.
  const w = 16;
  const h = 8;
  const raw = new Uint8Array(w * h * 3);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) raw.set(x < 8 ? [255, 0, 0] : [0, 0, 255], 3 * (y * w + x));
  await sharp(raw, { raw: { width: w, height: h, channels: 3 } }).withMetadata({ orientation: 6 }).jpeg({ quality: 95 }).toFile(f('rot6.jpg'));
  assert.equal((await sharp(f('rot6.jpg')).metadata()).orientation, 6);
  const info = await readImageInfo(f('rot6.jpg'));
  assert.deepEqual([info.width, info.height], [8, 16]);
  const img = await readImage(f('rot6.jpg'));
  assert.deepEqual([img.width, img.height], [8, 16]);
  // After a clockwise quarter turn the left (red) half is on top, the right (blue) half below.
  const px = (x: number, y: number) => Array.from(img.data.subarray(3 * (y * img.width + x), 3 * (y * img.width + x) + 3));
  assert.ok(px(4, 3)[0]! > 200 && px(4, 3)[2]! < 60, `top ${px(4, 3)}`);
  assert.ok(px(4, 12)[2]! > 200 && px(4, 12)[0]! < 60, `bottom ${px(4, 12)}`);
});

test('a 1x1 image decodes', async () => {
  await writePng(f('one.png'), 1, 1);
  const img = await readImage(f('one.png'));
  assert.deepEqual([img.width, img.height], [1, 1]);
  assert.deepEqual(img.data, pattern(1, 1));
});

test('paths with spaces and non-ASCII characters', async () => {
  const file = f('été photo — 写真 1.png');
  await writePng(file, W, H);
  assert.deepEqual((await readImage(file)).data, ref);
  const out = f('sortie à écrire.jpg');
  await writeImage(out, await readImage(file));
  assert.equal((await readImageInfo(out)).format, 'jpeg');
});

test('bad files: one InputError line naming the file and the problem', async () => {
  const zero = writeBytes(f('zero.png'), new Uint8Array(0));
  await expectInputError(readImage(zero), zero, /empty \(0 bytes\)/);
  await expectInputError(readImageInfo(zero), zero, /empty \(0 bytes\)/);

  const text = writeBytes(f('text.png'), 'this is not a picture\n');
  await expectInputError(readImage(text), text, /not an image/);
  await expectInputError(readImageInfo(text), text, /not an image/);

  const png = await rawRgb(64, 64).png().toBuffer();
  const jpg = await rawRgb(64, 64).jpeg().toBuffer();
  for (const frac of [0.3, 0.7, 0.95]) {
    const tp = writeBytes(f(`trunc-${frac}.png`), png.subarray(0, Math.floor(png.length * frac)));
    await expectInputError(readImage(tp), tp, /truncated or corrupt/);
    const tj = writeBytes(f(`trunc-${frac}.jpg`), jpg.subarray(0, Math.floor(jpg.length * frac)));
    await expectInputError(readImage(tj), tj, /truncated or corrupt/);
  }

  const missing = f('missing.png');
  await expectInputError(readImage(missing), missing, /no such file/);
  await expectInputError(readImage(dir), dir, /is a folder/);
});

test('a decompression bomb header is refused before decoding, with a configurable limit', async () => {
  const bomb = writeBytes(f('bomb.png'), await hugeHeaderPng(30000, 30000));
  const e = await expectInputError(readImage(bomb), bomb, /30000x30000 \(900 MP\), above the limit of 100 MP/);
  assert.match(e.message, /pixel limit/);
  await expectInputError(readImageInfo(bomb), bomb, /30000x30000/);
  // A lower limit refuses ordinary images; a higher one lets the header through (then the data is bad).
  await writePng(f('small.png'), 100, 100);
  await expectInputError(readImage(f('small.png'), { maxPixels: 5000 }), f('small.png'), /100x100 .* above the limit/);
  await expectInputError(readImage(bomb, { maxPixels: 1e9 }), bomb, /truncated or corrupt|cannot decode/);
  assert.equal((await readImage(f('small.png'), { maxPixels: Infinity })).width, 100);
});

test('decodeImage works on bytes, naming the source', async () => {
  const bytes = await rawRgb(W, H).png().toBuffer();
  assert.deepEqual((await decodeImage(bytes, 'upload')).data, ref);
  await expectInputError(decodeImage(new Uint8Array(0), 'upload'), 'upload', /empty/);
});

test('float conversion: [0, 255] <-> [-1, 1], round trip exact, clipping', () => {
  const img: RgbImage = { width: W, height: H, data: ref };
  const fl = toFloat(img);
  assert.equal(fl.channels, 3);
  assert.equal(Math.min(...fl.data) >= -1, true);
  assert.equal(Math.max(...fl.data) <= 1, true);
  assert.equal(toFloat({ width: 1, height: 1, data: new Uint8Array([0, 255, 128]) }).data[1], 1);
  assert.deepEqual(fromFloat(fl).data, ref);
  const clipped = fromFloat({ width: 1, height: 1, channels: 3, data: new Float32Array([-3, 2, NaN]) });
  assert.deepEqual(Array.from(clipped.data), [0, 255, 0]);
});

test('image <-> tensor [h, w, 3] in [-1, 1]', async () => {
  const img: RgbImage = { width: W, height: H, data: ref };
  const before = tf.memory().numTensors;
  const t = imageToTensor(img);
  assert.deepEqual(t.shape, [H, W, 3]);
  assert.equal(t.dtype, 'float32');
  const back = await tensorToImage(t);
  assert.deepEqual(back.data, ref);
  const batched = tf.expandDims(t, 0);
  assert.deepEqual((await tensorToImage(batched)).data, ref);
  tf.dispose([t, batched]);
  assert.equal(tf.memory().numTensors, before);
});

test('writeImage: format from the extension, PNG lossless, alpha kept in PNG', async () => {
  const img: RgbImage = { width: W, height: H, data: ref };
  await writeImage(f('out.png'), img);
  await writeImage(f('out.jpg'), img, { quality: 90 });
  await writeImage(f('out.jpeg'), img);
  await writeImage(f('out.webp'), img);
  assert.equal((await readImageInfo(f('out.png'))).format, 'png');
  assert.equal((await readImageInfo(f('out.jpg'))).format, 'jpeg');
  assert.equal((await readImageInfo(f('out.jpeg'))).format, 'jpeg');
  assert.equal((await readImageInfo(f('out.webp'))).format, 'webp');
  assert.deepEqual((await readImage(f('out.png'))).data, ref);
  const alpha = new Uint8Array(W * H).fill(77);
  await writeImage(f('outa.png'), { ...img, alpha });
  assert.deepEqual((await readImage(f('outa.png'))).alpha, alpha);
  await assert.rejects(writeImage(f('out.bmp'), img), (e: unknown) => e instanceof UsageError && /\.bmp/.test(e.message));
});

test('writeImage is atomic: replaces by rename, leaves no temp file, fails cleanly', async () => {
  const img: RgbImage = { width: W, height: H, data: ref };
  const out = f('atomic.png');
  writeFileSync(out, 'old contents');
  const inode = statSync(out).ino;
  await writeImage(out, img);
  assert.notEqual(statSync(out).ino, inode, 'a new file was renamed over the old one');
  assert.deepEqual((await readImage(out)).data, ref);
  assert.deepEqual(readdirSync(dir).filter((n) => n.endsWith('.tmp')), []);

  const noDir = path.join(dir, 'no-such-folder', 'x.png');
  await assert.rejects(writeImage(noDir, img), (e: unknown) => {
    assert.ok(e instanceof OtsrError);
    assert.match(e.message, /no-such-folder\/x\.png: the output folder does not exist/);
    return true;
  });
  const underFile = path.join(out, 'x.png'); // `out` is a file
  await assert.rejects(writeImage(underFile, img), (e: unknown) => {
    assert.ok(e instanceof OtsrError);
    assert.equal(e.message, `${underFile}: a part of the output path is a file, not a folder`);
    return true;
  });
  // Writing where a folder stands fails and leaves the folder alone.
  await assert.rejects(writeImage(dir, img, { format: 'png' }), OtsrError);
  assert.ok(statSync(dir).isDirectory());
  assert.deepEqual(readdirSync(dir).filter((n) => n.endsWith('.tmp')), []);
});

test('JPEG quality is honoured (smaller file at lower quality)', async () => {
  await writeJpeg(f('q.jpg'), 64, 64);
  const img = await readImage(f('q.jpg'));
  await writeImage(f('q20.jpg'), img, { quality: 20 });
  await writeImage(f('q95.jpg'), img, { quality: 95 });
  assert.ok(statSync(f('q20.jpg')).size < statSync(f('q95.jpg')).size);
});
