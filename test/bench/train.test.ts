import assert from 'node:assert/strict';
import { test } from 'node:test';
import { benchTrain, formatTrainBench } from '../../src/bench/train.js';

test('bench train (quick, one worker, no OTS) returns the documented shape', async () => {
  const r = await benchTrain({ quick: true, workers: 1, steps: 1, skipOts: true });
  assert.equal(r.refStep.n, 1);
  assert.ok(r.refStep.workers1 > 0 && r.refStep.workersN > 0);
  assert.equal(r.refStep.allMs.workers1.length, 1);
  assert.equal(r.otsIter, undefined);
  assert.equal(r.machine.cores > 0, true);
  assert.match(formatTrainBench(r), /reference EDSR step: \d+ ms with 1 worker/);
});
