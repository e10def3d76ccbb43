import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RateMeter } from '../../src/util/progress.js';

test('RateMeter reports rate and ETA from a controlled clock', () => {
  let t = 0;
  const meter = new RateMeter(100, 0.5, () => t);
  const first = meter.update(0);
  assert.equal(first.etaSeconds, Infinity);
  t = 1000;
  const e1 = meter.update(10, { loss: 1.5 });
  assert.equal(e1.rate, 10);
  assert.equal(e1.etaSeconds, 9);
  assert.deepEqual(e1.values, { loss: 1.5 });
  t = 2000;
  const e2 = meter.update(30);
  assert.equal(e2.rate, 15); // 0.5 * 20 + 0.5 * 10
  assert.ok(Math.abs(e2.etaSeconds - 70 / 15) < 1e-9);
});
