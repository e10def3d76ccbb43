import assert from 'node:assert/strict';
import { test } from 'node:test';
import { UsageError } from '../../src/errors.js';
import { type DegradeOptions, degradeFloat, degradeRgb, gaussianBlur, gaussianKernel } from '../../src/image/degrade-float.js';
import { type FloatImage, fromFloat, toFloat } from '../../src/image/pixels.js';
import { resizeBicubic } from '../../src/image/resize.js';
import { Rng } from '../../src/util/rng.js';
import { pattern } from '../helpers/images.js';
import { maxAbsDiff } from '../helpers/compare.js';
import { referencePattern } from './reference.js';

test('Gaussian kernel: normalised, symmetric, radius 4 sigma', () => {
  const k = gaussianKernel(1.2);
  assert.equal(k.length, 2 * 5 + 1);
  assert.ok(Math.abs(k.reduce((a, b) => a + b, 0) - 1) < 1e-12);
  for (let i = 0; i < 5; i++) assert.equal(k[i], k[10 - i]);
  assert.ok(k[5]! > k[4]! && k[4]! > k[3]!);
});

test('blur: an impulse spreads as the outer product of the kernel; constants and sums are kept', () => {
  const n = 21;
  const img: FloatImage = { width: n, height: n, channels: 1, data: new Float32Array(n * n) };
  img.data[10 * n + 10] = 1;
  const k = gaussianKernel(1.5);
  const out = gaussianBlur(img, 1.5);
  for (let y = 0; y < n; y++) {
    for (let x = 0; x < n; x++) {
      const dy = y - 10;
      const dx = x - 10;
      const want = Math.abs(dx) <= 6 && Math.abs(dy) <= 6 ? k[dy + 6]! * k[dx + 6]! : 0;
      assert.ok(Math.abs(out.data[y * n + x]! - want) < 1e-7);
    }
  }
  const flat = gaussianBlur({ width: 5, height: 4, channels: 3, data: new Float32Array(60).fill(0.3) }, 2);
  for (const v of flat.data) assert.ok(Math.abs(v - 0.3) < 1e-6);
  // Reflecting borders conserve the total (each sample's weight lands inside the image).
  const pat = referencePattern(9, 7, 0);
  const sum = (d: Float32Array) => d.reduce((a, b) => a + b, 0);
  assert.ok(Math.abs(sum(gaussianBlur(pat, 1.2).data) - sum(pat.data)) < 1e-3);
});

test('no blur, no noise: exactly Pillow bicubic 1/s of the s-multiple part', () => {
  const img = referencePattern(35, 26, 1); // 35x26 at scale 4 -> 32x24 part -> 8x6
  const out = degradeFloat(img, { scale: 4 }, new Rng(1));
  assert.deepEqual([out.width, out.height], [8, 6]);
  const part = referencePattern(32, 24, 1); // the formula restricted to the top-left part is the same pattern
  assert.equal(maxAbsDiff(out.data, resizeBicubic(part, 8, 6, { kernel: 'pil' }).data), 0);
  assert.throws(() => degradeFloat(referencePattern(3, 9, 0), { scale: 4 }, new Rng(1)), RangeError);
  assert.throws(() => degradeFloat(img, { scale: 2.5 }, new Rng(1)), UsageError);
  assert.throws(() => degradeFloat(img, { scale: 2, jpeg: 0 }, new Rng(1)), UsageError);
});

test('noise: seeded, zero mean, sigma / 255 of the [0, 1] range', () => {
  const img = { width: 160, height: 120, channels: 3, data: new Float32Array(160 * 120 * 3) };
  const clean = degradeFloat(img, { scale: 2 }, new Rng(1));
  const a = degradeFloat(img, { scale: 2, noise: 8 }, new Rng(5));
  const b = degradeFloat(img, { scale: 2, noise: 8 }, new Rng(5));
  const c = degradeFloat(img, { scale: 2, noise: 8 }, new Rng(6));
  assert.deepEqual(a.data, b.data);
  assert.notDeepEqual(a.data, c.data);
  let m = 0;
  let v = 0;
  for (let i = 0; i < a.data.length; i++) {
    const d = (a.data[i]! - clean.data[i]!) * 127.5; // in 8-bit levels
    m += d;
    v += d * d;
  }
  m /= a.data.length;
  const sd = Math.sqrt(v / a.data.length - m * m);
  assert.ok(Math.abs(m) < 0.2, `mean ${m}`);
  assert.ok(Math.abs(sd - 8) < 0.2, `sigma ${sd}`);
});

test('degradeRgb: degradeFloat quantized, then the given JPEG step, called only when the options ask for JPEG', async () => {
  const img = { width: 40, height: 32, data: pattern(40, 32, 3) };
  const calls: number[] = [];
  const jpeg = async (lr: { width: number; height: number; data: Uint8Array }, quality: number) => {
    calls.push(quality);
    return { ...lr, data: lr.data.map((v) => 255 - v) };
  };
  const options: DegradeOptions = { scale: 2, blur: 0.7, noise: 3 };
  const plain = await degradeRgb(img, options, new Rng(4), jpeg);
  assert.deepEqual(plain, fromFloat(degradeFloat(toFloat(img), options, new Rng(4))));
  assert.deepEqual(calls, []);
  const compressed = await degradeRgb(img, { ...options, jpeg: 70 }, new Rng(4), jpeg);
  assert.deepEqual(calls, [70]);
  assert.deepEqual(compressed.data, plain.data.map((v) => 255 - v));
});
