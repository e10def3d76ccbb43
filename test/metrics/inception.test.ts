import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import sharp from 'sharp';
import { initBackend } from '../../src/engine/backend.js';
import { coverOffsets, gridOffsets, imageFeatures, inceptionInputs } from '../../src/metrics/features.js';
import { InceptionFeatureNet, loadNsfwjsInceptionSource, weightData } from '../../src/metrics/inception.js';
import type { RgbImage } from '../../src/metrics/quality.js';
import { relMaxDiff } from '../helpers/compare.js';

const photo = async (name: string): Promise<RgbImage> => {
  const { data, info } = await sharp(new URL(`../fixtures/photos/${name}.jpg`, import.meta.url).pathname)
    .raw()
    .toBuffer({ resolveWithObject: true });
  return { data: new Uint8Array(data), width: info.width, height: info.height, channels: info.channels };
};

const source = await loadNsfwjsInceptionSource();

test('the interpreted InceptionV3 (BN and ReLU folded) matches tfjs-layers running the same Keras model', async () => {
  await initBackend('wasm');
  const net = await InceptionFeatureNet.load(source);
  const json = source.modelJson as { modelTopology: object; weightsManifest: { weights: tf.io.WeightsManifestEntry[] }[] };
  const keras = await tfl.loadLayersModel(
    tf.io.fromMemory({
      modelTopology: json.modelTopology,
      weightSpecs: json.weightsManifest.flatMap((g) => g.weights),
      weightData: weightData(source.shards),
    }),
  );
  const truncated = tfl.model({ inputs: keras.inputs, outputs: keras.getLayer('mixed10').output as tfl.SymbolicTensor });
  const pixels = new Float32Array(2 * 299 * 299 * 3);
  pixels.set((await photo('kite')).data);
  pixels.set((await photo('path')).data, 299 * 299 * 3);
  const x = tf.tidy(() => tf.div(tf.tensor4d(pixels, [2, 299, 299, 3]), 255)) as tf.Tensor4D;
  const ours = net.embed(x);
  const theirs = tf.tidy(() => tf.mean(truncated.predict(x) as tf.Tensor4D, [1, 2]));
  assert.deepEqual(ours.shape, [2, 2048]);
  const err = relMaxDiff(await ours.data(), await theirs.data());
  if (process.env.OTSR_VERBOSE) console.log(`tfjs-layers: ${err}`);
  assert.ok(err < 1e-5, `max |ours - tfjs-layers| / max |tfjs-layers| = ${err}`);
  // Real photos give sparse, non-negative (post-ReLU average) features that differ between photos.
  const f = await ours.array();
  assert.ok(f[0]!.every((v) => v >= 0), 'f[0]!.every((v) => v >= 0)');
  assert.ok(relMaxDiff(f[0]!, f[1]!) > 0.1, 'relMaxDiff(f[0]!, f[1]!) > 0.1');
  tf.dispose([x, ours, theirs]);
  keras.dispose();
  net.dispose();
});
test('wasm and cpu backends give the same features; no tensor is leaked', async () => {
  await initBackend('wasm');
  const before = tf.memory().numTensors;
  const net = await InceptionFeatureNet.load(source);
  const loaded = tf.memory().numTensors;
  const x = tf.randomUniform([1, 96, 128, 3], 0, 1, 'float32', 7) as tf.Tensor4D;
  const a = net.embed(x);
  const wasm = await a.data();
  a.dispose();
  assert.equal(tf.memory().numTensors, loaded + 1, 'embed leaves only its input behind');
  await initBackend('cpu');
  const b = net.embed(x);
  const cpu = await b.data();
  b.dispose();
  const err = relMaxDiff(wasm, cpu);
  if (process.env.OTSR_VERBOSE) console.log(`cpu: ${err}`);
  assert.ok(err < 1e-5, `wasm vs cpu: ${err}`);
  await initBackend('wasm');
  assert.throws(() => net.embed(tf.zeros([1, 60, 80, 3]) as tf.Tensor4D), /h, w >= 75/);
  x.dispose();
  net.dispose();
  tf.disposeVariables();
  assert.ok(tf.memory().numTensors <= before + 1, `${tf.memory().numTensors} tensors left, ${before} before`);
});

test('crops cover the image on an even grid; resize gives one input', async () => {
  assert.deepEqual(coverOffsets(299, 299), [0]);
  assert.deepEqual(coverOffsets(200, 299), [0]);
  assert.deepEqual(coverOffsets(768, 299), [0, 235, 469]);
  assert.deepEqual(coverOffsets(300, 299), [0, 1]);
  // dense: steps of at most 64 from edge to edge (768 -> 9 columns, 512 -> 5 rows).
  assert.deepEqual(gridOffsets(768, 299, 64), [0, 59, 117, 176, 235, 293, 352, 410, 469]);
  assert.deepEqual(gridOffsets(512, 299, 64), [0, 53, 107, 160, 213]);
  assert.deepEqual(gridOffsets(299, 299, 64), [0]);
  await initBackend('cpu');
  // A 400 x 299 image: two crops, at x = 0 and x = 101, exactly its pixels / 255.
  const p = await photo('kite');
  const wide: RgbImage = { width: 400, height: 299, channels: 3, data: new Uint8Array(400 * 299 * 3) };
  for (let y = 0; y < 299; y++) for (let x = 0; x < 400; x++) for (let c = 0; c < 3; c++) {
    (wide.data as Uint8Array)[(y * 400 + x) * 3 + c] = p.data[(y * 299 + (x % 299)) * 3 + c]!;
  }
  const before = tf.memory().numTensors;
  const crops = inceptionInputs(wide);
  assert.deepEqual(crops.shape, [2, 299, 299, 3]);
  const v = await crops.data();
  const at = (k: number, y: number, x: number, c: number) => v[((k * 299 + y) * 299 + x) * 3 + c]!;
  assert.equal(at(1, 10, 0, 1), Math.fround(wide.data[(10 * 400 + 101) * 3 + 1]! / 255));
  assert.equal(at(0, 298, 298, 2), Math.fround(wide.data[(298 * 400 + 298) * 3 + 2]! / 255));
  crops.dispose();
  // Grey and small images: replicated channels, short side enlarged to 299.
  const grey: RgbImage = { width: 150, height: 100, channels: 1, data: new Uint8Array(150 * 100).fill(51) };
  const g = inceptionInputs(grey);
  assert.deepEqual(g.shape, [2, 299, 299, 3]);
  assert.ok(Math.abs((await g.data())[1234]! - 0.2) < 1e-6, 'Math.abs((await g.data())[1234]! - 0.2) < 1e-6');
  g.dispose();
  const dense = inceptionInputs(wide, 'dense');
  assert.deepEqual(dense.shape, [3, 299, 299, 3]); // x = 0, 51, 101
  dense.dispose();
  const r = inceptionInputs(wide, 'resize');
  assert.deepEqual(r.shape, [1, 299, 299, 3]);
  r.dispose();
  assert.equal(tf.memory().numTensors, before);
});

test('imageFeatures honours an aborted signal', async () => {
  await initBackend('wasm');
  const net = await InceptionFeatureNet.load(source);
  const before = tf.memory().numTensors;
  const controller = new AbortController();
  controller.abort();
  await assert.rejects(imageFeatures(net, await photo('kite'), { signal: controller.signal }), { name: 'CancelledError' });
  assert.equal(tf.memory().numTensors, before);
  net.dispose();
});
