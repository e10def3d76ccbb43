import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import sharp from 'sharp';
import { initBackend } from '../../src/engine/backend.js';
import { inceptionFeatures } from '../../src/metrics/features.js';
import { frechetDistance, kernelInceptionDistance } from '../../src/metrics/fid.js';
import { InceptionFeatureNet } from '../../src/metrics/inception.js';
import type { RgbImage } from '../../src/metrics/quality.js';
import { Rng } from '../../src/util/rng.js';

const NAMES = ['bythewater', 'coldripple', 'colorfulcups', 'eveningglow', 'fallenleaf', 'kite'];
const file = (name: string) => new URL(`../fixtures/photos/${name}.jpg`, import.meta.url).pathname;

async function decode(image: ReturnType<typeof sharp>): Promise<RgbImage> {
  const { data, info } = await image.raw().toBuffer({ resolveWithObject: true });
  return { data: new Uint8Array(data), width: info.width, height: info.height, channels: info.channels };
}

function addNoise(image: RgbImage, sigma: number, rng: Rng): RgbImage {
  const data = Uint8Array.from(image.data, (v) => Math.min(255, Math.max(0, Math.round(v + sigma * rng.normal()))));
  return { ...image, data };
}

test('FID and KID (otsr features) are 0 for a set with itself and grow with noise and blur on real photos', async () => {
  await initBackend('wasm');
  const net = await InceptionFeatureNet.load();
  const before = tf.memory().numTensors;
  const rng = new Rng(1);
  const clean = await Promise.all(NAMES.map((n) => decode(sharp(file(n)))));
  const sets: Record<string, RgbImage[]> = {
    clean,
    noise4: clean.map((im) => addNoise(im, 4, rng)),
    noise30: clean.map((im) => addNoise(im, 30, rng)),
    blur1: await Promise.all(NAMES.map((n) => decode(sharp(file(n)).blur(1)))),
    blur3: await Promise.all(NAMES.map((n) => decode(sharp(file(n)).blur(3)))),
  };
  let progressCalls = 0;
  const features = Object.fromEntries(
    await Promise.all(
      Object.entries(sets).map(async ([k, images]) => [
        k,
        await inceptionFeatures(net, images, { batchSize: 6, progress: () => progressCalls++ }),
      ]),
    ),
  );
  assert.equal(progressCalls, 5 * NAMES.length);
  assert.equal(tf.memory().numTensors, before, 'no tensor leaked');
  net.dispose();

  const ref = features.clean!;
  assert.equal(ref.n, NAMES.length);
  const fid = (k: string) => frechetDistance(ref, features[k]!);
  const kid = (k: string) => kernelInceptionDistance(ref, features[k]!).mean;
  const scores = Object.fromEntries(Object.keys(sets).map((k) => [k, { fid: fid(k), kid: kid(k) }]));
  if (process.env.OTSR_VERBOSE) console.log(scores);

  let trace = 0;
  const mean = new Float64Array(ref.dim);
  for (let i = 0; i < ref.n; i++) for (let j = 0; j < ref.dim; j++) mean[j] = mean[j]! + ref.data[i * ref.dim + j]! / ref.n;
  for (let i = 0; i < ref.n; i++) for (let j = 0; j < ref.dim; j++) trace += (ref.data[i * ref.dim + j]! - mean[j]!) ** 2 / (ref.n - 1);
  assert.ok(Math.abs(scores.clean!.fid) < 1e-7 * trace, `FID(clean, clean) = ${scores.clean!.fid}`);
  for (const [weak, strong] of [['noise4', 'noise30'], ['blur1', 'blur3']] as const) {
    assert.ok(scores[weak]!.fid > 0.1 * trace, `${weak}: FID ${scores[weak]!.fid}`);
    assert.ok(scores[strong]!.fid > 1.2 * scores[weak]!.fid, `FID ${strong} ${scores[strong]!.fid}, ${weak} ${scores[weak]!.fid}`);
  }
  // KID of 6 vs 6 images is noisy, and for paired sets (each image and its degraded copy) its cross term holds
  // the similar matched pairs, which pull it below 0 for mild degradations; still, identical sets score lowest
  // and strong noise scores higher than weak noise.
  assert.ok(scores.noise30!.kid > scores.noise4!.kid, `KID noise30 ${scores.noise30!.kid}, noise4 ${scores.noise4!.kid}`);
  for (const k of ['noise4', 'noise30', 'blur1', 'blur3']) assert.ok(scores[k]!.kid > scores.clean!.kid, `KID ${k}`);
});
