/**
 * Exports the transport cost's frozen reference map of a run (after pretraining: the pretrained map, as it was
 * when the solver started) as a model folder, so that what the solver stage changed can be evaluated beside it:
 *
 *     node --import tsx scripts/reference-model.ts runs/NAME OUT_DIR
 *
 * The reference is in the run's checkpoint (`cost/*` tensors) once pretraining has ended or the cost has been
 * refreshed (--refresh-every); before that the reference is bicubic and there is nothing to export.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../src/engine/backend.js';
import { upsampleBicubic } from '../src/image/resize-tensor.js';
import { buildModule } from '../src/nn/registry.js';
import { saveModel } from '../src/nn/serialize-node.js';
import { assignChecked } from '../src/ot/adam.js';
import { loadCheckpoint } from '../src/train/checkpoint.js';
import type { TrainConfig } from '../src/train/config.js';

const [run, out] = process.argv.slice(2);
if (!run || !out) {
  process.stderr.write('usage: node --import tsx scripts/reference-model.ts runs/NAME OUT_DIR\n');
  process.exit(2);
}
await initBackend('wasm', { gradients: false });
const config = JSON.parse(await fs.readFile(path.join(run, 'config.json'), 'utf8')) as TrainConfig;
const ckpt = await loadCheckpoint(path.join(run, 'checkpoint.otsr'));
const state = ckpt.state as { step: number; costRefreshedAt: number | null };
if (state.costRefreshedAt === null) {
  process.stderr.write(`${run}: the cost still measures from bicubic (no reference map in the checkpoint)\n`);
  process.exit(1);
}
const map = buildModule(config.map, { upsampler: (x: tf.Tensor4D, s: number) => upsampleBicubic(x, s) });
for (const [name, v] of map.params) {
  const t = ckpt.tensors.get(`cost/${name}`);
  if (!t) throw new Error(`the checkpoint lacks cost/${name}`);
  assignChecked(v, t, name);
}
await saveModel(out, map, {
  scale: config.scale,
  training: { ...config, steps: state.costRefreshedAt, note: `the cost's reference of ${run} (frozen at step ${state.costRefreshedAt})` } as unknown as Record<string, unknown>,
});
tf.dispose([...ckpt.tensors.values()]);
map.dispose();
process.stdout.write(`${out}: the reference map frozen at step ${state.costRefreshedAt} (checkpoint at step ${state.step})\n`);
