import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../../src/engine/backend.js';
import { loadCheckpoint } from '../../src/train/checkpoint.js';
import type { TrainConfig } from '../../src/train/config.js';
import { readLog } from '../../src/train/log.js';
import { type LogRecord, runPaths } from '../../src/train/run-dir.js';
import { train } from '../../src/train/train.js';
import { repoRoot } from '../helpers/cli.js';
import { checkpointValues, tempRun as newRun, tinyConfig as oneThreadConfig } from '../helpers/train.js';

// `train` with workers: the same run as in one thread up to float rounding, identical numbers for the same seed
// and worker count, exact resume, and the loop's duties (checkpoints, samples, validation, Ctrl-C, the NaN stop).

const trainLosses = (log: LogRecord[]): Record<string, number>[] => log.flatMap((r) => (r.type === 'train' ? [r.losses] : []));

const demo = path.join(repoRoot, 'assets/demo');
/** The one-thread tiny run, on 2 workers and a batch of 3 (split 2 + 1). */
const tinyConfig = (overrides: Partial<TrainConfig> = {}): TrainConfig => oneThreadConfig({ batch: 3, workers: 2, ...overrides });
const tempRun = () => newRun('otsr-train-workers-');

before(async () => {
  await initBackend('wasm');
});

const variants: { name: string; config: Partial<TrainConfig> }[] = [
  { name: 'ots', config: { solver: 'ots' } },
  { name: 'ots with an R1-penalised potential', config: { solver: 'ots', potentialPenalty: 0.5 } },
  { name: 'ots with a map average (EMA)', config: { solver: 'ots', emaDecay: 0.5 } },
  { name: 'gan', config: { solver: 'gan' } },
];
for (const { name, config } of variants) {
  test(`${name} on 2 workers (3 images a batch: 2 + 1) follows the one-thread run, with samples, validation and model`, async () => {
    const val = { valLr: path.join(demo, 'val/lr'), valHr: path.join(demo, 'val/hr') };
    const [one, two] = [await tempRun(), await tempRun()];
    await train(tinyConfig({ ...config, workers: 1, ...val }), one);
    const before = tf.memory().numTensors;
    const messages: string[] = [];
    const result = await train(tinyConfig({ ...config, ...val }), two, { onMessage: (m) => messages.push(m) });
    assert.equal(tf.memory().numTensors, before, 'no tensor leaks on the main thread');
    assert.equal(result.status, 'done');
    assert.equal(result.workers, 2);
    assert.ok(messages.includes('training on 2 worker threads'), messages.join('\n'));
    assert.equal(JSON.parse(await fs.readFile(runPaths(two).config, 'utf8')).workers, 2);

    const [logOne, logTwo] = [await readLog(runPaths(one).log), await readLog(runPaths(two).log)];
    const [a, b] = [trainLosses(logOne), trainLosses(logTwo)];
    assert.equal(b.length, 4);
    assert.equal('gp' in b[0]!, config.solver === 'gan' || config.potentialPenalty !== undefined, 'the penalty is logged where there is one');
    // The same batches and the same updates: only the order of float sums differs.
    for (let i = 0; i < a.length; i++) {
      for (const [k, v] of Object.entries(a[i]!)) {
        const w = b[i]![k]!;
        assert.ok(Math.abs(v - w) <= 1e-4 * Math.max(1, Math.abs(v)), `step ${i + 1} ${k}: ${v} in one thread, ${w} on 2 workers`);
      }
    }
    const valTwo = logTwo.filter((r) => r.type === 'val');
    assert.equal(valTwo.length, 3);
    const valOne = logOne.filter((r) => r.type === 'val');
    // Validation runs on the main thread's copy of the map, brought up to date from the workers.
    for (let i = 0; i < 3; i++) {
      const [p1, p2] = [valOne[i]!, valTwo[i]!].map((r) => (r.type === 'val' ? r.metrics.psnr! : NaN));
      assert.ok(Math.abs(p1! - p2!) < 1e-3, `validation ${i}: PSNR ${p1} vs ${p2}`);
    }
    // With an average, validation after the first solver step shows it, and the training weights' own beside it.
    assert.deepEqual(valTwo.map((r) => r.type === 'val' && r.raw !== undefined), [false, config.emaDecay !== undefined, config.emaDecay !== undefined]);
    assert.deepEqual(await fs.readdir(runPaths(two).samples), ['step-0000000.png', 'step-0000002.png', 'step-0000004.png']);
    // The exported model is the workers' map, or its average.
    const [ckpt, model] = [await checkpointValues(two), JSON.parse(await fs.readFile(path.join(runPaths(two).model, 'model.json'), 'utf8'))];
    assert.ok(model.format);
    const weights = await fs.readFile(path.join(runPaths(two).model, 'group1-shard1of1.bin'));
    const head = ckpt.get(config.emaDecay !== undefined ? 'mapAverage/head.w' : 'map/head.w')!;
    if (config.emaDecay !== undefined) assert.notDeepEqual(head, ckpt.get('map/head.w'), 'the average is not the map');
    assert.equal([...ckpt.keys()].some((k) => k.startsWith('mapAverage/')), config.emaDecay !== undefined);
    const exported = new Float32Array(weights.buffer.slice(weights.byteOffset, weights.byteOffset + head.byteLength));
    assert.deepEqual(exported, head);
  });
}

test('2 workers: Ctrl-C saves a checkpoint; the resumed run equals an uninterrupted one (OTS, refreshed reference, map average); another count is refused', async () => {
  const config = (steps: number, more: Partial<TrainConfig> = {}) => tinyConfig({ steps, refreshEvery: 2, emaDecay: 0.5, ...more });
  const straight = await tempRun();
  await train(config(4), straight);
  const split = await tempRun();
  const controller = new AbortController();
  const cancelled = await train(config(4, { checkpointEvery: 100 }), split, {
    signal: controller.signal,
    onProgress: (e) => {
      if (e.done === 2) controller.abort();
    },
  });
  assert.equal(cancelled.status, 'cancelled');
  assert.equal(cancelled.steps, 2);
  const ckpt = await loadCheckpoint(runPaths(split).checkpoint);
  assert.equal((ckpt.state as { step: number }).step, 2);
  tf.dispose([...ckpt.tensors.values()]);
  await assert.rejects(train(config(4, { workers: 3 }), split, { resume: true }), /cannot resume .*started with --workers 2 .*now 3/);
  await assert.rejects(train(config(4, { workers: 1 }), split, { resume: true }), /--workers 2/);
  // Not given: the run's own count.
  const resumed = await train(config(4, { workers: undefined }), split, { resume: true });
  assert.equal(resumed.workers, 2);
  assert.equal(resumed.steps, 4);
  const [a, b] = [await checkpointValues(straight), await checkpointValues(split)];
  assert.deepEqual([...a.keys()].sort(), [...b.keys()].sort());
  assert.ok([...a.keys()].some((k) => k.startsWith('cost/')), 'the refreshed reference is in the checkpoint');
  assert.ok([...a.keys()].some((k) => k.startsWith('mapAverage/')), 'the map average is in the checkpoint');
  for (const [name, va] of a) assert.deepEqual(b.get(name), va, `tensor ${name} differs after resume`);
  assert.deepEqual(trainLosses(await readLog(runPaths(split).log)), trainLosses(await readLog(runPaths(straight).log)));
});

test('2 workers with pretraining follow the one-thread run, and resume across the switch is exact', async () => {
  const config = (steps: number, more: Partial<TrainConfig> = {}) =>
    tinyConfig({ steps, pretrainSteps: 2, pretrainLearningRate: 1e-3, checkpointEvery: 1, ...more });
  const [one, two, split] = [await tempRun(), await tempRun(), await tempRun()];
  await train(config(3, { workers: 1 }), one);
  await train(config(3), two);
  const [a, b] = [trainLosses(await readLog(runPaths(one).log)), trainLosses(await readLog(runPaths(two).log))];
  assert.deepEqual(b.map((l) => Object.keys(l).sort()), [['paired'], ['paired'], ['cost', 'map', 'potential']]);
  for (let i = 0; i < a.length; i++) {
    for (const [k, v] of Object.entries(a[i]!)) {
      const w = b[i]![k]!;
      assert.ok(Math.abs(v - w) <= 1e-4 * Math.max(1, Math.abs(v)), `step ${i + 1} ${k}: ${v} in one thread, ${w} on 2 workers`);
    }
  }
  await train(config(1), split);
  await train(config(3), split, { resume: true });
  const [x, y] = [await checkpointValues(two), await checkpointValues(split)];
  assert.ok(x.has('cost/head.w'), 'the pretrained reference is in the checkpoint');
  for (const [name, v] of x) assert.deepEqual(y.get(name), v, `tensor ${name} differs after resume`);
});

test('2 workers: a diverging run stops with a message and keeps the last good checkpoint', async () => {
  const diverging = await tempRun();
  await assert.rejects(
    train(tinyConfig({ steps: 30, learningRate: 1e12, checkpointEvery: 1 }), diverging),
    /training diverged at step (\d+).*last good checkpoint \(step \d+\)/,
  );
  for (const [name, v] of await checkpointValues(diverging)) assert.ok(v.every(Number.isFinite), `checkpoint tensor ${name} is not finite`);
});

test('--workers above the batch size is refused in one line', async () => {
  await assert.rejects(train(tinyConfig({ workers: 4 }), await tempRun()), /--workers 4 must be an integer from 1 to --batch 3/);
});
