import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import sharp from 'sharp';
import { cropRgb } from '../../src/data/paired.js';
import { initBackend } from '../../src/engine/backend.js';
import { evaluate, type EvaluationResult } from '../../src/eval/evaluate.js';
import { readImage } from '../../src/image/io.js';
import { inceptionFeatures } from '../../src/metrics/features.js';
import { frechetDistance, kernelInceptionDistance } from '../../src/metrics/fid.js';
import { bootstrapFeatureDistances } from '../../src/metrics/bootstrap.js';
import { FEATURE_DIM, InceptionFeatureNet } from '../../src/metrics/inception.js';
import { PerceptualNet } from '../../src/metrics/perceptual.js';
import { psnr, ssim } from '../../src/metrics/quality.js';
import { upscaleRgb } from '../../src/upscale/files-node.js';
import { loadUpscaler } from '../../src/upscale/upscaler-node.js';
import { runCli } from '../helpers/cli.js';
import { unpairedX4 } from '../helpers/data.js';
import { tempDir } from '../helpers/images.js';

const tmp = tempDir();
after(tmp.cleanup);
const lrDir = path.join(tmp.dir, 'lr');
const hrDir = path.join(tmp.dir, 'hr');
// Small real pairs: 74x74 crops of the val LR photos (blur, noise, JPEG) and the 296x296 HR crops they came
// from. 296 < 299, so each image is one Inception crop: 2 feature vectors per set, the fewest FID and KID take
// (Inception on the CPU is slow; bench/RESULTS.md has the full val set).
const PAIRS = [
  { name: 'eagle', x: 60, y: 30 },
  { name: 'fruits', x: 20, y: 20 },
];
const N = 74;

before(async () => {
  await initBackend('wasm');
  mkdirSync(lrDir);
  mkdirSync(hrDir);
  for (const p of PAIRS) {
    const lr = cropRgb(await readImage(path.join(unpairedX4, 'val', 'lr', `${p.name}.jpg`)), p.x, p.y, N, N);
    const hr = cropRgb(await readImage(path.join(unpairedX4, 'val', 'hr', `${p.name}.png`)), 4 * p.x, 4 * p.y, 4 * N, 4 * N);
    for (const [dir, im] of [[lrDir, lr], [hrDir, hr]] as const) {
      await sharp(Buffer.from(im.data), { raw: { width: im.width, height: im.height, channels: 3 } }).png().toFile(path.join(dir, `${p.name}.png`));
    }
  }
});

let library: EvaluationResult;

test('evaluate(bicubic): per-image PSNR/SSIM/perceptual, means, FID and KID equal the metric functions on the same outputs', async () => {
  const net = await InceptionFeatureNet.load();
  const perceptualNet = await PerceptualNet.load();
  const upscaler = await loadUpscaler('bicubic', { scale: 4 });
  const before = tf.memory().numTensors;
  const seen: number[] = [];
  library = await evaluate(upscaler, { lr: lrDir, hr: hrDir, tile: 48, inception: net, perceptualNet, onImage: (done) => seen.push(done) });
  assert.equal(tf.memory().numTensors, before, 'no tensor leaked');
  assert.deepEqual(seen, [1, 2]);
  assert.deepEqual(Object.keys(library).slice(0, 8), ['model', 'images', 'psnr', 'ssim', 'perceptual', 'fid', 'kid', 'seconds']);
  assert.equal(library.model, 'bicubic');
  assert.equal(library.images, 2);
  assert.deepEqual(library.features, { mode: 'dense', vectors: 2 });

  // The same computation by hand.
  const outputs = [], hrs = [];
  for (const [k, p] of PAIRS.entries()) {
    const lr = await readImage(path.join(lrDir, `${p.name}.png`));
    const hr = await readImage(path.join(hrDir, `${p.name}.png`));
    const out = await upscaleRgb(lr, upscaler, { tile: 48 });
    const [a, b] = [{ ...out, channels: 3 }, { ...hr, channels: 3 }];
    assert.equal(library.perImage[k]!.name, p.name);
    assert.equal(library.perImage[k]!.psnr, psnr(a, b, { border: 4 }));
    assert.equal(library.perImage[k]!.ssim, ssim(a, b, { border: 4 }));
    assert.equal(library.perImage[k]!.perceptual, await perceptualNet.distance(a, b));
    outputs.push(a);
    hrs.push(b);
  }
  const mean = (xs: number[]) => xs.reduce((s, v) => s + v, 0) / xs.length;
  assert.equal(library.psnr, mean(library.perImage.map((s) => s.psnr)));
  assert.equal(library.ssim, mean(library.perImage.map((s) => s.ssim)));
  assert.equal(library.perceptual, mean(library.perImage.map((s) => s.perceptual)));
  perceptualNet.dispose();
  const fa = await inceptionFeatures(net, outputs, { mode: 'dense' }), fb = await inceptionFeatures(net, hrs, { mode: 'dense' });
  net.dispose();
  assert.equal(library.fid, frechetDistance(fa, fb));
  assert.equal(library.kid, kernelInceptionDistance(fa, fb).mean);
  // The spread: a bootstrap over the two images (one crop each here), 100 resamples, seed 0.
  const split = (f: { data: Float32Array | Float64Array }) => [0, 1].map((i) => Float32Array.from(f.data.subarray(i * FEATURE_DIM, (i + 1) * FEATURE_DIM)));
  const boot = bootstrapFeatureDistances(split(fa), split(fb), FEATURE_DIM);
  assert.deepEqual(library.bootstrap, { resamples: 100, seed: 0, fid: boot.fid, kid: boot.kid });
  assert.deepEqual([library.fidStd, library.kidStd], [boot.fidStd, boot.kidStd]);

  // Sane values for x4 bicubic on degraded photos.
  assert.ok(library.psnr > 15 && library.psnr < 35, `PSNR ${library.psnr}`);
  assert.ok(library.ssim > 0.2 && library.ssim < 0.95, `SSIM ${library.ssim}`);
  assert.ok(Number.isFinite(library.fid) && library.fid > 0, `FID ${library.fid}`);
  assert.ok(Number.isFinite(library.kid), `KID ${library.kid}`);
  assert.ok(library.perceptual > 0.01 && library.perceptual < 1, `perceptual ${library.perceptual}`);
  assert.ok(library.fidStd > 0, `fidStd ${library.fidStd}`);
  assert.ok(library.seconds > 0);
});

test('otsr eval --json prints one JSON object with the same numbers; the table otherwise', () => {
  const r = runCli(['eval', '--model', 'bicubic', '--lr', lrDir, '--hr', hrDir, '--tile', '48', '--json']);
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout.trim().split('\n');
  assert.equal(lines.length, 1, r.stdout);
  const json = JSON.parse(lines[0]!) as EvaluationResult;
  assert.deepEqual(Object.keys(json).slice(0, 8), ['model', 'images', 'psnr', 'ssim', 'perceptual', 'fid', 'kid', 'seconds']);
  assert.deepEqual(
    [json.model, json.images, json.psnr, json.ssim, json.perceptual, json.fid, json.kid, json.fidStd, json.kidStd],
    [library.model, library.images, library.psnr, library.ssim, library.perceptual, library.fid, library.kid, library.fidStd, library.kidStd],
  );
  assert.deepEqual(json.perImage.map((s) => s.perceptual), library.perImage.map((s) => s.perceptual));
  assert.match(r.stderr, /^eval 2\/2 \|/m, 'progress on stderr');

  const t = runCli(['eval', '--model', 'bicubic', '--lr', lrDir, '--hr', hrDir, '--no-fid']);
  assert.equal(t.code, 0, t.stderr);
  assert.match(t.stdout, /^image\s+size\s+PSNR\s+SSIM\s+perceptual$/m);
  assert.match(t.stdout, new RegExp(`^mean\\s+${library.psnr.toFixed(2)}\\s+${library.ssim.toFixed(4)}\\s+${library.perceptual.toFixed(4)}$`, 'm'));
  assert.match(t.stdout, /perceptual = perceptual \(otsr features\), lower is better \(not LPIPS\)/);
  assert.match(t.stdout, /^fruits\s+296x296\s+/m);
  assert.match(t.stdout, /FID\/KID not computed/);
});

test('otsr eval: a wrong scale or a missing folder is one line naming the file', () => {
  let r = runCli(['eval', '--model', 'bicubic', '--scale', '2', '--lr', lrDir, '--hr', hrDir, '--no-fid']);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /^otsr: .*hr.*is 296x296, but its LR image .* is 74x74: expected 148x148 at scale 2\n$/);
  r = runCli(['eval', '--model', 'bicubic', '--lr', lrDir, '--hr', hrDir, '--bootstrap', '1']);
  assert.equal(r.code, 2, 'a bad option value is a usage error');
  assert.match(r.stderr, /--bootstrap needs 0 \(none\) or at least 2 resamples, got 1/);
  r = runCli(['eval', '--model', 'bicubic', '--lr', path.join(tmp.dir, 'nope'), '--hr', hrDir]);
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /^otsr: .*nope/);
  assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
});
