import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { createTask, type TrainTaskOptions } from '../../../src/bench/train-tasks.js';
import { initBackend } from '../../../src/engine/backend.js';
import { DataParallel, type ParallelState, shardRange, siblingModule } from '../../../src/engine/parallel/index.js';
import { Rng } from '../../../src/util/rng.js';

const TASK_URL = siblingModule(new URL('../../../src/bench/x', import.meta.url).href, 'train-tasks');
const EDSR: TrainTaskOptions = { kind: 'edsr-l1', edsr: { nResBlocks: 1, nFeats: 8, scale: 2 }, seed: 3, lr: 1e-3 };
const OTS: TrainTaskOptions = { kind: 'ots', edsr: { nResBlocks: 1, nFeats: 8, scale: 2 }, critic: { size: 12, nFeats: 4 }, seed: 5, lr: 1e-3 };

/** Fixed batches: LR [B,6,6,3], HR [B,12,12,3]. */
function batches(count: number, b: number) {
  const rng = new Rng(11);
  return Array.from({ length: count }, () => ({
    lr: { data: rng.normals(b * 6 * 6 * 3, 0.5), shape: [b, 6, 6, 3] },
    hr: { data: rng.normals(b * 12 * 12 * 3, 0.5), shape: [b, 12, 12, 3] },
  }));
}

async function trainInPool(
  workers: number,
  task: TrainTaskOptions,
  steps: number,
  b = 4,
  microBatch = 0,
): Promise<{ losses: number[]; states: ParallelState[] }> {
  const pool = await DataParallel.start({ workers, task: { url: TASK_URL, options: task }, microBatch });
  try {
    const losses: number[] = [];
    for (const { lr, hr } of batches(steps, b)) {
      if (task.kind === 'edsr-l1') losses.push((await pool.step('step', { lr, hr })).loss);
      else {
        losses.push((await pool.step('map', { x: lr })).loss);
        losses.push((await pool.step('potential', { x: lr, y: hr })).loss);
      }
    }
    return { losses, states: await pool.readAllStates() };
  } finally {
    await pool.close();
  }
}

function assertSameState(a: ParallelState, b: ParallelState, what: string): void {
  assert.deepEqual(Object.keys(a.values).sort(), Object.keys(b.values).sort());
  for (const [k, v] of Object.entries(a.values)) assert.deepEqual(b.values[k], v, `${what}: ${k} differs`);
  assert.deepEqual(a.counters, b.counters);
}

describe('DataParallel', () => {
  before(async () => {
    await initBackend('wasm');
  });

  test('shardRange splits rows contiguously', () => {
    assert.deepEqual([0, 1, 2].map((r) => shardRange(8, r, 3)), [[0, 2], [2, 5], [5, 8]]);
    assert.deepEqual(shardRange(8, 0, 1), [0, 8]);
  });

  /** The steps in this thread, on the whole batch: the single-threaded reference. */
  function trainHere(steps: number): { losses: number[]; state: ParallelState } {
    const task = createTask(EDSR);
    const losses: number[] = [];
    for (const { lr, hr } of batches(steps, 4)) {
      const step = task.steps.step!;
      const batch = { lr: tf.tensor(lr.data, lr.shape), hr: tf.tensor(hr.data, hr.shape) };
      const { value, grads } = tf.variableGrads(() => step.loss(batch) as tf.Scalar, [...step.params.values()]);
      step.update(grads);
      losses.push(value.dataSync()[0]!);
      tf.dispose([value, ...Object.values(grads), ...Object.values(batch)]);
    }
    const { tensors, counters } = task.getState();
    const values: Record<string, Float32Array> = {};
    const shapes: Record<string, number[]> = {};
    for (const [k, t] of Object.entries(tensors)) {
      values[k] = t.dataSync() as Float32Array;
      shapes[k] = t.shape;
    }
    tf.dispose(Object.values(tensors));
    task.dispose();
    return { losses, state: { values, shapes, counters } };
  }

  test('one worker reproduces the in-process step bit for bit', async () => {
    const { losses, states } = await trainInPool(1, EDSR, 3);
    const here = trainHere(3);
    assert.deepEqual(losses, here.losses);
    assertSameState(states[0]!, here.state, 'pool vs here');
  });

  test('micro-batches (3 + 1 rows) give the whole-batch update up to rounding', async () => {
    const { losses, states } = await trainInPool(1, EDSR, 3, 4, 3);
    const here = trainHere(3);
    for (let i = 0; i < 3; i++) assert.ok(Math.abs(here.losses[i]! - losses[i]!) < 1e-5, `loss ${i}: ${here.losses[i]} vs ${losses[i]}`);
    let d = 0;
    for (const [k, w] of Object.entries(here.state.values)) {
      const v = states[0]!.values[k]!;
      for (let i = 0; i < w.length; i++) d = Math.max(d, Math.abs(w[i]! - v[i]!));
    }
    assert.ok(d < 1e-5, `weights differ by ${d}`);
  });

  test('two workers: bit-identical weights, the same numbers again from the same state, close to one thread', async () => {
    const pool = await DataParallel.start({ workers: 2, task: { url: TASK_URL, options: EDSR } });
    try {
      const s0 = await pool.readState();
      const run = async () => {
        const losses: number[] = [];
        for (const { lr, hr } of batches(3, 4)) {
          losses.push((await pool.step('step', { lr, hr })).loss);
          const [w0, w1] = await pool.readAllStates();
          assertSameState(w0!, w1!, `after step ${losses.length}`);
        }
        return { losses, state: await pool.readState() };
      };
      const a = await run();
      await pool.writeState(s0);
      for (const s of await pool.readAllStates()) assertSameState(s, s0, 'restored');
      const b = await run();
      assert.deepEqual(b.losses, a.losses);
      assertSameState(b.state, a.state, 'run 1 vs run 2');

      const here = trainHere(3);
      for (let i = 0; i < 3; i++) assert.ok(Math.abs(here.losses[i]! - a.losses[i]!) < 1e-5, `loss ${i}: ${here.losses[i]} vs ${a.losses[i]}`);
      let d = 0;
      for (const [k, w] of Object.entries(here.state.values)) {
        const v = a.state.values[k]!;
        for (let i = 0; i < w.length; i++) d = Math.max(d, Math.abs(w[i]! - v[i]!));
      }
      assert.ok(d < 1e-5, `weights differ from one thread's by ${d}`);
      // The weights did move.
      assert.notDeepEqual(s0.values['map/head.w'], a.state.values['map/head.w']);

      // Every step says where its time went: one entry per worker, no negative phase.
      const { timeline } = await pool.step('step', batches(1, 4)[0]!);
      assert.equal(timeline.workers.length, 2);
      assert.ok(timeline.begin <= timeline.posted && timeline.posted <= timeline.end);
      for (const w of timeline.workers) {
        for (const k of ['input', 'compute', 'gradCopy', 'wait', 'reduce', 'wait2', 'update'] as const) assert.ok(w[k] >= 0, `${k} ${w[k]}`);
        assert.ok(w.end >= w.begin);
      }

      const [{ lr, hr }] = batches(1, 4);
      await assert.rejects(pool.step('nope', { lr: lr! }), /unknown step 'nope'/);
      await assert.rejects(pool.step('step', { lr: { data: lr!.data.subarray(0, 108), shape: [1, 6, 6, 3] } }), /cannot be split over 2/);
      // A failing step in the workers rejects instead of hanging at the barrier.
      await assert.rejects(pool.step('step', { lr: lr!, hr: { data: lr!.data, shape: lr!.shape } }), /worker/);
      void hr;
    } finally {
      await pool.close();
    }
  });

  test('OTS map and potential steps with an uneven split (3 rows on 2 workers) stay identical', async () => {
    const { losses, states } = await trainInPool(2, OTS, 2, 3);
    assert.equal(losses.length, 4);
    for (const l of losses) assert.ok(Number.isFinite(l));
    assertSameState(states[0]!, states[1]!, 'worker 0 vs 1');
    assert.equal(states[0]!.counters.mapOptimizerT, 2);
    assert.equal(states[0]!.counters.potentialOptimizerT, 2);
  });
});
