import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../../src/engine/backend.js';
import { InputError } from '../../src/errors.js';
import { loadCheckpoint, saveCheckpoint } from '../../src/train/checkpoint.js';
import { Rng } from '../../src/util/rng.js';

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

test('fuzz: mutated and truncated checkpoints load or give one InputError line, never another error', async () => {
  await initBackend('cpu');
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'otsr-ckpt-'));
  const file = path.join(dir, 'checkpoint.otsr');
  const a = tf.randomNormal([4, 3], 0, 1, 'float32', 2);
  const b = tf.scalar(1);
  await saveCheckpoint(file, { state: { step: 3, rng: [1, 2] }, tensors: new Map([['map/a', a], ['map/b', b]]) });
  tf.dispose([a, b]);
  const good = await fs.readFile(file);
  const headerEnd = 16 + good.readUInt32LE(12);
  const rng = new Rng(5);
  const before = tf.memory().numTensors;
  let refused = 0;
  for (let k = 0; k < 300; k++) {
    const bytes = Buffer.from(good);
    let damaged: Buffer = bytes;
    if (rng.int(3) === 0) damaged = bytes.subarray(0, rng.int(bytes.length));
    else {
      // Mostly in the magic, the lengths and the JSON header, where structure lives.
      const alphabet = Buffer.from('{}[]":,0123456789-');
      for (let i = 1 + rng.int(6); i > 0; i--) {
        bytes[rng.int(rng.next() < 0.8 ? headerEnd : bytes.length)] = rng.next() < 0.5 ? alphabet[rng.int(alphabet.length)]! : rng.int(256);
      }
    }
    await fs.writeFile(file, damaged);
    try {
      const ckpt = await loadCheckpoint(file);
      tf.dispose([...ckpt.tensors.values()]);
    } catch (err) {
      assert.ok(err instanceof InputError, `round ${k}: ${String(err)}`);
      assert.ok(err.message.startsWith(file) && !err.message.includes('\n'), err.message);
      refused++;
    }
    assert.equal(tf.memory().numTensors, before, `round ${k} leaked tensors`);
  }
  assert.ok(refused > 150, `${refused} of 300 refused`);
});
