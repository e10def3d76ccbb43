import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { evaluateMap } from '../../src/bench/ot-metrics.js';
import { initBackend } from '../../src/engine/backend.js';
import { NeuralOT } from '../../src/ot/neural-ot.js';
import { RegularizedGAN } from '../../src/ot/regularized-gan.js';
import { disposeSolverState } from '../../src/ot/solver.js';
import { flatParams, vectorSetup } from '../helpers/ot.js';

test('the GAN with a large λ leaves T#P biased: its pushforward distance is far above OTS\'s', async () => {
  await initBackend('wasm');
  const ots = vectorSetup(2);
  const otsSolver = new NeuralOT(ots.problem, ots.networks, { batchSize: 128, mapLr: 1e-3, potentialLr: 1e-3, seed: 1 });
  await otsSolver.fit({ steps: 60 });
  const otsScores = await evaluateMap((x) => ots.networks.map.apply(x), ots.pair);

  const gan = vectorSetup(2);
  const ganSolver = new RegularizedGAN(gan.problem, gan.networks, {
    batchSize: 128,
    lambda: 1000,
    criticSteps: 5,
    mapLr: 1e-3,
    potentialLr: 1e-3,
    seed: 1,
  });
  const history = (await ganSolver.fit({ steps: 30 })).history;
  const ganScores = await evaluateMap((x) => gan.networks.map.apply(x), gan.pair);
  assert.ok(history.every((h) => h.gradientPenalty !== undefined && Number.isFinite(h.gradientPenalty)));
  assert.ok(otsScores.pushforward < 10, `OTS pushforward distance ${otsScores.pushforward}`);
  assert.ok(
    ganScores.pushforward > 5 * Math.max(otsScores.pushforward, 2),
    `GAN(λ=1000) pushforward ${ganScores.pushforward} vs OTS ${otsScores.pushforward}`,
  );
  [otsSolver, ganSolver].forEach((s) => s.dispose());
  ots.dispose();
  gan.dispose();
});

test('the GAN saved after step k and restored continues bit-identically (critic RNG included)', async () => {
  await initBackend('wasm');
  const opts = { batchSize: 16, criticSteps: 2, lambda: 1, mapLr: 1e-3, potentialLr: 1e-3, seed: 4 };
  const a = vectorSetup(3, { hidden: [16] });
  const solverA = new RegularizedGAN(a.problem, a.networks, opts);
  await solverA.fit({ steps: 6 });

  const b = vectorSetup(3, { hidden: [16] });
  const solverB = new RegularizedGAN(b.problem, b.networks, opts);
  await solverB.fit({ steps: 2 });
  const state = solverB.getState();
  solverB.dispose();
  b.dispose();

  const c = vectorSetup(3, { hidden: [16] });
  const solverC = new RegularizedGAN(c.problem, c.networks, { ...opts, seed: 123 });
  solverC.setState(state);
  disposeSolverState(state);
  await solverC.fit({ steps: 6 });
  assert.deepEqual(await flatParams(c.networks.map), await flatParams(a.networks.map));
  assert.deepEqual(await flatParams(c.networks.potential), await flatParams(a.networks.potential));
  assert.deepEqual(solverC.history, solverA.history);

  // A GAN state does not restore into an OTS solver.
  const ots = new NeuralOT(c.problem, c.networks);
  const ganState = solverC.getState();
  assert.throws(() => ots.setState(ganState), /cannot restore a 'gan' solver state into a 'ots' solver/);
  disposeSolverState(ganState);
  [solverA, solverC, ots].forEach((s) => s.dispose());
  a.dispose();
  c.dispose();
});

test('GAN steps (with double backprop for the gradient penalty) leak no tensors', async () => {
  await initBackend('wasm');
  const s = vectorSetup(2, { hidden: [8] });
  const solver = new RegularizedGAN(s.problem, s.networks, { batchSize: 16, criticSteps: 2 });
  await solver.step();
  const before = tf.memory().numTensors;
  for (let i = 0; i < 10; i++) await solver.step();
  assert.equal(tf.memory().numTensors, before);
  solver.dispose();
  s.dispose();
});
