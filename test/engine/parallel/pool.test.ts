import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
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

async function trainInPool(workers: number, task: TrainTaskOptions, steps: number, b = 4): Promise<{ losses: number[]; states: ParallelState[] }> {
  const pool = await DataParallel.start({ workers, task: { url: TASK_URL, options: task } });
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
  after(() => undefined);

  test('shardRange splits rows contiguously', () => {
    assert.deepEqual([0, 1, 2].map((r) => shardRange(8, r, 3)), [[0, 2], [2, 5], [5, 8]]);
    assert.deepEqual(shardRange(8, 0, 1), [0, 8]);
  });

  test('one worker reproduces the in-process step bit for bit', async () => {
    const { losses, states } = await trainInPool(1, EDSR, 3);
    const task = createTask(EDSR);
    const here: number[] = [];
    for (const { lr, hr } of batches(3, 4)) {
      const step = task.steps.step!;
      const batch = { lr: tf.tensor(lr.data, lr.shape), hr: tf.tensor(hr.data, hr.shape) };
      const { value, grads } = tf.variableGrads(() => step.loss(batch) as tf.Scalar, [...step.params.values()]);
      step.update(grads);
      here.push(value.dataSync()[0]!);
      tf.dispose([value, ...Object.values(grads), ...Object.values(batch)]);
    }
    assert.deepEqual(losses, here.map((x) => Math.fround(x)));
    const { tensors } = task.getState();
    for (const [k, t] of Object.entries(tensors)) assert.deepEqual(states[0]!.values[k], t.dataSync(), k);
    tf.dispose(Object.values(tensors));
    task.dispose();
  });

  test('two workers hold bit-identical weights after every step, the same on every run, close to one worker', async () => {
    const a = await trainInPool(2, EDSR, 3);
    assertSameState(a.states[0]!, a.states[1]!, 'worker 0 vs 1');
    const b = await trainInPool(2, EDSR, 3);
    assert.deepEqual(b.losses, a.losses);
    assertSameState(a.states[0]!, b.states[0]!, 'run 1 vs run 2');
    const one = await trainInPool(1, EDSR, 3);
    for (let i = 0; i < 3; i++) assert.ok(Math.abs(one.losses[i]! - a.losses[i]!) < 1e-5, `loss ${i}: ${one.losses[i]} vs ${a.losses[i]}`);
    const w1 = one.states[0]!.values['map/head.w']!;
    const w2 = a.states[0]!.values['map/head.w']!;
    let d = 0;
    for (let i = 0; i < w1.length; i++) d = Math.max(d, Math.abs(w1[i]! - w2[i]!));
    assert.ok(d < 1e-5, `head.w differs by ${d}`);
    assert.ok(d > 0 || a.losses.length > 0);
    // The weights did move.
    const init = createTask(EDSR);
    const w0 = init.getState();
    assert.notDeepEqual(w0.tensors['map/head.w']!.dataSync(), w2);
    tf.dispose(Object.values(w0.tensors));
    init.dispose();
  });

  test('OTS map and potential steps on 3 workers with an uneven split stay identical', async () => {
    const { losses, states } = await trainInPool(3, OTS, 2, 5);
    assert.equal(losses.length, 4);
    for (const l of losses) assert.ok(Number.isFinite(l));
    assertSameState(states[0]!, states[1]!, 'worker 0 vs 1');
    assertSameState(states[0]!, states[2]!, 'worker 0 vs 2');
    assert.equal(states[0]!.counters['map.t'], 2);
    assert.equal(states[0]!.counters['potential.t'], 2);
  });

  test('writeState restores every worker; errors name the problem', async () => {
    const pool = await DataParallel.start({ workers: 2, task: { url: TASK_URL, options: EDSR } });
    try {
      const s0 = await pool.readState();
      const [{ lr, hr }] = batches(1, 4);
      await pool.step('step', { lr: lr!, hr: hr! });
      await pool.writeState(s0);
      const back = await pool.readAllStates();
      assertSameState(back[0]!, s0, 'restored');
      assertSameState(back[1]!, s0, 'restored');
      await assert.rejects(pool.step('nope', { lr: lr! }), /unknown step 'nope'/);
      await assert.rejects(pool.step('step', { lr: { data: lr!.data.subarray(0, 108), shape: [1, 6, 6, 3] } }), /cannot be split over 2/);
      // A failing step in the workers rejects instead of hanging at the barrier.
      await assert.rejects(pool.step('step', { lr: lr!, hr: { data: lr!.data, shape: lr!.shape } }), /worker/);
    } finally {
      await pool.close();
    }
  });
});
