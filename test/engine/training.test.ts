import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../../src/engine/backend.js';
import { Rng } from '../../src/util/rng.js';

/**
 * End-to-end checks of the engine: whole training steps (forward, backward, double backward, Adam) give
 * the same numbers on wasm (otsr's kernels) as on the pure-JS cpu backend, and leak nothing.
 */

await initBackend('cpu');
await initBackend('wasm');

type Params = Record<string, tf.Variable>;

/** Seeded initial values, so that both backends start from the same weights. */
function initialValues(seed: number, shapes: Record<string, number[]>): Record<string, { values: Float32Array; shape: number[] }> {
  const rng = new Rng(seed);
  const out: Record<string, { values: Float32Array; shape: number[] }> = {};
  for (const [name, shape] of Object.entries(shapes)) {
    const fanIn = shape.length === 1 ? 1 : shape.slice(0, -1).reduce((a, b) => a * b, 1);
    out[name] = { values: rng.normals(shape.reduce((a, b) => a * b, 1), shape.length === 1 ? 0.1 : Math.sqrt(2 / fanIn)), shape };
  }
  return out;
}

function makeParams(values: ReturnType<typeof initialValues>): Params {
  const params: Params = {};
  for (const [name, v] of Object.entries(values)) params[name] = tf.variable(tf.tensor(v.values, v.shape), true, `${name}_${tf.getBackend()}_${seq++}`);
  return params;
}
let seq = 0;

const GENERATOR = {
  c1: [3, 3, 3, 8],
  b1: [8],
  c2: [3, 3, 8, 16], // stride 2
  c3: [3, 3, 16, 32], // -> pixel shuffle x2 -> 8 channels
  c4: [3, 3, 8, 3],
  d1: [3 * 4 * 4, 6], // dense on the average-pooled output
};

/** conv-relu, strided conv-leakyRelu, conv + pixel shuffle (DepthToSpace), conv, avg pool, dense. */
function generator(p: Params, x: tf.Tensor4D): { image: tf.Tensor4D; code: tf.Tensor2D } {
  let h = tf.relu(tf.add(tf.conv2d(x, p.c1 as tf.Tensor4D, 1, 'same'), p.b1!)) as tf.Tensor4D;
  h = tf.leakyRelu(tf.conv2d(h, p.c2 as tf.Tensor4D, 2, 'same'), 0.2);
  h = tf.depthToSpace(tf.conv2d(h, p.c3 as tf.Tensor4D, 1, 'same'), 2, 'NHWC');
  const image = tf.conv2d(h, p.c4 as tf.Tensor4D, 1, 'same');
  const pooled = tf.avgPool(image, 2, 2, 'valid');
  const code = tf.matMul(tf.reshape(pooled, [x.shape[0], -1]) as tf.Tensor2D, p.d1 as tf.Tensor2D);
  return { image, code: code as tf.Tensor2D };
}

const CRITIC = {
  c1: [3, 3, 3, 8],
  b1: [8],
  c2: [3, 3, 8, 8],
  s: [1, 1, 8, 16], // 1x1 shortcut conv
  fc: [16 * 4 * 4, 1],
  fb: [1],
};

/** conv + leakyRelu, residual conv, average pool (padded, 'valid'), 1x1 conv, dense head: [B, 8, 8, 3] -> [B]. */
function critic(p: Params, x: tf.Tensor4D): tf.Tensor1D {
  let h = tf.leakyRelu(tf.add(tf.conv2d(x, p.c1 as tf.Tensor4D, 1, 'same'), p.b1!), 0.2) as tf.Tensor4D;
  h = tf.leakyRelu(tf.add(h, tf.mul(tf.conv2d(h, p.c2 as tf.Tensor4D, 1, 'same'), 0.1)), 0.2) as tf.Tensor4D;
  h = tf.avgPool(tf.pad(h, [[0, 0], [1, 1], [1, 1], [0, 0]]) as tf.Tensor4D, 3, 2, 'valid');
  h = tf.leakyRelu(tf.conv2d(h, p.s as tf.Tensor4D, 1, 'valid'), 0.2);
  const flat = tf.reshape(h, [x.shape[0], -1]) as tf.Tensor2D;
  return tf.reshape(tf.add(tf.matMul(flat, p.fc as tf.Tensor2D), p.fb!), [x.shape[0]]) as tf.Tensor1D;
}

function data(seed: number, shape: number[]): tf.Tensor4D {
  return tf.tensor4d(new Rng(seed).normals(shape.reduce((a, b) => a * b, 1)), shape as [number, number, number, number]);
}

/** One supervised step: L1 image loss + MSE on the dense code, Adam. Returns the loss. */
function supervisedStep(opt: tf.Optimizer, p: Params, x: tf.Tensor4D, target: tf.Tensor4D, code: tf.Tensor2D): number {
  const loss = opt.minimize(
    () =>
      tf.tidy(() => {
        const out = generator(p, x);
        return tf.add(tf.mean(tf.abs(tf.sub(out.image, target))), tf.mean(tf.square(tf.sub(out.code, code)))) as tf.Scalar;
      }),
    true,
    Object.values(p),
  )!;
  const value = loss.dataSync()[0]!;
  loss.dispose();
  return value;
}

/**
 * One WGAN-GP critic step: f(fake) - f(real) + 10·(‖∇ₓf(x̂)‖ - 1)² at random interpolates x̂: the penalty
 * needs the gradient of the gradient (double backprop) through conv, leakyRelu, average pool and dense.
 */
function penaltyStep(opt: tf.Optimizer, p: Params, real: tf.Tensor4D, fake: tf.Tensor4D, alpha: tf.Tensor): number {
  const loss = opt.minimize(
    () =>
      tf.tidy(() => {
        const mixed = tf.add(tf.mul(alpha, real), tf.mul(tf.sub(1, alpha), fake)) as tf.Tensor4D;
        const g = tf.grad((xi: tf.Tensor) => tf.sum(critic(p, xi as tf.Tensor4D)))(mixed);
        const norm = tf.sqrt(tf.add(tf.sum(tf.square(g), [1, 2, 3]), 1e-12));
        const gp = tf.mean(tf.square(tf.sub(norm, 1)));
        const wasserstein = tf.sub(tf.mean(critic(p, fake)), tf.mean(critic(p, real)));
        return tf.add(wasserstein, tf.mul(10, gp)) as tf.Scalar;
      }),
    true,
    Object.values(p),
  )!;
  const value = loss.dataSync()[0]!;
  loss.dispose();
  return value;
}

function close(a: number, b: number, tol = 1e-4): boolean {
  return Math.abs(a - b) <= tol * Math.max(1, Math.abs(b));
}

function maxRelDiff(a: Float32Array, b: Float32Array): number {
  let d = 0;
  let s = 0;
  for (let i = 0; i < a.length; i++) {
    d = Math.max(d, Math.abs(a[i]! - b[i]!));
    s = Math.max(s, Math.abs(b[i]!));
  }
  return d / Math.max(s, 1e-30);
}

test('a training step (conv, relu, leaky relu, strided conv, pixel shuffle, avg pool, dense, Adam) gives the same losses on wasm and cpu', () => {
  const init = initialValues(11, GENERATOR);
  const runs: { losses: number[]; weights: Float32Array[] }[] = [];
  for (const backend of ['cpu', 'wasm']) {
    tf.setBackend(backend);
    const p = makeParams(init);
    const opt = tf.train.adam(1e-2);
    const x = data(1, [2, 8, 8, 3]);
    const target = data(2, [2, 8, 8, 3]);
    const code = tf.reshape(data(3, [2, 1, 1, 6]), [2, 6]) as tf.Tensor2D;
    const losses = [0, 1, 2, 3].map(() => supervisedStep(opt, p, x, target, code));
    runs.push({ losses, weights: Object.values(p).map((v) => v.dataSync() as Float32Array) });
    opt.dispose();
    tf.dispose([x, target, code, ...Object.values(p)]);
  }
  const [cpu, wasm] = runs as [(typeof runs)[0], (typeof runs)[0]];
  assert.ok(cpu.losses[3]! < cpu.losses[0]!, `the loss falls: ${cpu.losses}`);
  cpu.losses.forEach((l, i) => assert.ok(close(wasm.losses[i]!, l), `step ${i}: wasm ${wasm.losses[i]} vs cpu ${l}`));
  cpu.weights.forEach((w, i) => assert.ok(maxRelDiff(wasm.weights[i]!, w) < 1e-4, `weights ${i} after 4 steps`));
});

test('a gradient-penalty (WGAN-GP) critic step works on wasm and matches cpu', () => {
  const init = initialValues(12, CRITIC);
  const runs: number[][] = [];
  for (const backend of ['cpu', 'wasm']) {
    tf.setBackend(backend);
    const p = makeParams(init);
    const opt = tf.train.adam(1e-3, 0.5, 0.9);
    const real = data(4, [3, 8, 8, 3]);
    const fake = tf.mul(data(5, [3, 8, 8, 3]), 0.5) as tf.Tensor4D;
    const alpha = tf.tensor(new Rng(6).normals(3).map((v) => Math.abs(v) % 1), [3, 1, 1, 1]);
    runs.push([0, 1, 2].map(() => penaltyStep(opt, p, real, fake, alpha)));
    opt.dispose();
    tf.dispose([real, fake, alpha, ...Object.values(p)]);
  }
  const [cpu, wasm] = runs as [number[], number[]];
  cpu.forEach((l, i) => assert.ok(Number.isFinite(l) && close(wasm[i]!, l), `step ${i}: wasm ${wasm[i]} vs cpu ${l}`));
});

test('no tensors leak over 50 training and gradient-penalty steps on wasm', () => {
  tf.setBackend('wasm');
  const backend = tf.backend() as unknown as { numDataIds(): number };
  const g = makeParams(initialValues(13, GENERATOR));
  const c = makeParams(initialValues(14, CRITIC));
  const gOpt = tf.train.adam(1e-3);
  const cOpt = tf.train.adam(1e-3);
  const x = data(7, [2, 8, 8, 3]);
  const target = data(8, [2, 8, 8, 3]);
  const code = tf.zeros([2, 6]) as tf.Tensor2D;
  const alpha = tf.fill([2, 1, 1, 1], 0.3);
  const step = () => {
    supervisedStep(gOpt, g, x, target, code);
    penaltyStep(cOpt, c, target, x, alpha);
  };
  step(); // the optimizers create their moment variables on the first step
  const tensors = tf.memory().numTensors;
  const dataIds = backend.numDataIds();
  for (let i = 0; i < 49; i++) step();
  assert.equal(tf.memory().numTensors, tensors, 'tensors');
  assert.equal(backend.numDataIds(), dataIds, 'backend buffers');
  gOpt.dispose();
  cOpt.dispose();
  tf.dispose([x, target, code, alpha, ...Object.values(g), ...Object.values(c)]);
});
