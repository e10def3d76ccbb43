import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatStepPhases, stepPhases } from '../../src/bench/step-phases.js';
import type { StepTimeline, WorkerPhases } from '../../src/engine/parallel/index.js';

function phases(begin: number, compute: number, wait: number): WorkerPhases {
  const p = { begin, input: 1, compute, gradCopy: 2, wait, reduce: 3, wait2: 0.5, update: 4, end: 0 };
  p.end = begin + p.input + compute + p.gradCopy + wait + p.reduce + p.wait2 + p.update;
  return p;
}

/** Two workers; worker 1 takes the message 2 ms late and computes `slow` ms more, which worker 0 waits for. */
function timeline(t0: number, slow: number): StepTimeline {
  const workers = [phases(t0 + 1.5, 100, slow + 2), phases(t0 + 3.5, 100 + slow, 0)];
  return { begin: t0, posted: t0 + 1, end: Math.max(...workers.map((w) => w.end)) + 0.5, workers };
}

test('stepPhases: medians per worker, dispatch and reply on the main thread clock', () => {
  const p = stepPhases([timeline(0, 10), timeline(1000, 30), timeline(2000, 20)]);
  assert.equal(p.batchCopy, 1);
  assert.equal(p.step, 1 + 2.5 + 1 + 120 + 2 + 0 + 3 + 0.5 + 4 + 0.5);
  assert.deepEqual(p.workers[0], { dispatch: 0.5, input: 1, compute: 100, gradCopy: 2, wait: 22, reduce: 3, wait2: 0.5, update: 4, reply: 0.5 });
  assert.equal(p.workers[1]!.dispatch, 2.5);
  assert.equal(p.workers[1]!.compute, 120);
  assert.equal(p.workers[1]!.wait, 0);
  assert.equal(p.workers[1]!.reply, 0.5);
  assert.equal(formatStepPhases(p).length, 2);
  assert.throws(() => stepPhases([]), /no steps/);
});
