import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../../src/engine/backend.js';
import { loadModel } from '../../src/nn/serialize-node.js';
import { loadCheckpoint } from '../../src/train/checkpoint.js';
import { readLog } from '../../src/train/log.js';
import { runPaths } from '../../src/train/run-dir.js';
import { train } from '../../src/train/train.js';
import { repoRoot } from '../helpers/cli.js';
import { checkpointValues, tempRun, tinyConfig } from '../helpers/train.js';

const demo = path.join(repoRoot, 'assets/demo');



for (const solver of ['ots', 'gan'] as const) {
  test(`a few ${solver} steps on real photos write checkpoint, log, samples and a loadable model`, async () => {
    await initBackend('wasm');
    const out = await tempRun();
    const before = tf.memory().numTensors;
    const result = await train(tinyConfig({ solver, valLr: path.join(demo, 'val/lr'), valHr: path.join(demo, 'val/hr') }), out);
    assert.equal(tf.memory().numTensors, before, 'no tensor leaks over a whole run');
    assert.equal(result.status, 'done');
    assert.equal(result.steps, 4);
    const p = runPaths(out);
    const log = await readLog(p.log);
    assert.deepEqual(log.filter((r) => r.type === 'train').map((r) => r.step), [1, 2, 3, 4]);
    const val = log.filter((r) => r.type === 'val');
    assert.equal(val.length, 3); // before training, at 2 and at 4
    for (const r of val) assert.ok(r.type === 'val' && r.metrics.psnr! > 10 && r.metrics.ssim! > 0);
    assert.deepEqual(await fs.readdir(p.samples), ['step-0000000.png', 'step-0000002.png', 'step-0000004.png']);
    const loaded = await loadModel(p.model, { upsampler: (await import('../../src/image/resize-tensor.js')).upsampleBicubic });
    assert.equal(loaded.manifest.scale, 4);
    const y = loaded.module.apply(tf.zeros([1, 5, 6, 3]));
    assert.deepEqual(y.shape, [1, 20, 24, 3]);
    tf.dispose(y);
    loaded.module.dispose();
  });
}

test('resuming from a checkpoint gives the same weights as an uninterrupted run', async () => {
  await initBackend('wasm');
  const straight = await tempRun();
  await train(tinyConfig({ steps: 4 }), straight);
  const split = await tempRun();
  await train(tinyConfig({ steps: 2 }), split);
  const resumed = await train(tinyConfig({ steps: 4 }), split, { resume: true });
  assert.equal(resumed.steps, 4);
  const [a, b] = [await checkpointValues(straight), await checkpointValues(split)];
  assert.deepEqual([...a.keys()].sort(), [...b.keys()].sort());
  for (const [name, va] of a) assert.deepEqual(b.get(name), va, `tensor ${name} differs after resume`);
  const log = await readLog(runPaths(split).log);
  assert.deepEqual(log.filter((r) => r.type === 'train').map((r) => r.step), [1, 2, 3, 4]);
});

test('pretraining: L1 steps on synthetic pairs first, then OTS measured from the pretrained map; resume across the switch is exact', async () => {
  await initBackend('wasm');
  const config = (steps: number) => tinyConfig({ steps, pretrainSteps: 2, pretrainLearningRate: 1e-3, degradation: 'blind', checkpointEvery: 1 });
  const straight = await tempRun();
  const before = tf.memory().numTensors;
  await train(config(4), straight);
  assert.equal(tf.memory().numTensors, before, 'no tensor leaks over a run with pretraining');
  const log = (await readLog(runPaths(straight).log)).filter((r) => r.type === 'train');
  assert.deepEqual(log.map((r) => Object.keys(r.type === 'train' ? r.losses : {}).sort()), [['paired'], ['paired'], ['cost', 'map', 'potential'], ['cost', 'map', 'potential']]);
  const values = await checkpointValues(straight);
  // The cost's reference is the map as it was after pretraining: a frozen copy in the checkpoint.
  assert.ok(values.has('cost/head.w'), [...values.keys()].join(' '));
  assert.notDeepEqual(values.get('cost/head.w'), values.get('map/head.w'), 'the map moved on from its pretrained copy');

  // Stopped after the first pretraining step, and again at the switch: the same run in the end.
  const split = await tempRun();
  await train(config(1), split);
  await train(config(2), split, { resume: true });
  const resumed = await train(config(4), split, { resume: true });
  assert.equal(resumed.steps, 4);
  const other = await checkpointValues(split);
  assert.deepEqual([...other.keys()].sort(), [...values.keys()].sort());
  for (const [name, v] of values) assert.deepEqual(other.get(name), v, `tensor ${name} differs after resume`);
  const fresh = await tempRun();
  await assert.rejects(train(config(4), split, { resume: false }), /already holds a run/);
  await train({ ...config(2), pretrainSteps: 3 }, fresh);
  await assert.rejects(train(config(4), fresh, { resume: true }), /cannot resume .*--pretrain-steps was 3 .*now 2/);
});

test('--init: the map starts from a saved model and the cost measures from it, in one thread and on 2 workers; another architecture is refused before anything is written', async () => {
  await initBackend('wasm');
  const source = await tempRun();
  await train(tinyConfig({ steps: 2 }), source);
  const init = runPaths(source).model;
  const loaded = await loadModel(init, { upsampler: (await import('../../src/image/resize-tensor.js')).upsampleBicubic });
  const initValues = new Map([...loaded.module.params].map(([name, v]) => [name, v.dataSync() as Float32Array]));
  loaded.module.dispose();
  const runs: Map<string, Float32Array>[] = [];
  for (const workers of [1, 2]) {
    const run = await tempRun();
    const before = tf.memory().numTensors;
    await train(tinyConfig({ steps: 1, seed: 7, init, workers, checkpointEvery: 1 }), run);
    assert.equal(tf.memory().numTensors, before, 'no tensor leaks');
    const values = await checkpointValues(run);
    for (const [name, v] of initValues) {
      assert.deepEqual(values.get(`cost/${name}`), v, `the cost's reference ${name} is the --init model's`);
      // One outer step is kMap = 2 Adam updates of at most ~lr (1e-3) each: the map is still next to the model.
      const map = values.get(`map/${name}`)!;
      const far = Math.max(...map.map((m, i) => Math.abs(m - v[i]!)));
      assert.ok(far < 1e-2, `map ${name} is ${far} away from the --init model after one step`);
    }
    runs.push(values);
    await train(tinyConfig({ steps: 2, seed: 7, init, workers, checkpointEvery: 1 }), run, { resume: true });
    await assert.rejects(train(tinyConfig({ steps: 3, seed: 7, workers }), run, { resume: true }), /cannot resume .*--init was/);
  }
  for (const [name, v] of runs[0]!) {
    const w = runs[1]!.get(name)!;
    assert.ok(v.every((a, i) => Math.abs(a - w[i]!) <= 1e-4 * Math.max(1, Math.abs(a))), `${name}: one thread and 2 workers differ`);
  }
  const refused = await tempRun();
  await assert.rejects(
    train(tinyConfig({ init, map: { ...tinyConfig().map, nFeats: 8 } as never }), refused),
    /--init .*architecture .* is not the run's map/,
  );
  await assert.rejects(fs.stat(refused), /ENOENT/, 'a refused start writes nothing');
});

test('cancelling saves a checkpoint at the current step; a second start without --resume is refused', async () => {
  await initBackend('wasm');
  const out = await tempRun();
  const controller = new AbortController();
  const etas: number[] = [];
  const result = await train(tinyConfig({ steps: 1_000_000, checkpointEvery: 100 }), out, {
    signal: controller.signal,
    timeLimitSeconds: 3600,
    onProgress: (e) => {
      etas.push(e.etaSeconds);
      if (e.done === 1) controller.abort();
    },
  });
  assert.equal(result.status, 'cancelled');
  // A million steps would take days; the one-hour budget ends the run first, and the ETA says so.
  assert.ok(etas.every((eta) => eta <= 3600), `ETA beyond the time budget: ${etas.join(', ')}`);
  assert.equal(result.steps, 1);
  const ckpt = await loadCheckpoint(runPaths(out).checkpoint);
  assert.equal((ckpt.state as { step: number }).step, 1);
  tf.dispose([...ckpt.tensors.values()]);
  await assert.rejects(train(tinyConfig(), out), /already holds a run.*--resume/);
  await assert.rejects(train(tinyConfig({ batch: 3 }), out, { resume: true }), /cannot resume.*batch/);
});

test('a diverging run stops with a message and keeps the last good checkpoint', async () => {
  await initBackend('wasm');
  const out = await tempRun();
  await assert.rejects(
    train(tinyConfig({ steps: 30, learningRate: 1e12, checkpointEvery: 1 }), out),
    /training diverged at step (\d+).*last good checkpoint \(step \d+\)/,
  );
  const ckpt = await loadCheckpoint(runPaths(out).checkpoint);
  for (const [name, t] of ckpt.tensors) {
    assert.ok((await t.data()).every(Number.isFinite), `checkpoint tensor ${name} is not finite`);
  }
  tf.dispose([...ckpt.tensors.values()]);
});
