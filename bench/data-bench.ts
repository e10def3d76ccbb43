/**
 * Data-path timings: upsampleBicubic (wasm), folder sampling (cold and warm cache), degrade.
 * Run: node --import tsx bench/data-bench.ts [--out bench/results/data.json]
 */
import { writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../src/engine/backend.js';
import { ImageFolderSampler } from '../src/data/image-folder.js';
import { upsampleBicubic } from '../src/image/resize-tensor.js';
import { degradeFloat } from '../src/image/degrade-float.js';
import { readImage, toFloat } from '../src/image/io.js';
import { Rng } from '../src/util/rng.js';

const data = path.join(import.meta.dirname, '..', '..', 'shared', 'data', 'unpaired-x4');

async function time(label: string, reps: number, fn: () => Promise<void> | void): Promise<number> {
  await fn(); // warm-up
  const t0 = performance.now();
  for (let i = 0; i < reps; i++) await fn();
  const ms = (performance.now() - t0) / reps;
  console.log(`${label}: ${ms.toFixed(2)} ms`);
  return ms;
}

const results: Record<string, number> = {};
await initBackend('wasm');
for (const [b, h, w, s] of [[8, 24, 24, 4], [1, 128, 128, 4], [1, 256, 256, 2]] as const) {
  const x = tf.randomUniform([b, h, w, 3], -1, 1) as tf.Tensor4D;
  results[`upsampleBicubic wasm ${b}x${h}x${w}x3 x${s}`] = await time(`upsampleBicubic wasm [${b},${h},${w},3] x${s}`, 10, () => {
    const y = upsampleBicubic(x, s);
    y.dataSync();
    y.dispose();
  });
  x.dispose();
}

const open = (cacheBytes: number) =>
  ImageFolderSampler.open({ folders: path.join(data, 'train', 'hr'), crop: 96, seed: 1, cacheBytes, onWarning: () => undefined });
const cold = await open(0); // no cache: every crop decodes a 1024-px PNG
results['sample HR 8x96x96, no cache'] = await time('sample HR batch 8 x 96^2, no cache (decode each)', 3, async () => {
  (await cold.sample(8)).dispose();
});
const warm = await open(512 * 1024 * 1024);
for (let i = 0; i < 4; i++) (await warm.sample(8)).dispose(); // 25 files: all cached after 4 batches
results['sample HR 8x96x96, warm cache'] = await time('sample HR batch 8 x 96^2, warm cache', 20, async () => {
  (await warm.sample(8)).dispose();
});

const hr = toFloat(await readImage(path.join(data, 'val', 'hr', 'eagle.png')));
results['degradeFloat 768x508 blur 1.2 x4 noise 8'] = await time('degradeFloat 768x508, blur 1.2, x1/4, noise 8', 5, () => {
  degradeFloat(hr, { scale: 4, blur: 1.2, noise: 8 }, new Rng(1));
});

const out = process.argv.includes('--out') ? process.argv[process.argv.indexOf('--out') + 1] : undefined;
if (out) {
  const record = {
    date: new Date().toISOString(),
    machine: `${os.cpus().length} x ${os.cpus()[0]?.model}, node ${process.version}`,
    loadavg: os.loadavg(),
    command: 'node --import tsx bench/data-bench.ts --out ' + out,
    results_ms: results,
  };
  writeFileSync(out, JSON.stringify(record, null, 2) + '\n');
}
