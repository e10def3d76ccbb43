import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { initBackend } from '../../src/engine/backend.js';
import { InputError, UsageError } from '../../src/errors.js';
import { readImage } from '../../src/image/io.js';
import { psnr, ssim } from '../../src/metrics/quality.js';
import { upscaleRgb } from '../../src/upscale/files-node.js';
import { inferPixelRange, loadLayersUpscaleModel, registerUpscalerLayers } from '../../src/upscale/layers-model.js';
import { findPackageRoot, layersModelFromFile } from '../../src/upscale/layers-model-node.js';
import { loadUpscaler, tfjsUpscaler, type Upscaler } from '../../src/upscale/upscaler-node.js';
import { cropRgb } from '../../src/data/paired.js';
import { Edsr } from '../../src/nn/edsr.js';
import { saveModel } from '../../src/nn/serialize-node.js';
import { Rng } from '../../src/util/rng.js';
import { unpairedX4 } from '../helpers/data.js';
import { tempDir } from '../helpers/images.js';

const PKG = '@upscalerjs/esrgan-slim';
const tmp = tempDir();
after(tmp.cleanup);
before(() => initBackend('wasm'));

type Rgb = { width: number; height: number; data: Uint8Array };
const c3 = (im: Rgb) => ({ width: im.width, height: im.height, data: im.data, channels: 3 });

async function run(upscaler: Upscaler, lr: Rgb, tile = 256): Promise<Rgb> {
  try {
    return await upscaleRgb({ width: lr.width, height: lr.height, data: lr.data }, upscaler, { tile });
  } finally {
    upscaler.dispose();
  }
}

test('esrgan-slim x4 reproduces the result UpscalerJS published for its own fixture', async () => {
  const root = await findPackageRoot(PKG);
  assert.ok(root, `${PKG} is installed`);
  const fixture = await readImage(path.join(root, 'assets', 'fixture.png')); // 128x128
  const expected = await readImage(path.join(root, 'assets', 'samples', '4x', 'result.png')); // 512x512
  const before = tf.memory().numTensors;

  const slim = await loadUpscaler(PKG);
  assert.deepEqual([slim.name, slim.scale], [PKG, 4]);
  const out = await run(slim, fixture);
  assert.deepEqual([out.width, out.height], [512, 512]);
  let maxDiff = 0;
  for (let i = 0; i < out.data.length; i++) maxDiff = Math.max(maxDiff, Math.abs(out.data[i]! - expected.data[i]!));
  assert.ok(maxDiff <= 1, `max difference from UpscalerJS's own output: ${maxDiff} grey levels`);
  // Tiles (64 LR px, overlap 16) change it only by rounding near seams.
  const tiled = await run(await loadUpscaler(PKG), fixture, 64);
  assert.ok(psnr(c3(tiled), c3(expected)) > 55, `tiled: ${psnr(c3(tiled), c3(expected))} dB`);
  // The pixel range matters: the same network fed [0, 1] instead of its [0, 255] is visibly off.
  const wrong = await run(await loadUpscaler(PKG, { layersRange: 1 }), fixture);
  const wrongPsnr = psnr(c3(wrong), c3(expected));
  assert.ok(wrongPsnr < 50, `wrong range still gives ${wrongPsnr} dB`);
  assert.equal(tf.memory().numTensors, before, 'model weights freed by dispose()');
});

test('esrgan-slim x4 on a real degraded photo: close to bicubic, far above a scrambled copy of itself', async () => {
  // A 64x64 LR crop of a val photo (blur, noise, JPEG: not the bicubic degradation the model was trained on).
  const lrFull = await readImage(path.join(unpairedX4, 'val', 'lr', 'eagle.jpg'));
  const hrFull = await readImage(path.join(unpairedX4, 'val', 'hr', 'eagle.png'));
  const [x, y, n] = [64, 40, 64];
  const lr = cropRgb(lrFull, x, y, n, n);
  const hr = cropRgb(hrFull, 4 * x, 4 * y, 4 * n, 4 * n);
  const score = (im: Rgb) => ({ psnr: psnr(c3(im), c3(hr), { border: 4 }), ssim: ssim(c3(im), c3(hr), { border: 4 }) });

  const bicubic = score(await run(await loadUpscaler('bicubic'), lr));
  const slim = score(await run(await loadUpscaler(PKG), lr));
  // Broken on purpose: the same layers with each weight tensor's values shuffled.
  const file = path.join((await findPackageRoot(PKG))!, 'models', 'x4', 'model.json');
  const loaded = await loadLayersUpscaleModel(layersModelFromFile(file), file);
  const rng = new Rng(3);
  loaded.model.setWeights(loaded.model.getWeights().map((w) => tf.tensor(rng.shuffle(Array.from(w.dataSync())), w.shape)));
  const broken = score(await run(tfjsUpscaler('broken', 4, loaded.upscale, () => loaded.model.dispose()), lr));
  if (process.env.OTSR_VERBOSE) console.log({ bicubic, slim, broken });

  assert.ok(slim.psnr > bicubic.psnr - 1 && slim.ssim > bicubic.ssim - 0.03, `slim ${JSON.stringify(slim)} vs bicubic ${JSON.stringify(bicubic)}`);
  assert.ok(slim.psnr > broken.psnr + 5, `slim ${slim.psnr} dB vs scrambled ${broken.psnr} dB`);
});

test('UpscalerJS packages resolve by name, name/Nx, folder or model.json; bad specs are one-line errors', async () => {
  const root = (await findPackageRoot(PKG))!;
  const probe = { width: 8, height: 6, data: new Uint8Array(8 * 6 * 3).fill(128) };
  for (const [spec, options, scale] of [
    [`${PKG}/2x`, {}, 2],
    [PKG, { scale: 3 }, 3],
    [root, {}, 4],
    [path.join(root, 'models', 'x8', 'model.json'), {}, 8],
    [path.join(root, 'models', 'x2'), {}, 2],
  ] as const) {
    const u = await loadUpscaler(spec, options);
    assert.equal(u.scale, scale, spec);
    const out = await run(u, probe);
    assert.deepEqual([out.width, out.height], [8 * scale, 6 * scale], spec);
    // A flat grey image stays roughly grey.
    const mean = out.data.reduce((s, v) => s + v, 0) / out.data.length;
    assert.ok(Math.abs(mean - 128) < 20, `${spec}: mean ${mean}`);
  }
  await assert.rejects(loadUpscaler(`${PKG}/5x`), (e: unknown) => e instanceof UsageError && /x2, x3, x4, x8, not x5/.test(e.message));
  await assert.rejects(loadUpscaler(`${PKG}/4x`, { scale: 2 }), UsageError);
  await assert.rejects(loadUpscaler(path.join(root, 'models', 'x4', 'model.json'), { scale: 2 }), /upscales x4, but --scale 2/);
  await assert.rejects(loadUpscaler('@upscalerjs/no-such-model'), (e: unknown) => e instanceof InputError && /npm|package/.test(e.message));
  await assert.rejects(loadUpscaler('./no/such/folder'), InputError);
  const bad = path.join(tmp.dir, 'bad');
  mkdirSync(bad);
  writeFileSync(path.join(bad, 'model.json'), '{"modelTopology": {}, "weightsManifest": [{"paths": ["missing.bin"], "weights": []}]}');
  await assert.rejects(loadUpscaler(bad), (e: unknown) => e instanceof InputError && e.message.includes(path.join(bad, 'missing.bin')));
  writeFileSync(path.join(bad, 'model.json'), 'not json');
  await assert.rejects(loadUpscaler(bad), (e: unknown) => e instanceof InputError && /not valid JSON/.test(e.message));
});

test('MultiplyBeta and PixelShuffle layers (RRDN models) load from a model.json, with the [0, 1] range', async () => {
  registerUpscalerLayers();
  // A tiny RRDN-like model written by tfjs-layers itself, custom layers included, then read back by otsr.
  const MultiplyBeta = tf.serialization.SerializationMap.getMap().classNameMap['MultiplyBeta']![0];
  const Shuffle = tf.serialization.SerializationMap.getMap().classNameMap['PixelShuffle2x']![0];
  const input = tfl.input({ shape: [null, null, 3] as unknown as number[] });
  const f = tfl.layers.conv2d({ filters: 8, kernelSize: 3, padding: 'same', activation: 'relu', kernelInitializer: tfl.initializers.randomNormal({ seed: 1 }) }).apply(input) as tfl.SymbolicTensor;
  const scaled = new (MultiplyBeta as unknown as new (a: object) => tfl.layers.Layer)({ beta: 0.5 }).apply(f) as tfl.SymbolicTensor;
  const rgb4 = tfl.layers.conv2d({ filters: 12, kernelSize: 3, padding: 'same', kernelInitializer: tfl.initializers.randomNormal({ seed: 2 }), biasInitializer: 'ones' }).apply(scaled) as tfl.SymbolicTensor;
  const output = new (Shuffle as unknown as new (a: object) => tfl.layers.Layer)({}).apply(rgb4) as tfl.SymbolicTensor;
  const model = tfl.model({ inputs: input, outputs: output });
  assert.deepEqual(output.shape, [null, null, null, 3]);
  const dir = path.join(tmp.dir, 'rrdn');
  mkdirSync(dir);
  await model.save(
    tf.io.withSaveHandler(async (a) => {
      writeFileSync(path.join(dir, 'model.json'), JSON.stringify({ format: 'layers-model', modelTopology: a.modelTopology, weightsManifest: [{ paths: ['w.bin'], weights: a.weightSpecs }] }));
      writeFileSync(path.join(dir, 'w.bin'), Buffer.from(a.weightData as ArrayBuffer));
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
  );
  const x = tf.randomUniform([1, 5, 7, 3], -1, 1, 'float32', 4) as tf.Tensor4D;
  // Reference in tfjs-core ops: [-1, 1] -> [0, 1], conv, relu, x0.5, conv, depth-to-space, back to [-1, 1].
  const [k1, b1, k2, b2] = model.getWeights() as [tf.Tensor4D, tf.Tensor1D, tf.Tensor4D, tf.Tensor1D];
  const expected = tf.tidy(() => {
    const x01 = tf.div(tf.add(x, 1), 2) as tf.Tensor4D;
    const h = tf.mul(tf.relu(tf.add(tf.conv2d(x01, k1, 1, 'same'), b1)), 0.5) as tf.Tensor4D;
    return tf.sub(tf.mul(tf.depthToSpace(tf.add(tf.conv2d(h, k2, 1, 'same'), b2) as tf.Tensor4D, 2), 2), 1);
  });
  model.dispose();

  const topology = JSON.parse(JSON.stringify(((await layersModelFromFile(path.join(dir, 'model.json')).load!()).modelTopology)));
  assert.equal(inferPixelRange(topology), 1);
  const u = await loadUpscaler(dir);
  assert.equal(u.scale, 2);
  const got = tf.tidy(() => u.model!(x));
  const err = tf.max(tf.abs(tf.sub(got, expected))).dataSync()[0]!;
  assert.ok(err < 1e-5, `max error ${err}`);
  tf.dispose([x, expected, got]);
  u.dispose();
});

test('otsr model folders still load, by folder or by model.json, beside layers models', async () => {
  const edsr = new Edsr({ nResBlocks: 1, nFeats: 4, scale: 2, resScale: 0.5, seed: 1 });
  const dir = path.join(tmp.dir, 'otsr-model');
  await saveModel(dir, edsr, { scale: 2 });
  const x = tf.randomUniform([1, 6, 5, 3], -1, 1, 'float32', 2) as tf.Tensor4D;
  const expected = edsr.apply(x);
  for (const spec of [dir, path.join(dir, 'model.json')]) {
    const u = await loadUpscaler(spec, { engine: 'tfjs' });
    assert.equal(u.scale, 2);
    const y = tf.tidy(() => u.model!(x));
    assert.deepEqual(await y.data(), await expected.data(), spec);
    y.dispose();
    u.dispose();
  }
  tf.dispose([x, expected]);
  edsr.dispose();
  await assert.rejects(loadUpscaler(dir, { scale: 4 }), /upscales x2, but --scale 4/);
});
