/**
 * Speed of the evaluation and inference pieces on this machine (wasm backend, one thread):
 * InceptionV3 features (nsfwjs weights), FID/KID/PSNR/SSIM arithmetic, and tiled vs whole-image upscaling
 * with a small conv net (plus the tiling's deviation from whole-image inference for a receptive field wider
 * than overlap/4).
 *
 *     node --import tsx bench/metrics-speed.ts [--out bench/results/metrics-speed.json]
 */
import { writeFileSync } from 'node:fs';
import os from 'node:os';
import * as tf from '@tensorflow/tfjs-core';
import sharp from 'sharp';
import { initBackend } from '../src/engine/backend.js';
import { frechetDistance, kernelInceptionDistance } from '../src/metrics/fid.js';
import { imageFeatures } from '../src/metrics/features.js';
import { InceptionFeatureNet } from '../src/metrics/inception.js';
import { psnr, ssim } from '../src/metrics/quality.js';
import { type ArchSpec, Module, heNormal, zeros } from '../src/nn/module.js';
import { upscale } from '../src/upscale/tiles.js';
import { Rng } from '../src/util/rng.js';

const outPath = process.argv.includes('--out') ? process.argv[process.argv.indexOf('--out') + 1]! : undefined;
const results: Record<string, unknown> = {
  date: new Date().toISOString(),
  machine: `${os.cpus().length} x ${os.cpus()[0]?.model}, node ${process.version}`,
  loadavg: os.loadavg(),
};
const ms = async (f: () => Promise<unknown> | unknown, reps = 1) => {
  const t = performance.now();
  for (let i = 0; i < reps; i++) await f();
  return (performance.now() - t) / reps;
};

await initBackend('wasm');
let net!: InceptionFeatureNet;
results.inceptionLoadMs = await ms(async () => (net = await InceptionFeatureNet.load()));
for (const b of [1, 4, 8]) {
  const x = tf.randomUniform([b, 299, 299, 3], 0, 1, 'float32', 1) as tf.Tensor4D;
  tf.dispose(net.embed(x)); // warm-up
  results[`inceptionMsPerCrop_batch${b}`] = (await ms(async () => { const f = net.embed(x); await f.data(); f.dispose(); }, 2)) / b;
  x.dispose();
}
const { data, info } = await sharp('test/fixtures/photos/path.jpg').resize(768, 512).raw().toBuffer({ resolveWithObject: true });
const photo = { data: new Uint8Array(data), width: info.width, height: info.height, channels: 3 };
results.featuresMsPer768x512Image_crops6 = await ms(() => imageFeatures(net, photo));
results.featuresMsPer768x512Image_resize = await ms(() => imageFeatures(net, photo, { mode: 'resize' }));
net.dispose();

const rng = new Rng(1);
const noisy = { ...photo, data: Uint8Array.from(photo.data, (v) => Math.min(255, Math.max(0, Math.round(v + 10 * rng.normal())))) };
results.psnrMs768x512 = await ms(() => psnr(photo, noisy, { border: 4 }), 3);
results.ssimMs768x512 = await ms(() => ssim(photo, noisy, { border: 4 }), 3);
const feats = (n: number, shift: number) => ({ n, dim: 2048, data: Float32Array.from({ length: n * 2048 }, () => Math.max(0, 0.05 * rng.normal() + shift)) });
for (const n of [36, 600]) {
  const a = feats(n, 0), b = feats(n, 0.002);
  results[`fidMs_n${n}`] = await ms(() => frechetDistance(a, b));
  results[`kidMs_n${n}`] = await ms(() => kernelInceptionDistance(a, b));
}

/** EDSR-like stand-in: head conv, `blocks` residual blocks, x`scale` pixel shuffle. */
class ConvSr extends Module {
  readonly spec: ArchSpec;
  private readonly convs: { w: tf.Variable; b: tf.Variable }[] = [];
  constructor(readonly blocks: number, readonly feats: number, readonly scale: number) {
    super();
    this.spec = { kind: 'bench-sr', blocks, feats, scale };
    const r = new Rng(2);
    const shapes = [[3, feats], ...Array.from({ length: 2 * blocks }, () => [feats, feats]), [feats, 3 * scale * scale]];
    shapes.forEach(([cin, cout], i) => {
      const w = this.param(`c${i}.w`, [3, 3, cin!, cout!], heNormal(r, 9 * cin! * cout!, 9 * cin!, i > 0 && i < shapes.length - 1 ? 0.5 : 1));
      this.convs.push({ w, b: this.param(`c${i}.b`, [cout!], zeros(cout!)) });
    });
  }
  apply(x: tf.Tensor): tf.Tensor4D {
    return tf.tidy(() => {
      const conv = (h: tf.Tensor4D, i: number) => tf.add(tf.conv2d(h, this.convs[i]!.w as tf.Tensor4D, 1, 'same'), this.convs[i]!.b) as tf.Tensor4D;
      let h = conv(x as tf.Tensor4D, 0);
      for (let k = 0; k < this.blocks; k++) h = tf.add(h, conv(tf.relu(conv(h, 1 + 2 * k)), 2 + 2 * k));
      return tf.depthToSpace(conv(h, 2 * this.blocks + 1), this.scale);
    });
  }
}
const sr = new ConvSr(4, 32, 4); // receptive-field radius 10 LR pixels
const small = await sharp('test/fixtures/photos/path.jpg').resize(192, 128).raw().toBuffer();
const lr = { width: 192, height: 128, channels: 3, data: Float32Array.from(small, (v) => v / 127.5 - 1) };
const model = (x: tf.Tensor4D) => sr.apply(x);
let wholeOut!: Float32Array;
tf.tidy(() => model(tf.zeros([1, 128, 192, 3]) as tf.Tensor4D).dataSync()); // warm-up
results.upscaleWholeMs_192x128_x4 = await ms(() => { wholeOut = tf.tidy(() => model(tf.tensor4d(lr.data, [1, 128, 192, 3])).dataSync() as Float32Array); });
for (const [tile, overlap] of [[64, 16], [64, 40], [128, 16]] as const) {
  let out!: Float32Array;
  const t = await ms(async () => { out = (await upscale(lr, { model, tile, overlap })).data; });
  let maxErr = 0;
  for (let i = 0; i < out.length; i++) maxErr = Math.max(maxErr, Math.abs(out[i]! - wholeOut[i]!));
  results[`upscaleTiledMs_tile${tile}_overlap${overlap}`] = t;
  results[`upscaleMaxAbsDiffVsWhole_tile${tile}_overlap${overlap}`] = maxErr;
}
sr.dispose();
results.loadavgAfter = os.loadavg();
console.log(JSON.stringify(results, null, 2));
if (outPath) writeFileSync(outPath, JSON.stringify(results, null, 2) + '\n');
