import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../../../src/engine/backend.js';
import { tensorFrom, valuesOf } from '../../../src/engine/parallel/shared-tensor.js';

for (const backend of ['wasm', 'cpu'] as const) {
  describe(`shared tensors on ${backend}`, () => {
    test('tensorFrom keeps the values a view had when the tensor was made', async () => {
      await initBackend(backend);
      const shared = new Float32Array(new SharedArrayBuffer(6 * 4)).map((_, i) => i + 0.5);
      const t = tensorFrom(shared.subarray(1, 5), [2, 2]);
      shared.fill(-1);
      assert.deepEqual([...t.dataSync()], [1.5, 2.5, 3.5, 4.5]);
      assert.deepEqual(t.shape, [2, 2]);
      t.dispose();
    });

    test('valuesOf reads a tensor without changing it', async () => {
      await initBackend(backend);
      const t = tf.tensor([1, 2, 3, 4], [2, 2]);
      assert.deepEqual([...valuesOf(t)], [1, 2, 3, 4]);
      assert.deepEqual([...t.dataSync()], [1, 2, 3, 4]);
      t.dispose();
    });
  });
}
