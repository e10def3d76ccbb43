import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../../src/engine/backend.js';
import { InputError } from '../../src/errors.js';
import { loadCheckpoint, saveCheckpoint } from '../../src/train/checkpoint.js';

test('a checkpoint round-trips tensors and state exactly, and leaves no temp file', async () => {
  await initBackend('cpu');
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'otsr-ckpt-'));
  const file = path.join(dir, 'checkpoint.otsr');
  const a = tf.randomNormal([3, 4, 5], 0, 1, 'float32', 1);
  const b = tf.scalar(7.5);
  await saveCheckpoint(file, { state: { step: 12, rng: [1, 2, 3, 4], name: 'é' }, tensors: new Map([['a', a], ['b/c', b]]) });
  const back = await loadCheckpoint(file);
  assert.deepEqual(back.state, { step: 12, rng: [1, 2, 3, 4], name: 'é' });
  assert.deepEqual(back.tensors.get('a')!.shape, [3, 4, 5]);
  assert.deepEqual(await back.tensors.get('a')!.data(), await a.data());
  assert.deepEqual(await back.tensors.get('b/c')!.data(), await b.data());
  assert.deepEqual(await fs.readdir(dir), ['checkpoint.otsr']);
  tf.dispose([a, b, ...back.tensors.values()]);
});

test('a truncated or foreign checkpoint is an InputError naming the file', async () => {
  await initBackend('cpu');
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'otsr-ckpt-'));
  const file = path.join(dir, 'checkpoint.otsr');
  const a = tf.ones([100]);
  await saveCheckpoint(file, { state: {}, tensors: new Map([['a', a]]) });
  const bytes = await fs.readFile(file);
  await fs.writeFile(file, bytes.subarray(0, bytes.length - 10));
  await assert.rejects(loadCheckpoint(file), (e: unknown) => e instanceof InputError && /truncated/.test(e.message) && e.message.includes(file));
  await fs.writeFile(file, 'hello world, not a checkpoint');
  await assert.rejects(loadCheckpoint(file), /not an otsr checkpoint/);
  await assert.rejects(loadCheckpoint(path.join(dir, 'missing')), /cannot read checkpoint \(ENOENT\)/);
  a.dispose();
});
