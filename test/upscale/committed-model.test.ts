import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../../src/engine/backend.js';
import { loadUpscaler } from '../../src/upscale/upscaler-node.js';
import { upscaleRgb } from '../../src/upscale/files-node.js';
import { readImage } from '../../src/image/io.js';

const MODEL = fileURLToPath(new URL('../../models/unpaired-x4', import.meta.url));
const PHOTO = fileURLToPath(new URL('../../assets/demo/val/lr/fruits.jpg', import.meta.url));

test('the committed models/unpaired-x4 loads and upscales a real photo x4, close to bicubic but not equal', async () => {
  await initBackend('wasm');
  const photo = await readImage(PHOTO);
  const before = tf.memory().numTensors;
  const model = await loadUpscaler(MODEL);
  const bicubic = await loadUpscaler('bicubic', { scale: 4 });
  try {
    assert.equal(model.scale, 4);
    const [a, b] = [await upscaleRgb(photo, model), await upscaleRgb(photo, bicubic)];
    assert.equal(a.width, photo.width * 4);
    assert.equal(a.height, photo.height * 4);
    let sumSq = 0;
    let differ = 0;
    for (let i = 0; i < a.data.length; i++) {
      const d = a.data[i]! - b.data[i]!;
      sumSq += d * d;
      if (d !== 0) differ++;
    }
    const rms = Math.sqrt(sumSq / a.data.length);
    assert.ok(differ > 0, 'the trained map is exactly bicubic: its weights did not load');
    assert.ok(rms < 8, `the trained map strays ${rms.toFixed(2)} grey levels (RMS) from bicubic`);
  } finally {
    model.dispose();
    bicubic.dispose();
  }
  assert.equal(tf.memory().numTensors, before, 'tensors leaked');
});
