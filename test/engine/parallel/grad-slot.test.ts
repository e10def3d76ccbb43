import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../../../src/engine/backend.js';
import { addScaled, writeScaled } from '../../../src/engine/parallel/grad-slot.js';
import { Rng } from '../../../src/util/rng.js';

/** Values over many magnitudes, with subnormals, zeros and signs: where roundings would differ, if anywhere. */
function gradient(n: number): Float32Array {
  const rng = new Rng(5);
  const d = rng.normals(n, 1);
  for (let i = 0; i < n; i++) d[i] = d[i]! * 2 ** (Math.floor(rng.next() * 300) - 150);
  d.set([0, -0, 1e-45, -1e-45, 1.2e-38, 3.4e38], 0);
  return d;
}

describe('gradient slots', () => {
  before(async () => {
    await initBackend('wasm');
  });

  // 1 worker, equal shards of 2, 4, 8, a micro-batch of 3 of 8; uneven shards (3 rows on 2 workers).
  for (const weight of [1, 0.5, 0.25, 0.125, 3 / 8, 1 / 3, 2 / 3]) {
    test(`writeScaled gives the float64 loop's bits (weight ${weight.toPrecision(3)})`, () => {
      const d = gradient(4099);
      const expected = new Float32Array(4102);
      for (let i = 0; i < d.length; i++) expected[2 + i] = d[i]! * weight;
      const slot = new Float32Array(new SharedArrayBuffer(4102 * 4)).fill(7);
      const g = tf.tensor(d);
      writeScaled(slot, 2, g, weight);
      g.dispose();
      assert.deepEqual(new Uint32Array(slot.buffer, 8, 4099), new Uint32Array(expected.buffer, 8, 4099));
      assert.deepEqual([slot[0], slot[1], slot[4101]], [7, 7, 7]);
    });
  }

  test('addScaled adds with one rounding', () => {
    const d = gradient(1000);
    const slot = new Float32Array(1000).fill(0.1);
    const expected = new Float32Array(1000).fill(0.1);
    for (let i = 0; i < d.length; i++) expected[i] += d[i]! / 3;
    const g = tf.tensor(d);
    addScaled(slot, 0, g, 1 / 3);
    g.dispose();
    assert.deepEqual(new Uint32Array(slot.buffer), new Uint32Array(expected.buffer));
  });

  test('writeScaled leaves no tensor behind', () => {
    const g = tf.tensor(gradient(10));
    const before = tf.memory().numTensors;
    writeScaled(new Float32Array(10), 0, g, 0.5);
    assert.equal(tf.memory().numTensors, before);
    g.dispose();
  });
});
