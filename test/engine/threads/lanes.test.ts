import assert from 'node:assert/strict';
import { test } from 'node:test';
import { laneRange } from '../../../src/engine/threads/lanes.js';

test('laneRange cuts [0, total) into consecutive near-equal runs with aligned boundaries', () => {
  for (const total of [0, 1, 3, 4, 5, 17, 64, 288, 1001]) {
    for (const count of [1, 2, 3, 4]) {
      for (const align of [1, 2, 4]) {
        let next = 0;
        for (let lane = 0; lane < count; lane++) {
          const [a, b] = laneRange(total, count, lane, align);
          assert.equal(a, next, `lane ${lane} starts where lane ${lane - 1} ended (${total}/${count}/${align})`);
          assert.ok(b >= a && b <= total);
          if (b < total) assert.equal(b % align, 0, 'inner boundaries are aligned');
          // At most one aligned unit more than an even share.
          assert.ok(b - a <= Math.ceil(Math.ceil(total / align) / count) * align);
          next = b;
        }
        assert.equal(next, total, 'the runs cover everything');
      }
    }
  }
});
