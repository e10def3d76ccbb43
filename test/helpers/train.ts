import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { loadCheckpoint } from '../../src/train/checkpoint.js';
import { MAP_PRESETS, POTENTIAL_PRESETS, type TrainConfig } from '../../src/train/config.js';
import { runPaths } from '../../src/train/run-dir.js';
import { repoRoot } from './cli.js';

const demo = path.join(repoRoot, 'assets/demo');

/** A training run of a few seconds on the bundled demo photos (tiny map and potential, 16-pixel crops). */
export function tinyConfig(overrides: Partial<TrainConfig> = {}): TrainConfig {
  const crop = 16;
  return {
    lr: [path.join(demo, 'lr')],
    hr: [path.join(demo, 'hr')],
    scale: 4,
    solver: 'ots',
    lambda: 10,
    steps: 4,
    crop,
    batch: 2,
    map: MAP_PRESETS.tiny!(4),
    potential: POTENTIAL_PRESETS.tiny!(crop),
    learningRate: 1e-3,
    kMap: 2,
    nCritic: 2,
    refreshEvery: 0,
    seed: 3,
    checkpointEvery: 2,
    sampleEvery: 2,
    cacheMB: 64,
    ...overrides,
  };
}

/** A fresh, not yet existing run folder under the system temp folder. */
export async function tempRun(prefix = 'otsr-train-'): Promise<string> {
  return path.join(await fs.mkdtemp(path.join(os.tmpdir(), prefix)), 'run');
}

/** Every tensor of a run's checkpoint, by name. */
export async function checkpointValues(dir: string): Promise<Map<string, Float32Array>> {
  const ckpt = await loadCheckpoint(runPaths(dir).checkpoint);
  const out = new Map<string, Float32Array>();
  for (const [name, t] of ckpt.tensors) out.set(name, (await t.data()) as Float32Array);
  tf.dispose([...ckpt.tensors.values()]);
  return out;
}
