import assert from 'node:assert/strict';
import { mkdirSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { after, test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../../src/engine/backend.js';
import { upsampleBicubic } from '../../src/image/resize-tensor.js';
import { Edsr } from '../../src/nn/edsr.js';
import { saveModel } from '../../src/nn/serialize-node.js';
import { upscaleFiles } from '../../src/upscale/files-node.js';
import { loadUpscaler } from '../../src/upscale/upscaler-node.js';
import { Rng } from '../../src/util/rng.js';
import { rawRgb, tempDir } from '../helpers/images.js';
import { memoryAfterGc } from '../helpers/memory.js';

const tmp = tempDir('otsr-upscale-memory-');
after(tmp.cleanup);

/**
 * 100 image files of assorted sizes (some with alpha, most spanning several tiles) through the Node
 * upscaling path a user runs (decode, tiled model, encode, atomic write) with a small EDSR model folder.
 * TF.js tensors and bytes must be exactly what the model holds before every image; live JS memory
 * (heap + external memory after a forced GC) within 2 MB of image 10 (noise here ~0.5 MB; a leaked output
 * image, 10-30 KB, would add 1-3 MB); RSS within 96 MB (see test/train/memory.test.ts for why it is so
 * loose: GC page retention, the wasm heap's high-water mark, libvips's operation cache).
 */
test('upscaling 100 images: tensors exactly flat, live memory and RSS flat after warm-up', { timeout: 300_000 }, async (t) => {
  await initBackend('wasm', { gradients: false });
  const inputs = path.join(tmp.dir, 'in');
  const outputs = path.join(tmp.dir, 'out');
  mkdirSync(inputs);
  mkdirSync(outputs);
  const rng = new Rng(3);
  const jobs: { input: string; output: string }[] = [];
  for (let k = 0; k < 100; k++) {
    const [w, h] = [12 + rng.int(40), 12 + rng.int(40)];
    const input = path.join(inputs, `img-${k}.png`);
    const img = rawRgb(w, h, k);
    await (k % 10 === 3 ? img.ensureAlpha(0.7) : img).png().toFile(input);
    jobs.push({ input, output: path.join(outputs, `img-${k}.png`) });
  }
  const modelDir = path.join(tmp.dir, 'model');
  const edsr = new Edsr({ nResBlocks: 2, nFeats: 8, scale: 2, skip: 'upsample', upsampler: upsampleBicubic, seed: 1 });
  await saveModel(modelDir, edsr, { scale: 2 });
  edsr.dispose();

  const beforeModel = tf.memory().numTensors;
  const upscaler = await loadUpscaler(modelDir);
  const held = { tensors: tf.memory().numTensors, bytes: tf.memory().numBytes };
  const seen: number[] = [];
  const samples = new Map<number, { live: number; rss: number }>();
  const { written, skipped } = await upscaleFiles(jobs, upscaler, {
    tile: 24,
    overlap: 4,
    onImage: (done) => {
      seen.push(done);
      assert.equal(tf.memory().numTensors, held.tensors, `tensors before image ${done}`);
      assert.equal(tf.memory().numBytes, held.bytes, `tensor bytes before image ${done}`);
      if (done % 10 === 0) samples.set(done, memoryAfterGc());
    },
  });
  upscaler.dispose();
  assert.deepEqual([written, skipped], [100, 0]);
  assert.equal(seen.length, 101);
  assert.equal(readdirSync(outputs).length, 100);
  assert.equal(tf.memory().numTensors, beforeModel, 'disposing the upscaler frees its weights');
  const base = samples.get(10)!;
  for (const [image, m] of samples) {
    t.diagnostic(`image ${image}: live ${m.live.toFixed(2)} MB, rss ${m.rss.toFixed(0)} MB`);
    if (image < 10) continue;
    assert.ok(m.live - base.live < 2, `live JS memory grew by ${(m.live - base.live).toFixed(2)} MB from image 10 to ${image}`);
    assert.ok(m.rss - base.rss < 96, `RSS grew by ${(m.rss - base.rss).toFixed(0)} MB from image 10 to ${image}`);
  }
});
