import * as tf from '@tensorflow/tfjs-core';
import * as ort from 'onnxruntime-node';
import { initBackend } from './src/engine/backend.js';
import { Edsr } from './src/nn/edsr.js';
import { upsampleBicubic } from './src/image/resize-tensor.js';
import { exportOnnx } from './src/nn/onnx-export.js';
await initBackend('wasm', { gradients: false });
const m = new Edsr({ nResBlocks: 8, nFeats: 64, scale: 4, skip: 'upsample', upsampler: upsampleBicubic, seed: 1 });
const bytes = await exportOnnx(m, { dataRange: [-1, 1] });
const S = 128;
for (const threads of [1, 2]) {
  const s = await ort.InferenceSession.create(bytes, { intraOpNumThreads: threads, interOpNumThreads: 1, executionMode: 'sequential', graphOptimizationLevel: 'all' });
  const inp = new ort.Tensor('float32', new Float32Array(3 * S * S).fill(0.3), [1, 3, S, S]);
  await s.run({ input: inp });
  const t0 = performance.now(); const r = await s.run({ input: inp }); const t1 = performance.now();
  console.log('ort threads', threads, (t1 - t0).toFixed(0), 'ms');
  await s.release();
}
const x = tf.fill([1, S, S, 3], -0.4) as tf.Tensor4D;
tf.tidy(() => m.apply(x)).dataSync();
const t0 = performance.now(); const y = tf.tidy(() => m.apply(x)); y.dataSync(); const t1 = performance.now();
console.log('tfjs wasm', (t1 - t0).toFixed(0), 'ms');
