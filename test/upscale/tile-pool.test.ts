import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import sharp from 'sharp';
import { initBackend } from '../../src/engine/backend.js';
import { CancelledError, UsageError } from '../../src/errors.js';
import { readImage } from '../../src/image/io.js';
import { upsampleBicubic } from '../../src/image/resize-tensor.js';
import { Edsr } from '../../src/nn/edsr.js';
import { saveModel } from '../../src/nn/serialize-node.js';
import { upscaleFiles, upscaleRgb } from '../../src/upscale/files-node.js';
import { TilePool } from '../../src/upscale/tile-pool-node.js';
import { type FloatImage, tileCount, upscale } from '../../src/upscale/tiles.js';
import { type Upscaler, loadUpscaler } from '../../src/upscale/upscaler-node.js';
import { Rng } from '../../src/util/rng.js';
import { tempDir } from '../helpers/images.js';

// Tiles spread over worker threads: the same pixels as in one thread, bit for bit, with alpha and grey images,
// batches of tiles, progress in order, cancellation, and files written by upscaleFiles.

const tmp = tempDir('otsr-tile-pool-');
after(tmp.cleanup);
const photoFile = new URL('../fixtures/photos/kite.jpg', import.meta.url).pathname;
let upscaler: Upscaler;

before(async () => {
  await initBackend('wasm', { gradients: false });
  // A small EDSR with random weights (seeded) and the bicubic skip, saved as a user's model folder.
  const edsr = new Edsr({ nResBlocks: 2, nFeats: 8, scale: 2, skip: 'upsample', upsampler: upsampleBicubic, seed: 4 });
  await saveModel(path.join(tmp.dir, 'model'), edsr, { scale: 2 });
  edsr.dispose();
  // Worker threads run TF.js (ONNX Runtime has threads of its own).
  upscaler = await loadUpscaler(path.join(tmp.dir, 'model'), { engine: 'tfjs' });
});
after(() => upscaler.dispose());

/** A crop of a real photo as a FloatImage with `channels` (alpha: a random mask). */
async function photo(width: number, height: number, channels: number): Promise<FloatImage> {
  const { data } = await sharp(photoFile).extract({ left: 60, top: 40, width, height }).raw().toBuffer({ resolveWithObject: true });
  const out = new Float32Array(width * height * channels);
  const rng = new Rng(9);
  for (let p = 0; p < width * height; p++) {
    const [r, g, b] = [data[3 * p]!, data[3 * p + 1]!, data[3 * p + 2]!].map((v) => v / 127.5 - 1);
    if (channels <= 2) out[p * channels] = (r! + g! + b!) / 3;
    else [out[p * channels], out[p * channels + 1], out[p * channels + 2]] = [r!, g!, b!];
    if (channels === 2 || channels === 4) out[p * channels + channels - 1] = rng.next() * 2 - 1;
  }
  return { data: out, width, height, channels };
}

test('2 workers give the same floats as one thread (RGB, RGBA, grey + alpha; batches of 1 and 3 tiles), progress in order', async () => {
  const pool = await TilePool.start(upscaler, { workers: 2 });
  try {
    for (const [channels, batchSize] of [
      [3, 1],
      [4, 3],
      [2, 1],
    ] as const) {
      const image = await photo(70, 45, channels);
      const options = { tile: 24, overlap: 8, batchSize };
      const tiles = tileCount(70, 45, options);
      assert.ok(tiles >= 6, `${tiles} tiles`);
      const seen: [number, number][] = [];
      const here = await upscale(image, { model: upscaler.model!, ...options, progress: (d, t) => void seen.push([d, t]) });
      const seenPool: [number, number][] = [];
      const there = await pool.upscale(image, { ...options, progress: (d, t) => void seenPool.push([d, t]) });
      assert.equal(there.width, 140);
      assert.equal(there.channels, channels);
      assert.deepEqual(there.data, here.data, `${channels} channels, batches of ${batchSize}: workers differ from one thread`);
      assert.deepEqual(seenPool, seen);
    }
  } finally {
    await pool.close();
  }
});

test('cancelling stops handing out tiles and rejects; the pool keeps working; a bare upscaler is refused', async () => {
  const pool = await TilePool.start(upscaler, { workers: 2 });
  try {
    const image = await photo(96, 64, 3);
    const controller = new AbortController();
    let calls = 0;
    await assert.rejects(
      pool.upscale(image, {
        tile: 16,
        overlap: 4,
        signal: controller.signal,
        progress: (done) => {
          calls++;
          if (done === 2) controller.abort();
        },
      }),
      CancelledError,
    );
    assert.equal(calls, 2);
    const again = await pool.upscale(image, { tile: 48, overlap: 8 });
    assert.deepEqual(again.data, (await upscale(image, { model: upscaler.model!, tile: 48, overlap: 8 })).data);
  } finally {
    await pool.close();
  }
  await assert.rejects(TilePool.start({ name: 'my function', source: undefined }), (err: unknown) => err instanceof UsageError && /my function/.test(err.message));
});

test('upscaleFiles and upscaleRgb with 2 workers write the same PNG bytes as with 1', async () => {
  const big = path.join(tmp.dir, 'big.png');
  const small = path.join(tmp.dir, 'small.png');
  await sharp(photoFile).extract({ left: 0, top: 0, width: 80, height: 56 }).png().toFile(big);
  await sharp(photoFile).extract({ left: 0, top: 0, width: 20, height: 20 }).png().toFile(small);
  const outputs = (w: number) => [big, small].map((input) => ({ input, output: path.join(tmp.dir, `w${w}-${path.basename(input)}`) }));
  for (const w of [1, 2]) await upscaleFiles(outputs(w), upscaler, { tile: 32, overlap: 8, workers: w });
  for (const [a, b] of outputs(1).map((o, i) => [o.output, outputs(2)[i]!.output])) {
    assert.ok(readFileSync(a!).equals(readFileSync(b!)), `${b} differs from ${a}`);
  }
  const img = await readImage(big);
  const [one, two] = [await upscaleRgb(img, upscaler, { tile: 32, overlap: 8 }), await upscaleRgb(img, upscaler, { tile: 32, overlap: 8, workers: 2 })];
  assert.deepEqual(two.data, one.data);
});
