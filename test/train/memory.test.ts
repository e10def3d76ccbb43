import assert from 'node:assert/strict';
import path from 'node:path';
import { after, test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../../src/engine/backend.js';
import { train } from '../../src/train/train.js';
import { repoRoot } from '../helpers/cli.js';
import { tempDir } from '../helpers/images.js';
import { memoryAfterGc } from '../helpers/memory.js';

const tmp = tempDir('otsr-train-memory-');
after(tmp.cleanup);
const demo = path.join(repoRoot, 'assets/demo');

/**
 * 1000 steps of the real training loop (image folders, cache, solver, log, checkpoints, samples) with
 * networks small enough to take ~30 ms a step on wasm. Three measures:
 * - TF.js tensors and their bytes: exactly flat after the first step (the optimizers' slots appear then);
 * - live JS memory (heap + external memory after a forced GC): within 2 MB of step 100, where ~0.5 MB is the
 *   noise seen here; a leak of 2 KB a step (one loss record, one crop) would pass that over 900 steps;
 * - RSS: within 96 MB. RSS is a blunt tool: V8 keeps or returns freed pages at its own pace (swings of
 *   ±40 MB were seen here over this very run), the wasm heap only grows in pages, and libvips keeps an
 *   operation cache of up to ~50 MB. It catches native leaks of ~100 KB a step, nothing finer.
 */
test('1000 training steps: tensors exactly flat, live memory and RSS flat after warm-up', { timeout: 300_000 }, async (t) => {
  await initBackend('wasm');
  const tensors: number[] = [];
  const bytes: number[] = [];
  const samples = new Map<number, { live: number; rss: number }>();
  const result = await train(
    {
      lr: [path.join(demo, 'lr')],
      hr: [path.join(demo, 'hr')],
      scale: 2,
      solver: 'ots',
      lambda: 10,
      steps: 1000,
      crop: 8,
      batch: 1,
      map: { kind: 'edsr', nResBlocks: 1, nFeats: 4, resScale: 1, scale: 2, skip: 'upsample' },
      potential: { kind: 'critic', size: 8, nFeats: 2, maxFeats: 4, resRatio: 0.1 },
      learningRate: 1e-4,
      kMap: 1,
      nCritic: 1,
      refreshEvery: 0,
      seed: 1,
      checkpointEvery: 250,
      sampleEvery: 500,
      cacheMB: 16,
    },
    path.join(tmp.dir, 'run'),
    {
      onProgress: (e) => {
        if (e.done === 0) return;
        tensors.push(tf.memory().numTensors);
        bytes.push(tf.memory().numBytes);
        if (e.done % 100 === 0) samples.set(e.done, memoryAfterGc());
      },
    },
  );
  assert.equal(result.steps, 1000);
  assert.equal(tensors.length, 1000);
  assert.deepEqual(new Set(tensors), new Set([tensors[0]]), 'tensor count changed between steps');
  assert.deepEqual(new Set(bytes), new Set([bytes[0]]), 'tensor bytes changed between steps');
  const base = samples.get(100)!;
  for (const [step, m] of samples) {
    t.diagnostic(`step ${step}: live ${m.live.toFixed(2)} MB, rss ${m.rss.toFixed(0)} MB, ${tensors[step - 1]} tensors`);
    if (step < 100) continue;
    assert.ok(m.live - base.live < 2, `live JS memory grew by ${(m.live - base.live).toFixed(2)} MB from step 100 to ${step}`);
    assert.ok(m.rss - base.rss < 96, `RSS grew by ${(m.rss - base.rss).toFixed(0)} MB from step 100 to ${step}`);
  }
});
