import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../../src/engine/backend.js';
import { MapAverage, mapAverageOf } from '../../src/ot/map-average.js';
import { NeuralOT } from '../../src/ot/neural-ot.js';
import { disposeSolverState } from '../../src/ot/solver.js';
import { Mlp } from '../../src/nn/mlp.js';
import { flatParams, vectorSetup } from '../helpers/ot.js';

// The EMA of the map's weights: A_1 = W_1, A_t = d·A_(t−1) + (1 − d)·W_t over the solver's steps, kept in the
// solver state, exact on resume, and never what training continues from.

before(async () => {
  await initBackend('wasm');
});

/** A map of vectorSetup(2, { hidden: [8] })'s architecture. */
const mlp = (seed: number) => new Mlp({ inDim: 2, hidden: [8], outDim: 2, residual: true, seed });

test('the average is the first weights, then d·A + (1 − d)·W; copyInto is refused before the first update; dispose frees it', async () => {
  const average = new MapAverage(0.75);
  const [map, target] = [mlp(1), mlp(2)];
  const tensors = tf.memory().numTensors;
  const before = await flatParams(target);
  assert.equal(average.copyInto(target), false);
  assert.deepEqual(await flatParams(target), before, 'left as it is');
  const w1 = await flatParams(map);
  average.update(map);
  for (const v of map.params.values()) tf.tidy(() => v.assign(tf.add(v, 1)));
  const w2 = await flatParams(map);
  average.update(map);
  assert.equal(average.copyInto(target), true);
  const got = await flatParams(target);
  for (let i = 0; i < got.length; i++) assert.ok(Math.abs(got[i]! - (0.75 * w1[i]! + 0.25 * w2[i]!)) < 1e-6, `weight ${i}`);
  assert.ok(got.every((v, i) => Math.abs(v - w2[i]!) > 0.7), 'the average is not the last weights');

  const saved = average.getState()!;
  const restored = new MapAverage(0.75);
  restored.setState(saved);
  tf.dispose(Object.values(saved));
  const again = mlp(3);
  restored.copyInto(again);
  assert.deepEqual(await flatParams(again), got);
  again.dispose();
  for (const m of [average, restored]) m.dispose();
  assert.equal(tf.memory().numTensors, tensors, 'the averages held nothing more');
  for (const m of [map, target]) m.dispose();
  assert.throws(() => new MapAverage(1), /decay must be in \(0, 1\)/);
  assert.equal(mapAverageOf(0), undefined);
});

test('OTS with a map average: the map trains as without one; the average resumes exactly and leaks nothing', async () => {
  const opts = { batchSize: 32, mapSteps: 2, mapLr: 1e-2, potentialLr: 1e-2, seed: 4 };
  const plain = vectorSetup(2, { hidden: [8] });
  const solverPlain = new NeuralOT(plain.problem, plain.networks, opts);
  await solverPlain.fit({ steps: 6 });

  const a = vectorSetup(2, { hidden: [8] });
  const solverA = new NeuralOT(a.problem, a.networks, { ...opts, emaDecay: 0.9 });
  await solverA.fit({ steps: 6 });
  assert.deepEqual(await flatParams(a.networks.map), await flatParams(plain.networks.map), 'averaging changes no training weight');
  const shownA = mlp(0);
  assert.equal(solverA.averageInto(shownA), true);
  const averaged = await flatParams(shownA);

  const b = vectorSetup(2, { hidden: [8] });
  const solverB = new NeuralOT(b.problem, b.networks, { ...opts, emaDecay: 0.9 });
  await solverB.fit({ steps: 3 });
  const state = solverB.getState();
  assert.ok(state.mapAverage && Object.keys(state.mapAverage).length > 0, 'the average is in the state');
  solverB.dispose();
  b.dispose();
  const c = vectorSetup(2, { hidden: [8], seed: 0 });
  const solverC = new NeuralOT(c.problem, c.networks, { ...opts, emaDecay: 0.9 });
  solverC.setState(state);
  disposeSolverState(state);
  const tensors = tf.memory().numTensors;
  await solverC.fit({ steps: 6 });
  assert.equal(tf.memory().numTensors, tensors, 'no tensor leaks while averaging');
  const shownC = mlp(0);
  solverC.averageInto(shownC);
  assert.deepEqual(await flatParams(shownC), averaged, 'resumed average = uninterrupted average');
  assert.notDeepEqual(averaged, await flatParams(a.networks.map), 'the average is not the map');

  const none = vectorSetup(2, { hidden: [8] });
  const solverNone = new NeuralOT(none.problem, none.networks, opts);
  const withAverage = solverA.getState();
  assert.throws(() => solverNone.setState(withAverage), /holds a map average, but the solver keeps none/);
  assert.equal(solverNone.averageInto(shownC), false);
  disposeSolverState(withAverage);
  for (const s of [solverPlain, solverA, solverC, solverNone]) s.dispose();
  for (const s of [plain, a, c, none]) s.dispose();
  shownA.dispose();
  shownC.dispose();
});
