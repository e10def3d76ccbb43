import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import type { PairSampler } from '../../src/data/synthetic-pairs.js';
import { initBackend } from '../../src/engine/backend.js';
import { upsampleBicubic } from '../../src/image/resize-tensor.js';
import { buildModule } from '../../src/nn/registry.js';
import { NeuralOT } from '../../src/ot/neural-ot.js';
import { RegularizedGAN } from '../../src/ot/regularized-gan.js';
import { MAP_PRESETS, POTENTIAL_PRESETS } from '../../src/train/config.js';
import { type OtTaskOptions, buildMap, buildNetworks, buildSolver, runCost } from '../../src/train/run-spec.js';
import { ImageNoiseSampler, flatParams } from '../helpers/ot.js';

// The one place where a run's networks, cost and solver are built (train in one thread, the workers, the web
// trainer): the spec's seeds, hyper-parameters and pretraining reach the objects built from it.

const task = (overrides: Partial<OtTaskOptions> = {}): OtTaskOptions => ({
  solver: 'ots',
  map: MAP_PRESETS.tiny!(2),
  potential: POTENTIAL_PRESETS.tiny!(8),
  mapSeed: 5,
  scale: 2,
  refreshEvery: 0,
  emaDecay: 0,
  mapLr: 1e-3,
  potentialLr: 2e-3,
  betas: [0.9, 0.999],
  costWeight: 7,
  gpWeight: 3,
  potentialPenalty: 0,
  pretrainSteps: 0,
  pretrainLr: 1e-3,
  pretrainSchedule: 'cosine',
  ...overrides,
});

/** Aligned noise pairs of a x2 problem with 8-pixel HR crops. */
function noisePairs(seed: number): PairSampler {
  const lr = new ImageNoiseSampler([4, 4, 3], seed);
  return {
    lrShape: [4, 4, 3],
    hrShape: [8, 8, 3],
    async samplePairs(batch) {
      const x = (await lr.sample(batch)) as tf.Tensor4D;
      return { x, y: upsampleBicubic(x, 2) };
    },
    getState: () => lr.getState(),
    setState: (s) => lr.setState(s),
  };
}

const data = () => ({ source: new ImageNoiseSampler([4, 4, 3], 1), target: new ImageNoiseSampler([8, 8, 3], 2) });

before(async () => {
  await initBackend('wasm');
});

test('buildNetworks seeds the map with mapSeed and the potential with mapSeed + 1, and takes a given map', async () => {
  const t = task();
  const nets = buildNetworks(t);
  const [map, potential] = [buildMap(t), buildModule(t.potential, { seed: t.mapSeed + 1 })];
  assert.deepEqual(await flatParams(nets.map), await flatParams(map));
  assert.deepEqual(await flatParams(nets.potential), await flatParams(potential));
  const given = buildNetworks(t, map);
  assert.equal(given.map, map);
  assert.equal(nets.cost.lastRefresh, null, 'without pretraining the cost measures from bicubic');
  for (const m of [nets.map, nets.potential, map, potential, given.potential]) m.dispose();
  nets.cost.dispose();
  given.cost.dispose();
});

test('costResolution lr makes the run\'s cost compare scale x scale block means; hr (or absent) every pixel', async () => {
  const x = tf.randomUniform([1, 4, 4, 3], 0, 1, 'float32', 1);
  const up = upsampleBicubic(x as tf.Tensor4D, 2);
  // Detail with zero 2x2 block means added to U(x) = bicubic(x): free at LR resolution, not at HR.
  const checker = tf.tensor4d(Array.from({ length: 64 }, (_, i) => ((Math.floor(i / 8) + (i % 8)) % 2 === 0 ? 0.2 : -0.2)), [1, 8, 8, 1]);
  const y = tf.add(up, checker);
  const [hr, absent, lr] = [runCost(task({ costResolution: 'hr' })), runCost(task()), runCost(task({ costResolution: 'lr' }))];
  assert.equal(lr.name, 'quadratic@1/2(ref)');
  assert.equal(absent.name, 'quadratic(ref)');
  const [a, b, c] = await Promise.all([hr, absent, lr].map((cost) => cost.cost(x, y).data()));
  assert.ok(Math.abs(a[0]! - 0.5 * 0.04) < 1e-5, `hr: ${a[0]}`);
  assert.equal(b[0], a[0]);
  assert.ok(Math.abs(c[0]!) < 1e-9, `lr: ${c[0]}`);
  tf.dispose([x, up, checker, y]);
  for (const cost of [hr, absent, lr]) cost.dispose();
});

test('buildSolver gives OTS its k and cost weight, the GAN its critic steps, lambda and penalty weight', () => {
  const ots = buildNetworks(task());
  const a = buildSolver(task(), ots, data(), { batchSize: 2, innerSteps: 4, seed: 1 });
  assert.ok(a instanceof NeuralOT);
  assert.equal(a.mapSteps, 4);
  assert.equal(a.costWeight, 7);
  assert.equal(a.map, ots.map);
  assert.equal(a.problem.cost, ots.cost);
  const gan = buildNetworks(task({ solver: 'gan' }));
  const b = buildSolver(task({ solver: 'gan' }), gan, data(), { batchSize: 2, innerSteps: 3, seed: 1 });
  assert.ok(b instanceof RegularizedGAN);
  assert.equal(b.criticSteps, 3);
  assert.equal(b.lambda, 7);
  assert.equal(b.gpWeight, 3);
  for (const [s, n] of [[a, ots], [b, gan]] as const) {
    s.dispose();
    n.map.dispose();
    n.potential.dispose();
    n.cost.dispose();
  }
});

test('buildSolver pretrains for the spec\'s steps when given pairs, then the cost measures from the pretrained map', async () => {
  const t = task({ pretrainSteps: 2 });
  const nets = buildNetworks(t);
  const solver = buildSolver(t, nets, { ...data(), pairs: noisePairs(3) }, { batchSize: 2, innerSteps: 2, seed: 1 });
  const steps = [await solver.step(), await solver.step(), await solver.step()];
  assert.ok(steps[0]!.paired! > 0 && steps[1]!.paired! > 0, 'steps 1 and 2 are pretraining steps');
  assert.equal(steps[2]!.paired, undefined, 'step 3 is an OTS step');
  assert.equal(nets.cost.lastRefresh, 2);
  // Without pairs there is nothing to pretrain on: the solver's own steps from the first.
  const bare = buildNetworks(t);
  const plain = buildSolver(t, bare, data(), { batchSize: 2, innerSteps: 2, seed: 1 });
  assert.equal((await plain.step()).paired, undefined);
  for (const [s, n] of [[solver, nets], [plain, bare]] as const) {
    s.dispose();
    n.map.dispose();
    n.potential.dispose();
    n.cost.dispose();
  }
});
