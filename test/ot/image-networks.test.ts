import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../../src/engine/backend.js';
import { upsampleBicubic } from '../../src/image/resize-tensor.js';
import { Critic } from '../../src/nn/critic.js';
import { Edsr } from '../../src/nn/edsr.js';
import { ReferenceCost } from '../../src/ot/cost.js';
import { NeuralOT } from '../../src/ot/neural-ot.js';
import type { OtProblem } from '../../src/ot/problem.js';
import { RegularizedGAN } from '../../src/ot/regularized-gan.js';
import { disposeSolverState } from '../../src/ot/solver.js';
import { ImageNoiseSampler, flatParams } from '../helpers/ot.js';

// The solvers on the real image networks, unchanged: EDSR (LR [B,8,8,3] -> HR [B,16,16,3], bicubic skip)
// and the ResNet critic (HR -> [B]), with c(x, T(x)) = ½·MSE(U(x), T(x)), U = bicubic, later a frozen T ("G0").
const edsr = (seed: number) =>
  new Edsr({ nResBlocks: 1, nFeats: 8, scale: 2, skip: 'upsample', upsampler: upsampleBicubic, seed });
const critic = (seed: number) => new Critic({ size: 16, nFeats: 8, maxFeats: 16, seed });

function setup(seed: number) {
  const map = edsr(seed);
  const potential = critic(seed + 1);
  const cost = new ReferenceCost({
    reference: (x) => upsampleBicubic(x as tf.Tensor4D, 2),
    refresh: { every: 2, frozen: edsr(seed + 2) },
  });
  const problem: OtProblem = { source: new ImageNoiseSampler([8, 8, 3], 5), target: new ImageNoiseSampler([16, 16, 3], 6), cost };
  const dispose = () => [map, potential, cost].forEach((m) => m.dispose());
  return { map, potential, cost, problem, dispose };
}

const otsOptions = { batchSize: 2, mapSteps: 2, mapLr: 1e-4, potentialLr: 1e-4, seed: 3 };

test('OTS trains EDSR against the ResNet critic with a refreshed reference, and resumes bit-identically', async () => {
  await initBackend('wasm');
  const a = setup(10);
  const solverA = new NeuralOT(a.problem, a, otsOptions);
  const w0 = await flatParams(a.map);
  await solverA.step();
  const before = tf.memory().numTensors;
  const history = (await solverA.fit({ steps: 4 })).history;
  assert.equal(tf.memory().numTensors, before, 'no tensors leak across steps (the reference refresh included)');
  assert.equal(a.cost.lastRefresh, 4);
  assert.ok(history.every((h) => Number.isFinite(h.mapLoss) && Number.isFinite(h.potentialLoss) && h.cost >= 0));
  assert.notDeepEqual(await flatParams(a.map), w0);

  const b = setup(10);
  const solverB = new NeuralOT(b.problem, b, otsOptions);
  await solverB.fit({ steps: 3 }); // the reference was refreshed at step 2: the state must carry it
  const state = solverB.getState();
  assert.equal(state.cost?.refreshedAt, 2);
  solverB.dispose();
  b.dispose();

  const c = setup(20); // other initial weights: everything must come from the state
  const solverC = new NeuralOT(c.problem, c, otsOptions);
  solverC.setState(state);
  disposeSolverState(state);
  await solverC.fit({ steps: 4 });
  assert.deepEqual(await flatParams(c.map), await flatParams(a.map));
  assert.deepEqual(await flatParams(c.potential), await flatParams(a.potential));
  [solverA, solverC].forEach((s) => s.dispose());
  a.dispose();
  c.dispose();
});

test('the GAN trains EDSR against the ResNet critic, gradient penalty (double backprop) included', async () => {
  await initBackend('wasm');
  const s = setup(30);
  const solver = new RegularizedGAN(s.problem, s, { batchSize: 2, criticSteps: 2, lambda: 10, seed: 1 });
  const f0 = await flatParams(s.potential);
  await solver.step();
  const before = tf.memory().numTensors;
  const l = await solver.step();
  assert.equal(tf.memory().numTensors, before);
  assert.ok(Number.isFinite(l.potentialLoss) && Number.isFinite(l.mapLoss) && l.gradientPenalty! >= 0, JSON.stringify(l));
  assert.notDeepEqual(await flatParams(s.potential), f0);
  solver.dispose();
  s.dispose();
});
