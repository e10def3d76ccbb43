import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../../src/engine/backend.js';
import { Adam, disposeAdamState } from '../../src/ot/adam.js';

/** Loss Σ (p − target)²: gradient 2 (p − target). */
function gradsFor(p: tf.Variable, target: tf.Tensor): tf.NamedTensorMap {
  return { [p.name]: tf.mul(tf.sub(p, target), 2) };
}

test('Adam follows PyTorch\'s update rule (bias-corrected moments)', async () => {
  await initBackend('cpu');
  const p = tf.variable(tf.tensor1d([1, -2, 0.5]));
  const target = tf.tensor1d([0, 1, 2]);
  const opt = new Adam(new Map([['p', p]]), { lr: 0.1, beta1: 0.8, beta2: 0.95, eps: 1e-8 });
  // Reference in float64.
  let ref = [1, -2, 0.5];
  let m = [0, 0, 0];
  let v = [0, 0, 0];
  for (let t = 1; t <= 5; t++) {
    const g = ref.map((x, i) => 2 * (x - [0, 1, 2][i]!));
    m = m.map((mi, i) => 0.8 * mi + 0.2 * g[i]!);
    v = v.map((vi, i) => 0.95 * vi + 0.05 * g[i]! ** 2);
    ref = ref.map((x, i) => x - (0.1 / (1 - 0.8 ** t)) * (m[i]! / (Math.sqrt(v[i]! / (1 - 0.95 ** t)) + 1e-8)));
    const grads = gradsFor(p, target);
    opt.applyGradients(grads);
    tf.dispose(Object.values(grads));
  }
  const got = await p.data();
  ref.forEach((r, i) => assert.ok(Math.abs(got[i]! - r) < 1e-5, `p[${i}] = ${got[i]}, expected ${r}`));
  assert.equal(opt.iterations, 5);
  opt.dispose();
  tf.dispose([p, target]);
});

test('an Adam state restored into a fresh optimizer continues bit-identically', async () => {
  await initBackend('cpu');
  const target = tf.tensor1d([0.3, -1, 2, 5]);
  const run = (p: tf.Variable, opt: Adam, steps: number) => {
    for (let i = 0; i < steps; i++) {
      const g = gradsFor(p, target);
      opt.applyGradients(g);
      tf.dispose(Object.values(g));
    }
  };
  const a = tf.variable(tf.tensor1d([1, 2, 3, 4]));
  const optA = new Adam(new Map([['w', a]]), { lr: 0.05 });
  run(a, optA, 7);
  const expected = await a.data();

  const b = tf.variable(tf.tensor1d([1, 2, 3, 4]));
  const optB = new Adam(new Map([['w', b]]), { lr: 0.05 });
  run(b, optB, 3);
  const state = optB.getState();
  const saved = tf.clone(b);
  optB.dispose();

  const c = tf.variable(saved);
  const optC = new Adam(new Map([['w', c]]), { lr: 0.05 });
  optC.setState(state);
  disposeAdamState(state);
  run(c, optC, 4);
  assert.deepEqual(await c.data(), expected);
  assert.equal(optC.iterations, 7);
  [optA, optC].forEach((o) => o.dispose());
  tf.dispose([a, b, c, saved, target]);
});

test('restoring an Adam state of another shape is a clear error', async () => {
  await initBackend('cpu');
  const p = tf.variable(tf.zeros([2]));
  const q = tf.variable(tf.zeros([3]));
  const optP = new Adam(new Map([['w', p]]), { lr: 1 });
  const optQ = new Adam(new Map([['w', q]]), { lr: 1 });
  const state = optQ.getState();
  assert.throws(() => optP.setState(state), /w: shape \[3\] does not match \[2\]/);
  disposeAdamState(state);
  optP.dispose();
  optQ.dispose();
  tf.dispose([p, q]);
});

test('creating and disposing an Adam leaves no tensors behind', async () => {
  await initBackend('cpu');
  const w = tf.variable(tf.ones([3, 2]));
  const before = tf.memory().numTensors;
  const opt = new Adam(new Map([['w', w]]), { lr: 0.1 });
  assert.equal(tf.memory().numTensors, before + 2);
  opt.dispose();
  assert.equal(tf.memory().numTensors, before);
  w.dispose();
});

test("otsr's fused Adam kernel on wasm gives the tf-op update bit for bit, over whole and partial SIMD quads", async () => {
  await initBackend('wasm');
  const { FUSED_ADAM } = await import('../../src/engine/kernels/otsr-adam.js');
  const { registerWasmTrainingKernels } = await import('../../src/engine/wasm-kernels.js');
  assert.ok(tf.getKernel(FUSED_ADAM, 'wasm'), 'registered for wasm');
  // 4·16 + 3 floats: 16 SIMD quads and a tail of 3 done in JS.
  const values = Array.from({ length: 67 }, (_, i) => Math.sin(i * 1.7) * 3);
  const targets = Array.from({ length: 67 }, (_, i) => Math.cos(i * 0.3));
  const run = (): Float32Array[] => {
    const p = tf.variable(tf.tensor1d(values));
    const target = tf.tensor1d(targets);
    const opt = new Adam(new Map([['p', p]]), { lr: 0.05, beta1: 0.8, beta2: 0.95, eps: 1e-8 });
    let tensors = 0;
    for (let t = 0; t < 4; t++) {
      const grads = tf.tidy(() => gradsFor(p, target));
      opt.applyGradients(grads);
      tf.dispose(Object.values(grads));
      if (t === 0) tensors = tf.memory().numTensors;
    }
    assert.equal(tf.memory().numTensors, tensors, 'no tensor leaks');
    const state = opt.getState();
    const out = [p.dataSync() as Float32Array, state.m.p!.dataSync() as Float32Array, state.v.p!.dataSync() as Float32Array];
    disposeAdamState(state);
    opt.dispose();
    tf.dispose([p, target]);
    return out;
  };
  const fused = run();
  tf.unregisterKernel(FUSED_ADAM, 'wasm');
  let ops: Float32Array[];
  try {
    ops = run();
  } finally {
    registerWasmTrainingKernels();
  }
  assert.ok(tf.getKernel(FUSED_ADAM, 'wasm'), 'registered again');
  for (const [i, name] of ['p', 'm', 'v'].entries()) assert.deepEqual(fused[i], ops[i], name);
});
