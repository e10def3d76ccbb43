/**
 * Can an unpaired distance choose between maps as the paired val metrics do? (issue 14, "unpaired model selection")
 *
 * For each map: T(x) on fixed LR crops of the *train* LR folder, against fixed crops of the *train* HR folder (other
 * scenes: no ground truth), compared by KID on descriptors in the perceptual (otsr features) space: per tap, the
 * spatial mean and standard deviation of each unit-length channel. A selection rule is useful only if it ranks the
 * maps as val's perceptual distance and FID do.
 *
 *     node --import tsx bench/unpaired-selection.ts [--crops N] [--lr-crop C] MODEL_DIR... > bench/results/unpaired-selection.json
 *
 * `bicubic` is always included.
 */
import * as tf from '@tensorflow/tfjs-core';
import { ImageFolderSampler } from '../src/data/image-folder.js';
import { initBackend } from '../src/engine/backend.js';
import { upsampleBicubic } from '../src/image/resize-tensor.js';
import { kernelInceptionDistance } from '../src/metrics/fid.js';
import { PerceptualNet } from '../src/metrics/perceptual.js';
import { loadModel } from '../src/nn/serialize-node.js';
import type { Module } from '../src/nn/module.js';
import { takeNumberOption } from './args.js';

const args = process.argv.slice(2);
const flag = (name: string, fallback: number) => takeNumberOption(args, name, fallback);
const crops = flag('--crops', 192);
const lrCrop = flag('--lr-crop', 32);
const scale = 4;
const data = '../shared/data/unpaired-x4/train';

await initBackend('wasm');
const draw = async (folder: string, crop: number, seed: number) => {
  const sampler = await ImageFolderSampler.open({ folders: folder, crop, seed, flips: false, rotations: false });
  const t = (await sampler.sample(crops)) as tf.Tensor4D;
  return t;
};
const lr = await draw(`${data}/lr`, lrCrop, 11);
const hr = await draw(`${data}/hr`, lrCrop * scale, 12);
const net = await PerceptualNet.load();

/** Per crop: for each tap, the channel means and standard deviations of the unit-length features. */
async function descriptors(images: tf.Tensor4D): Promise<{ n: number; dim: number; data: Float32Array }> {
  const rows: Float32Array[] = [];
  for (let i = 0; i < images.shape[0]; i += 8) {
    const batch = tf.tidy(() => {
      const x = tf.clipByValue(tf.div(tf.add(tf.slice(images, [i], [Math.min(8, images.shape[0] - i)]), 1), 2), 0, 1) as tf.Tensor4D;
      const parts = net.features(x).flatMap((f) => {
        const { mean, variance } = tf.moments(f, [1, 2]);
        return [mean, tf.sqrt(variance)];
      });
      return tf.concat(parts, 1);
    });
    const values = (await batch.data()) as Float32Array;
    const dim = batch.shape[1]!;
    for (let r = 0; r < batch.shape[0]!; r++) rows.push(values.slice(r * dim, (r + 1) * dim));
    batch.dispose();
  }
  const dim = rows[0]!.length;
  const out = new Float32Array(rows.length * dim);
  rows.forEach((r, k) => out.set(r, k * dim));
  return { n: rows.length, dim, data: out };
}

const target = await descriptors(hr);
const upsampler = (x: tf.Tensor4D, s: number) => upsampleBicubic(x, s);
const results: Record<string, { kid: number; kidStd: number }> = {};
for (const spec of ['bicubic', ...args]) {
  let map: Module | undefined;
  if (spec !== 'bicubic') map = (await loadModel(spec, { upsampler })).module;
  const outputs: tf.Tensor4D[] = [];
  for (let i = 0; i < crops; i += 16) {
    outputs.push(tf.tidy(() => {
      const x = tf.slice(lr, [i], [Math.min(16, crops - i)]);
      return (map ? map.apply(x) : upsampleBicubic(x, scale)) as tf.Tensor4D;
    }));
  }
  const all = tf.concat(outputs, 0);
  tf.dispose(outputs);
  const kid = kernelInceptionDistance(await descriptors(all), target, { subsetSize: Math.min(100, crops), subsets: 100, seed: 1 });
  all.dispose();
  map?.dispose();
  results[spec] = { kid: kid.mean, kidStd: kid.std };
  process.stderr.write(`${spec}: KID ${kid.mean.toFixed(5)} ± ${kid.std.toFixed(5)}\n`);
}
process.stdout.write(`${JSON.stringify({ date: new Date().toISOString(), crops, lrCrop, descriptor: 'perceptual taps, channel mean + std', results }, null, 2)}\n`);
