import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import sharp from 'sharp';
import { initBackend } from '../../src/engine/backend.js';
import type { DegradeOptions } from '../../src/image/degrade-float.js';
import { degradeImage } from '../../src/image/degrade.js';
import { unitRgbTensor } from '../../src/metrics/features.js';
import { weightData } from '../../src/metrics/keras-graph.js';
import {
  PERCEPTUAL_LAYERS,
  PerceptualNet,
  loadNsfwjsMobileNetSource,
  perceptualDistance,
} from '../../src/metrics/perceptual.js';
import type { RgbImage } from '../../src/metrics/quality.js';
import { Rng } from '../../src/util/rng.js';
import { relMaxDiff } from '../helpers/compare.js';

const photo = async (name: string): Promise<RgbImage> => {
  const { data, info } = await sharp(new URL(`../fixtures/photos/${name}.jpg`, import.meta.url).pathname)
    .raw()
    .toBuffer({ resolveWithObject: true });
  return { data: new Uint8Array(data), width: info.width, height: info.height, channels: info.channels };
};

/** The image through otsr's degradation pipeline at scale 1 (blur, noise, JPEG only). */
async function degraded(img: RgbImage, options: Omit<DegradeOptions, 'scale'>): Promise<RgbImage> {
  const input = { width: img.width, height: img.height, data: img.data as Uint8Array };
  const { image } = await degradeImage(input, { scale: 1, ...options }, new Rng(5));
  return { ...image, channels: 3 };
}

/** Columns [x0, x0 + width) of an image. */
function columns(img: RgbImage, x0: number, width: number): RgbImage {
  const data = new Uint8Array(width * img.height * 3);
  for (let y = 0; y < img.height; y++) {
    data.set((img.data as Uint8Array).subarray((y * img.width + x0) * 3, (y * img.width + x0 + width) * 3), y * width * 3);
  }
  return { width, height: img.height, channels: 3, data };
}

const source = await loadNsfwjsMobileNetSource();
await initBackend('cpu');
await initBackend('wasm');
const net = await PerceptualNet.load(source);
const kite = await photo('kite');
const path = await photo('path');

test('the interpreted MobileNetV2 taps match tfjs-layers running the same Keras model', async () => {
  const json = source.modelJson as { modelTopology: object; weightsManifest: { weights: tf.io.WeightsManifestEntry[] }[] };
  const keras = await tfl.loadLayersModel(
    tf.io.fromMemory({ modelTopology: json.modelTopology, weightSpecs: json.weightsManifest.flatMap((g) => g.weights), weightData: weightData(source.shards) }),
  );
  const taps = tfl.model({ inputs: keras.inputs, outputs: PERCEPTUAL_LAYERS.map((n) => keras.getLayer(n).output as tfl.SymbolicTensor) });
  // The Keras model is built for 224 x 224 inputs in [-1, 1]: a crop of a real photo.
  const x = tf.tidy(() => tf.slice(unitRgbTensor(kite), [0, 30, 40, 0], [1, 224, 224, 3])) as tf.Tensor4D;
  const theirs = tf.tidy(() => tf.concat((taps.predict(tf.sub(tf.mul(x, 2), 1)) as tf.Tensor[]).map((t) => tf.reshape(t, [-1])))) as tf.Tensor1D;
  const ours = tf.tidy(() => {
    const maps = (net as unknown as { graph: { run(x: tf.Tensor4D): tf.Tensor4D[] } }).graph.run(tf.sub(tf.mul(x, 2), 1));
    return tf.concat(maps.map((t) => tf.reshape(t, [-1])));
  });
  const err = relMaxDiff(await ours.data(), await theirs.data());
  assert.ok(err < 1e-4, `max |ours - tfjs-layers| / max |tfjs-layers| = ${err}`);
  tf.dispose([x, ours, theirs]);
  keras.dispose();
});

test('0 for identical images and symmetric, on any size', async () => {
  const small = columns(kite, 10, 101);
  assert.equal(await net.distance(kite, kite), 0);
  assert.equal(await net.distance(small, small), 0);
  const [ab, ba] = [await net.distance(kite, path), await net.distance(path, kite)];
  assert.ok(ab > 0, `d(kite, path) = ${ab}`);
  assert.equal(ab, ba);
  const shapes = tf.tidy(() => net.features(tf.zeros([2, 45, 77, 3]) as tf.Tensor4D).map((f) => f.shape));
  assert.deepEqual(shapes.map((s) => s.slice(0, 3)), [[2, 22, 38], [2, 22, 38], [2, 11, 19], [2, 5, 9], [2, 2, 4]]);
});

test('grows with blur, noise and JPEG strength; a 1-pixel shift scores far below an unrelated photo', async () => {
  for (const img of [kite, path]) {
    const series = async (name: string, options: Omit<DegradeOptions, 'scale'>[]) => {
      const d: number[] = [];
      for (const o of options) d.push(await net.distance(img, await degraded(img, o)));
      for (let i = 1; i < d.length; i++) assert.ok(d[i]! > d[i - 1]!, `${name}: ${d.map((v) => v.toFixed(4)).join(' ')}`);
      assert.ok(d[0]! > 0, `${name}: ${d[0]}`);
      return d;
    };
    await series('blur sigma 0.5 1 2 3', [0.5, 1, 2, 3].map((blur) => ({ blur })));
    await series('noise sigma 2 5 10 20', [2, 5, 10, 20].map((noise) => ({ noise })));
    await series('JPEG quality 90 70 50 30 10', [90, 70, 50, 30, 10].map((jpeg) => ({ jpeg })));
    // Measured: kite 0.04 vs 0.38, path (fine texture, which a half-sample shift at the stride-2 taps alters)
    // 0.14 vs 0.38; the closest other photo is further still.
    const w = img.width - 1;
    const shifted = await net.distance(columns(img, 0, w), columns(img, 1, w));
    let other = Infinity;
    for (const name of ['bythewater', 'coldripple', 'colorfulcups', img === kite ? 'path' : 'kite']) {
      other = Math.min(other, await net.distance(columns(img, 0, w), columns(await photo(name), 0, w)));
    }
    assert.ok(shifted < other / 2, `1-px shift ${shifted}, nearest unrelated photo ${other}`);
  }
});

test('tensors and 8-bit images agree; batches give per-pair distances; wasm equals cpu; no tensor leaks', async () => {
  const a = unitRgbTensor(kite), b = unitRgbTensor(path);
  const pair = tf.concat([a, b]) as tf.Tensor4D, swapped = tf.concat([b, b]) as tf.Tensor4D;
  const before = tf.memory().numTensors;
  for (let i = 0; i < 3; i++) {
    const d = perceptualDistance(net, pair, swapped);
    const [same, other] = await d.data();
    d.dispose();
    assert.ok(Math.abs(same! - (await net.distance(kite, path))) < 1e-6, `${same}`);
    assert.equal(other, 0);
    assert.equal(await net.distance(a, b), await net.distance(kite, path));
  }
  assert.equal(tf.memory().numTensors, before, 'tensors are flat over repeated distances');
  const wasm = await net.distance(a, b);
  tf.setBackend('cpu');
  const cpu = await net.distance(a, b);
  tf.setBackend('wasm');
  assert.ok(Math.abs(wasm - cpu) < 1e-4 * cpu, `wasm ${wasm}, cpu ${cpu}`);
  tf.dispose([a, b, pair, swapped]);
});

test('typed errors for sizes it cannot take', async () => {
  await assert.rejects(net.distance(columns(kite, 0, 20), columns(kite, 0, 20)), { name: 'OtsrError', message: /h, w >= 32/ });
  await assert.rejects(net.distance(columns(kite, 0, 200), columns(kite, 0, 201)), { name: 'OtsrError', message: /differ in shape/ });
  await assert.rejects(PerceptualNet.load(source, ['no_such_layer']), { name: 'OtsrError', message: /MobileNetV2 model.json has no layer no_such_layer/ });
});

test('differentiable: tf.grad on wasm (otsr depthwise gradients) equals cpu; variableGrads sees only the image', async () => {
  const a0 = tf.tidy(() => tf.slice(unitRgbTensor(kite), [0, 100, 80, 0], [1, 64, 72, 3]));
  const b0 = tf.tidy(() => tf.slice(unitRgbTensor(path), [0, 100, 80, 0], [1, 64, 72, 3]));
  const grad = (backend: string) => {
    tf.setBackend(backend);
    return tf.tidy(() => {
      const [a, b] = [tf.tensor(a0.dataSync(), a0.shape), tf.tensor(b0.dataSync(), b0.shape)] as tf.Tensor4D[];
      const g = tf.grad((x: tf.Tensor) => tf.sum(perceptualDistance(net, x as tf.Tensor4D, b!)))(a!);
      return g.dataSync() as Float32Array;
    });
  };
  const cpu = grad('cpu');
  const wasm = grad('wasm');
  const err = relMaxDiff(wasm, cpu);
  assert.ok(err < 1e-3, `max |wasm - cpu| / max |cpu| = ${err}`);
  assert.ok(cpu.some((v) => v !== 0) && cpu.every(Number.isFinite), 'a finite, non-zero gradient');
  // A step against the gradient brings the image closer.
  const before = await net.distance(a0 as tf.Tensor4D, b0 as tf.Tensor4D);
  const image = tf.variable(a0);
  const tensors = tf.memory().numTensors;
  for (let i = 0; i < 2; i++) {
    const { value, grads } = tf.variableGrads(() => tf.sum(perceptualDistance(net, image as unknown as tf.Tensor4D, b0 as tf.Tensor4D)));
    assert.deepEqual(Object.keys(grads), [image.name]);
    const scale = 1e-3 / tf.tidy(() => tf.max(tf.abs(grads[image.name]!)).dataSync()[0]!);
    tf.tidy(() => image.assign(tf.sub(image, tf.mul(grads[image.name]!, scale))));
    tf.dispose([value, grads[image.name]!]);
  }
  assert.equal(tf.memory().numTensors, tensors, 'no tensor leaks over variableGrads steps');
  const after = await net.distance(image as unknown as tf.Tensor4D, b0 as tf.Tensor4D);
  assert.ok(after < before, `${after} < ${before}`);
  tf.dispose([a0, b0, image]);
});
