import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../../src/engine/backend.js';
import { type SolverTensors, flattenSolverState, unflattenSolverState } from '../../src/ot/solver.js';

// The one flat form of a solver state, shared by the checkpoint file and the worker threads' state.

before(async () => {
  await initBackend('cpu');
});

function state(cost: SolverTensors['cost']): SolverTensors {
  const t = (v: number) => tf.scalar(v);
  return {
    map: { 'head.w': t(1), 'tail.b': t(2) },
    potential: { 'fc.w': t(3) },
    mapOptimizer: { t: 7, m: { 'head.w': t(4), 'tail.b': t(5) }, v: { 'head.w': t(6), 'tail.b': t(7) } },
    potentialOptimizer: { t: 2, m: { 'fc.w': t(8) }, v: { 'fc.w': t(9) } },
    cost,
  };
}

test('a state flattens to the documented names and counters, and back to the same tensors', () => {
  const s = state({ refreshedAt: 5, weights: { 'head.w': tf.scalar(10) } });
  const { tensors, counters } = flattenSolverState(s);
  assert.deepEqual([...tensors.keys()].sort(), [
    'cost/head.w',
    'map/head.w',
    'map/tail.b',
    'mapOptimizer/m/head.w',
    'mapOptimizer/m/tail.b',
    'mapOptimizer/v/head.w',
    'mapOptimizer/v/tail.b',
    'potential/fc.w',
    'potentialOptimizer/m/fc.w',
    'potentialOptimizer/v/fc.w',
  ]);
  assert.deepEqual(counters, { mapOptimizerT: 7, potentialOptimizerT: 2, costRefreshedAt: 5 });
  const back = unflattenSolverState(tensors, counters);
  assert.deepEqual(back, s, 'the very tensors, in the same records');
  tf.dispose([...tensors.values()]);
});

test('an unrefreshed cost has no weights, and a state without a cost stays without one', () => {
  const s = state({ refreshedAt: null });
  const { tensors, counters } = flattenSolverState(s);
  assert.ok(![...tensors.keys()].some((k) => k.startsWith('cost/')));
  assert.equal(counters.costRefreshedAt, null);
  assert.deepEqual(unflattenSolverState(tensors, counters).cost, { refreshedAt: null });
  assert.equal(unflattenSolverState(tensors, counters, false).cost, null);
  const none = flattenSolverState(state(null));
  assert.equal(none.counters.costRefreshedAt, null);
  tf.dispose([...tensors.values(), ...none.tensors.values()]);
});
