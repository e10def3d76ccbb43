import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import sharp from 'sharp';
import { type RgbImage, psnr, quantizeSigned, ssim } from '../../src/metrics/quality.js';

const fixtures = new URL('../fixtures/metrics/', import.meta.url);

async function load(name: string): Promise<RgbImage> {
  let image = sharp(new URL(name, fixtures).pathname);
  // sharp expands grey PNGs to three equal channels; keep one.
  if (name.includes('grey')) image = image.extractChannel(0);
  const { data, info } = await image.raw().toBuffer({ resolveWithObject: true });
  return { data: new Uint8Array(data), width: info.width, height: info.height, channels: info.channels };
}

function constant(width: number, height: number, channels: number, value: number): RgbImage {
  return { data: new Float64Array(width * height * channels).fill(value), width, height, channels };
}

test('PSNR and SSIM match scikit-image on real image pairs (RGB and grey, with and without border)', async () => {
  const reference = JSON.parse(readFileSync(new URL('skimage-reference.json', fixtures), 'utf8')) as {
    results: { a: string; b: string; border: number; psnr: number; ssim: number }[];
  };
  assert.equal(reference.results.length, 6);
  for (const r of reference.results) {
    const [a, b] = [await load(r.a), await load(r.b)];
    assert.equal(a.channels, r.a.includes('grey') ? 1 : 3);
    const p = psnr(a, b, { border: r.border });
    const s = ssim(a, b, { border: r.border });
    assert.ok(Math.abs(p - r.psnr) < 1e-12, `${r.a} vs ${r.b}, border ${r.border}: PSNR ${p}, skimage ${r.psnr}`);
    assert.ok(Math.abs(s - r.ssim) < 1e-12, `${r.a} vs ${r.b}, border ${r.border}: SSIM ${s}, skimage ${r.ssim}`);
  }
});

test('identical images: PSNR is Infinity and SSIM is 1', async () => {
  const a = await load('eagle-hr.png');
  assert.equal(psnr(a, a), Infinity);
  assert.ok(Math.abs(ssim(a, a, { border: 4 }) - 1) < 1e-12, 'Math.abs(ssim(a, a, { border: 4 }) - 1) < 1e-12');
});

test('a constant offset gives the analytic PSNR and SSIM', () => {
  for (const offset of [1, 5, 40]) {
    const a = constant(32, 20, 3, 100);
    const b = constant(32, 20, 3, 100 + offset);
    // MSE = offset^2.
    assert.ok(Math.abs(psnr(a, b) - 10 * Math.log10(255 ** 2 / offset ** 2)) < 1e-12, 'Math.abs(psnr(a, b) - 10 * Math.log10(255 ** 2 / offset ** 2)) < 1e-12');
    // Constant images: the contrast-structure term is 1, the luminance term (2 m n + C1) / (m^2 + n^2 + C1).
    const c1 = (0.01 * 255) ** 2;
    const want = (2 * 100 * (100 + offset) + c1) / (100 ** 2 + (100 + offset) ** 2 + c1);
    assert.ok(Math.abs(ssim(a, b) - want) < 1e-12, `SSIM ${ssim(a, b)}, want ${want}`);
  }
  // An offset on half of the channels: MSE = offset^2 / 2 over the three colour channels (alpha ignored).
  const a = constant(16, 16, 4, 50);
  const b = { ...a, data: Float64Array.from(a.data, (v, i) => (i % 4 === 0 ? v + 6 : i % 4 === 3 ? 0 : v)) };
  assert.ok(Math.abs(psnr(a, b) - 10 * Math.log10(255 ** 2 / (36 / 3))) < 1e-12, 'Math.abs(psnr(a, b) - 10 * Math.log10(255 ** 2 / (36 / 3))) < 1e-12');
});

test('the border crop only looks at the inner pixels', () => {
  const a = constant(30, 30, 3, 10);
  const b = { ...a, data: Float64Array.from(a.data) };
  // Damage a 4-pixel frame of b: with border 4 the images are identical.
  for (let y = 0; y < 30; y++) for (let x = 0; x < 30; x++) {
    if (x < 4 || y < 4 || x >= 26 || y >= 26) for (let c = 0; c < 3; c++) b.data[(y * 30 + x) * 3 + c] = 200;
  }
  assert.equal(psnr(a, b, { border: 4 }), Infinity);
  assert.ok(Math.abs(ssim(a, b, { border: 4 }) - 1) < 1e-12, 'Math.abs(ssim(a, b, { border: 4 }) - 1) < 1e-12');
  assert.ok(psnr(a, b, { border: 3 }) < 30, 'psnr(a, b, { border: 3 }) < 30');
});

test('bad inputs get clear errors', () => {
  assert.throws(() => psnr(constant(8, 8, 3, 0), constant(8, 9, 3, 0)), /sizes differ \(8x8 vs 8x9\)/);
  assert.throws(() => ssim(constant(20, 20, 3, 0), constant(20, 20, 3, 0), { border: 5 }), /smaller than 11x11/);
  assert.throws(() => psnr(constant(8, 8, 1, 0), constant(8, 8, 3, 0)), /grey/);
  assert.throws(() => psnr(constant(8, 8, 3, 0), { data: new Uint8Array(5), width: 8, height: 8, channels: 3 }), /5 values/);
});

test('quantizeSigned maps [-1, 1] to rounded, clamped 8-bit values', () => {
  const q = quantizeSigned({ data: Float32Array.of(-1, 1, 0, -2, 3, 0.5), width: 2, height: 1, channels: 3 });
  assert.deepEqual(Array.from(q.data), [0, 255, 128, 0, 255, 191]);
});
