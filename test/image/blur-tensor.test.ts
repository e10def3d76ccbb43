import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../../src/engine/backend.js';
import { gaussianBlurTensor } from '../../src/image/blur-tensor.js';
import { gaussianBlur } from '../../src/image/degrade-float.js';
import { upsampleBicubic } from '../../src/image/resize-tensor.js';
import { upscaleRgb } from '../../src/upscale/files-node.js';
import { loadUpscaler } from '../../src/upscale/upscaler-node.js';
import { Rng } from '../../src/util/rng.js';

await initBackend('cpu');
await initBackend('wasm');
const rng = new Rng(4);

test('gaussianBlurTensor equals degrade.ts gaussianBlur (same taps, reflected borders) on cpu and wasm', () => {
  for (const backend of ['cpu', 'wasm']) {
    tf.setBackend(backend);
    for (const [w, h, sigma] of [[23, 17, 1], [40, 9, 2], [12, 30, 0.6]] as const) {
      const data = Float32Array.from({ length: w * h * 3 }, () => rng.next() * 2 - 1);
      const want = gaussianBlur({ width: w, height: h, channels: 3, data }, sigma).data;
      const got = tf.tidy(() => gaussianBlurTensor(tf.tensor4d(data, [1, h, w, 3]), sigma).dataSync());
      let err = 0;
      for (let i = 0; i < want.length; i++) err = Math.max(err, Math.abs(got[i]! - want[i]!));
      assert.ok(err < 1e-5, `${backend} ${w}x${h} sigma ${sigma}: ${err}`);
    }
  }
});

test("'bicubic+blur' is bicubic then a sigma-1 blur, and tiles give the whole-image result", async () => {
  tf.setBackend('wasm');
  const upscaler = await loadUpscaler('bicubic+blur');
  assert.deepEqual([upscaler.name, upscaler.scale], ['bicubic+blur', 4]);
  assert.deepEqual(upscaler.source, { spec: 'bicubic+blur', options: { scale: 4 } });
  const lr = { width: 70, height: 53, data: Uint8Array.from({ length: 70 * 53 * 3 }, () => rng.int(256)) };
  const before = tf.memory().numTensors;
  const whole = await upscaleRgb(lr, upscaler, { tile: 256 });
  const tiled = await upscaleRgb(lr, upscaler, { tile: 32, overlap: 16 });
  assert.equal(tf.memory().numTensors, before);
  assert.deepEqual(tiled.data, whole.data);
  const want = tf.tidy(() => {
    const x = tf.sub(tf.div(tf.tensor4d(lr.data, [1, 53, 70, 3], 'float32'), 127.5), 1) as tf.Tensor4D;
    return gaussianBlurTensor(upsampleBicubic(x, 4), 1).dataSync();
  });
  let err = 0;
  for (let i = 0; i < want.length; i++) err = Math.max(err, Math.abs(whole.data[i]! - Math.min(255, Math.max(0, Math.round((want[i]! + 1) * 127.5)))));
  assert.ok(err <= 1, `max difference ${err} grey levels`);
  await assert.rejects(loadUpscaler('bicubic+blur', { scale: 1 }), /bicubic\+blur needs an integer --scale >= 2, got 1/);
});
