import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { initBackend } from '../../src/engine/backend.js';
import { InputError, UsageError } from '../../src/errors.js';
import { type RgbImage, readImage } from '../../src/image/io.js';
import { upsampleBicubic } from '../../src/image/resize-tensor.js';
import { Edsr } from '../../src/nn/edsr.js';
import { exportOnnx } from '../../src/nn/onnx-export.js';
import { loadModel, saveModel } from '../../src/nn/serialize-node.js';
import { upscaleRgb } from '../../src/upscale/files-node.js';
import { DEFAULT_ENGINE, type Upscaler, loadUpscaler } from '../../src/upscale/upscaler-node.js';
import { tempDir } from '../helpers/images.js';
import { nearestPlusModel } from '../helpers/onnx.js';

// ONNX Runtime behind otsr's tiling: an otsr model exported in memory (--engine onnx) gives TF.js's pixels, and
// foreign .onnx models (NCHW, [0, 1] or [0, 255]) run through the same tiles, blend and alpha.

const tmp = tempDir('otsr-onnx-');
after(tmp.cleanup);
const modelDir = path.join(tmp.dir, 'model');
let photo: RgbImage;

/** A 70x45 crop of a real photo, with a made-up alpha ramp when `alpha`. */
function crop(img: RgbImage, alpha: boolean): RgbImage {
  const w = 70, h = 45;
  const data = new Uint8Array(w * h * 3);
  for (let y = 0; y < h; y++) data.set(img.data.subarray(((40 + y) * img.width + 60) * 3, ((40 + y) * img.width + 60 + w) * 3), y * w * 3);
  return { width: w, height: h, data, ...(alpha ? { alpha: Uint8Array.from({ length: w * h }, (_, i) => (i * 7) % 256) } : {}) };
}

function maxDiff(a: Uint8Array, b: Uint8Array): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

before(async () => {
  await initBackend('wasm', { gradients: false });
  const edsr = new Edsr({ nResBlocks: 2, nFeats: 8, scale: 2, skip: 'upsample', upsampler: upsampleBicubic, seed: 4 });
  await saveModel(modelDir, edsr, { scale: 2 });
  edsr.dispose();
  photo = await readImage(new URL('../fixtures/photos/kite.jpg', import.meta.url).pathname);
});

const tiles = { tile: 24, overlap: 8 };

test('--engine onnx gives the TF.js engine\'s pixels through the same tiles, blend and alpha', async () => {
  const tfjs = await loadUpscaler(modelDir, { engine: 'tfjs' });
  const ort = await loadUpscaler(modelDir, { engine: 'onnx' });
  try {
    assert.equal(ort.engine, 'onnx');
    assert.equal(ort.scale, 2);
    for (const alpha of [false, true]) {
      const img = crop(photo, alpha);
      const a = await upscaleRgb(img, tfjs, tiles);
      const b = await upscaleRgb(img, ort, tiles);
      assert.equal(b.width, 140);
      // Float outputs differ by ~1e-7 (test/nn/onnx-export.test.ts): an 8-bit value may round the other way.
      assert.ok(maxDiff(a.data, b.data) <= 1, 'RGB');
      if (alpha) assert.deepEqual(b.alpha, a.alpha, 'alpha is resized by otsr, not the model');
    }
  } finally {
    tfjs.dispose();
    ort.dispose();
  }
});

test(`the default engine (${DEFAULT_ENGINE}) gives the same pixels as both engines, and ONNX Runtime's threads do not change them`, async () => {
  const img = crop(photo, false);
  const run = async (u: Upscaler) => {
    try {
      return await upscaleRgb(img, u, tiles);
    } finally {
      u.dispose();
    }
  };
  const byDefault = await run(await loadUpscaler(modelDir));
  const tfjs = await run(await loadUpscaler(modelDir, { engine: 'tfjs' }));
  const one = await run(await loadUpscaler(modelDir, { engine: 'onnx', threads: 1 }));
  const two = await run(await loadUpscaler(modelDir, { engine: 'onnx', threads: 2 }));
  assert.deepEqual(two.data, one.data, '1 and 2 ONNX Runtime threads');
  assert.deepEqual(byDefault.data, DEFAULT_ENGINE === 'onnx' ? one.data : tfjs.data);
  assert.ok(maxDiff(one.data, tfjs.data) <= 1);
});

test('a foreign .onnx model (NCHW, [0, 255]) upscales through the tiles; --onnx-range picks its units', async () => {
  const file = path.join(tmp.dir, 'nearest x2.onnx');
  writeFileSync(file, nearestPlusModel({ scale: 2, add: 10 }));
  const img = crop(photo, true);
  const u = await loadUpscaler(file, { onnxRange: 255 });
  try {
    assert.equal(u.engine, 'onnx');
    assert.equal(u.scale, 2);
    const out = await upscaleRgb(img, u, tiles);
    // Nearest x2 plus 10 grey levels, exactly where the tiles do not blend (and within a level where they do).
    let worst = 0;
    for (let y = 0; y < out.height; y++) {
      for (let x = 0; x < out.width; x++) {
        for (let c = 0; c < 3; c++) {
          const want = Math.min(255, img.data[((y >> 1) * img.width + (x >> 1)) * 3 + c]! + 10);
          worst = Math.max(worst, Math.abs(out.data[(y * out.width + x) * 3 + c]! - want));
        }
      }
    }
    assert.ok(worst <= 1, `worst ${worst}`);
  } finally {
    u.dispose();
  }
  // Read as [0, 1], the same model adds 10 whole units: white everywhere.
  const wrong = await loadUpscaler(file, { onnxRange: 1 });
  const white = await upscaleRgb(crop(photo, false), wrong, tiles);
  wrong.dispose();
  assert.ok(white.data.every((v) => v === 255));
});

test('an .onnx file from otsr export runs as a foreign model: its metadata gives the range', async () => {
  const tfjs = await loadUpscaler(modelDir, { engine: 'tfjs' });
  const file = path.join(tmp.dir, 'otsr.onnx');
  const loaded = await loadModel(modelDir, { upsampler: upsampleBicubic });
  writeFileSync(file, await exportOnnx(loaded.module, loaded.manifest));
  loaded.module.dispose();
  const u = await loadUpscaler(file);
  try {
    const img = crop(photo, false);
    assert.ok(maxDiff((await upscaleRgb(img, u, tiles)).data, (await upscaleRgb(img, tfjs, tiles)).data) <= 1);
  } finally {
    u.dispose();
    tfjs.dispose();
  }
});

test('bad .onnx files and engine mix-ups are one-line errors naming the file', async () => {
  const junk = path.join(tmp.dir, 'junk.onnx');
  writeFileSync(junk, 'not a protobuf at all');
  await assert.rejects(loadUpscaler(junk), (e: unknown) => e instanceof InputError && e.message.startsWith(`${junk}: is not an ONNX model ONNX Runtime can load`) && !e.message.includes('\n'));
  const fixed = path.join(tmp.dir, 'fixed.onnx');
  writeFileSync(fixed, nearestPlusModel({ scale: 2, add: 0, fixedSide: 64 }));
  await assert.rejects(loadUpscaler(fixed), (e: unknown) => e instanceof InputError && /reads a fixed 64x64 input; tiled upscaling needs free height and width/.test(e.message));
  const x4 = path.join(tmp.dir, 'x4.onnx');
  writeFileSync(x4, nearestPlusModel({ scale: 4, add: 0 }));
  await assert.rejects(loadUpscaler(x4, { scale: 2 }), (e: unknown) => e instanceof UsageError && /upscales x4, but --scale 2/.test(e.message));
  await assert.rejects(loadUpscaler(x4, { engine: 'tfjs' }), (e: unknown) => e instanceof UsageError && /runs on ONNX Runtime only/.test(e.message));
  await assert.rejects(loadUpscaler(modelDir, { onnxRange: 255 }), (e: unknown) => e instanceof UsageError && /--onnx-range is for .onnx models/.test(e.message));
  await assert.rejects(loadUpscaler('bicubic', { engine: 'onnx' }), (e: unknown) => e instanceof UsageError && /bicubic runs on TF.js only/.test(e.message));
});
