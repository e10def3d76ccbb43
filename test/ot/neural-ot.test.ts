import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { evaluateMap } from '../../src/bench/ot-metrics.js';
import { initBackend } from '../../src/engine/backend.js';
import { CancelledError } from '../../src/errors.js';
import { NeuralOT } from '../../src/ot/neural-ot.js';
import { disposeSolverState } from '../../src/ot/solver.js';
import { flatParams, vectorSetup } from '../helpers/ot.js';

test('a short OTS run in d = 2 learns the Gaussian OT map (small L2-UVP)', async () => {
  await initBackend('wasm');
  const s = vectorSetup(2);
  const before = await evaluateMap((x) => s.networks.map.apply(x), s.pair);
  const solver = new NeuralOT(s.problem, s.networks, { batchSize: 128, mapLr: 1e-3, potentialLr: 1e-3, seed: 1 });
  const result = await solver.fit({ steps: 60 });
  const after = await evaluateMap((x) => result.map.apply(x), s.pair);
  assert.equal(result.steps, 60);
  assert.equal(result.history.length, 60);
  assert.ok(before.l2uvp > 50, `the untrained map is far from T*: ${before.l2uvp}`);
  assert.ok(after.l2uvp < 10, `L2-UVP after 60 steps: ${after.l2uvp}`);
  assert.ok(after.cosine > 0.95, `cosine: ${after.cosine}`);
  solver.dispose();
  s.dispose();
});

test('OTS saved after step k and restored into fresh objects continues bit-identically', async () => {
  await initBackend('wasm');
  const opts = { batchSize: 32, mapSteps: 3, mapLr: 1e-3, potentialLr: 1e-3, seed: 9 };
  const a = vectorSetup(3, { hidden: [16] });
  const solverA = new NeuralOT(a.problem, a.networks, opts);
  await solverA.fit({ steps: 6 });

  const b = vectorSetup(3, { hidden: [16] });
  const solverB = new NeuralOT(b.problem, b.networks, opts);
  await solverB.fit({ steps: 3 });
  const state = solverB.getState();
  solverB.dispose();
  b.dispose();

  // Fresh networks, samplers and solver (a different init seed, to prove everything comes from the state).
  const c = vectorSetup(3, { hidden: [16], seed: 0 });
  c.networks.map.params.get('l0.w')!.assign(tf.zeros([3, 16]));
  const solverC = new NeuralOT(c.problem, c.networks, opts);
  solverC.setState(state);
  disposeSolverState(state);
  assert.equal(solverC.stepCount, 3);
  await solverC.fit({ steps: 6 });

  assert.deepEqual(await flatParams(c.networks.map), await flatParams(a.networks.map));
  assert.deepEqual(await flatParams(c.networks.potential), await flatParams(a.networks.potential));
  assert.deepEqual(solverC.history, solverA.history);
  solverA.dispose();
  solverC.dispose();
  a.dispose();
  c.dispose();
});

test('OTS steps leak no tensors', async () => {
  await initBackend('wasm');
  const s = vectorSetup(2, { hidden: [8] });
  const solver = new NeuralOT(s.problem, s.networks, { batchSize: 16, mapSteps: 2 });
  await solver.step(); // first step: gradients get registered, kernels warm up
  const before = tf.memory().numTensors;
  for (let i = 0; i < 10; i++) await solver.step();
  assert.equal(tf.memory().numTensors, before);
  const state = solver.getState();
  disposeSolverState(state);
  assert.equal(tf.memory().numTensors, before);
  solver.dispose();
  s.dispose();
});

test('fit reports progress and stops with CancelledError when the signal aborts', async () => {
  await initBackend('wasm');
  const s = vectorSetup(2, { hidden: [8] });
  const solver = new NeuralOT(s.problem, s.networks, { batchSize: 16, mapSteps: 1 });
  const controller = new AbortController();
  const seen: number[] = [];
  await assert.rejects(
    solver.fit({
      steps: 100,
      signal: controller.signal,
      onProgress: ({ step, totalSteps, losses }) => {
        seen.push(step);
        assert.equal(totalSteps, 100);
        assert.ok(Number.isFinite(losses.mapLoss) && Number.isFinite(losses.potentialLoss) && Number.isFinite(losses.cost));
        if (step === 3) controller.abort();
      },
    }),
    CancelledError,
  );
  assert.deepEqual(seen, [1, 2, 3]);
  assert.equal(solver.stepCount, 3);
  // The async-iterator form runs the same loop.
  const steps: number[] = [];
  for await (const l of solver.iterate(5)) steps.push(l.step);
  assert.deepEqual(steps, [4, 5]);
  solver.dispose();
  s.dispose();
});
