/**
 * Exports one set of map weights from a run's checkpoint as a model folder, to evaluate what a run did not
 * export: with --ema-decay a run exports the average, and this gives its training weights (`map/`), which are
 * bit-identical to those of the same run without an average (the average never feeds back into training).
 *
 *     node --import tsx bench/export-weights.ts RUN_DIR OUT_MODEL_DIR [map/|mapAverage/]
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../src/engine/backend.js';
import { upsampleBicubic } from '../src/image/resize-tensor.js';
import { buildModule } from '../src/nn/registry.js';
import { saveModel } from '../src/nn/serialize-node.js';
import { loadCheckpoint } from '../src/train/checkpoint.js';
import type { TrainConfig } from '../src/train/config.js';
import { runPaths } from '../src/train/run-dir.js';

const [run, out, prefix = 'map/'] = process.argv.slice(2);
if (!run || !out) throw new Error('usage: bench/export-weights.ts RUN_DIR OUT_MODEL_DIR [map/|mapAverage/]');
await initBackend('wasm');
const paths = runPaths(run);
const config = JSON.parse(readFileSync(paths.config, 'utf8')) as TrainConfig;
const ckpt = await loadCheckpoint(paths.checkpoint);
const map = buildModule(config.map, { upsampler: (x: tf.Tensor4D, s: number) => upsampleBicubic(x, s) });
for (const [name, v] of map.params) {
  const t = ckpt.tensors.get(`${prefix}${name}`);
  if (!t) throw new Error(`${paths.checkpoint} has no ${prefix}${name}`);
  v.assign(t);
}
const step = (ckpt.state as { step: number }).step;
await saveModel(out, map, { scale: config.scale, training: { ...config, steps: step, exported: `${prefix} of ${path.resolve(run)}` } as unknown as Record<string, unknown> });
process.stdout.write(`${out}: ${prefix} weights of ${run} at step ${step}\n`);
