import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../../src/engine/backend.js';
import { registerMissingGradients } from '../../src/engine/gradients.js';
import { Rng } from '../../src/util/rng.js';
import { type HostTensor, dilateFilter, relError, undilateFilter } from './conv-reference.js';

const BACKENDS = ['cpu', 'wasm'] as const;
const rng = new Rng(7);

await initBackend('cpu');
await initBackend('wasm');

function randn(shape: number[]): tf.Tensor {
  return tf.tensor(rng.normals(shape.reduce((a, b) => a * b, 1)), shape);
}

function hostOf(t: tf.Tensor): HostTensor {
  return { values: t.dataSync() as Float32Array, shape: t.shape };
}

/**
 * For a linear map A whose gradient g(v) = Aᵀv otsr registers: <A(u), v> must equal <u, g(v)> for random
 * u and v, which pins g down exactly (a wrong adjoint fails for almost every u, v).
 */
function assertAdjoint(apply: (u: tf.Tensor) => tf.Tensor, inShape: number[], label: string): void {
  tf.tidy(() => {
    for (let trial = 0; trial < 3; trial++) {
      const u = randn(inShape);
      const v = randn(apply(u).shape);
      const lhs = tf.sum(tf.mul(apply(u), v)).dataSync()[0]!;
      const g = tf.grad((w: tf.Tensor) => tf.sum(tf.mul(apply(w), v)))(u);
      const rhs = tf.sum(tf.mul(u, g)).dataSync()[0]!;
      assert.ok(Math.abs(lhs - rhs) <= 1e-4 * (Math.abs(lhs) + 1), `${label}: <Au,v> = ${lhs}, <u,Aᵀv> = ${rhs}`);
    }
  });
}

test("tfjs-core's own gradients are registered by initBackend", () => {
  for (const name of ['Sum', 'Conv2D', 'BatchMatMul', 'LeakyRelu', 'AvgPool', 'Transpose']) {
    assert.ok(tf.getGradient(name), `gradient of ${name}`);
  }
  registerMissingGradients(); // idempotent
  assert.ok(tf.getGradient('DepthToSpace'));
});

test('DepthToSpace (pixel shuffle) has an exact gradient, NHWC and NCHW', () => {
  for (const backend of BACKENDS) {
    tf.setBackend(backend);
    for (const s of [2, 3]) {
      assertAdjoint((u) => tf.depthToSpace(u as tf.Tensor4D, s, 'NHWC'), [2, 3, 4, s * s * 5], `${backend} NHWC s=${s}`);
      // tfjs's cpu DepthToSpace supports only NHWC.
      if (backend === 'wasm') {
        assertAdjoint((u) => tf.depthToSpace(u as tf.Tensor4D, s, 'NCHW'), [2, s * s * 5, 3, 4], `${backend} NCHW s=${s}`);
      }
    }
  }
});

test('AvgPoolGrad has an exact gradient (double backprop through average pools)', () => {
  const configs: { shape: number[]; filter: number; stride: number; pad: 'same' | 'valid' | number }[] = [
    { shape: [2, 8, 8, 3], filter: 2, stride: 2, pad: 'valid' },
    { shape: [2, 9, 7, 3], filter: 3, stride: 2, pad: 'valid' },
    { shape: [1, 7, 9, 2], filter: 3, stride: 2, pad: 'same' },
    { shape: [1, 6, 6, 2], filter: 3, stride: 1, pad: 1 },
  ];
  for (const backend of BACKENDS) {
    tf.setBackend(backend);
    for (const c of configs) {
      tf.tidy(() => {
        const input = randn(c.shape) as tf.Tensor4D;
        const dyShape = tf.avgPool(input, c.filter, c.stride, c.pad).shape;
        const poolGrad = (dy: tf.Tensor) =>
          tf.engine().runKernel('AvgPoolGrad', { dy, input }, { filterSize: c.filter, strides: c.stride, pad: c.pad } as unknown as tf.NamedAttrMap) as tf.Tensor;
        assertAdjoint(poolGrad, dyShape, `${backend} ${JSON.stringify(c)}`);
      });
    }
  }
});

test('comparisons have zero gradients, so masks built from them can be differentiated through', () => {
  for (const backend of BACKENDS) {
    tf.setBackend(backend);
    tf.tidy(() => {
      const x = randn([5, 4]);
      for (const op of [tf.greater, tf.less, tf.lessEqual, tf.equal, tf.notEqual]) {
        const g = tf.grad((a: tf.Tensor) => tf.sum(tf.mul(tf.cast(op(a, 0.1), 'float32'), a)))(x);
        // d/da [mask(a)·a] = mask(a) almost everywhere: the mask itself contributes nothing.
        const mask = tf.cast(op(x, 0.1), 'float32');
        assert.ok(relError(hostOf(g), hostOf(mask)) < 1e-6, `${backend} ${op.name}`);
      }
      const g = tf.grad((a: tf.Tensor) => tf.sum(tf.mul(tf.cast(tf.logicalNot(tf.greater(a, 0)), 'float32'), a)))(x);
      assert.ok(relError(hostOf(g), hostOf(tf.cast(tf.lessEqual(x, 0), 'float32'))) < 1e-6, `${backend} logicalNot`);
    });
  }
});

test('conv2d with dilations > 1 has gradients on cpu and wasm (tfjs-core refuses them)', () => {
  const cases: { x: number[]; w: number[]; d: [number, number]; pad: 'same' | 'valid' | number }[] = [
    { x: [2, 9, 8, 3], w: [3, 3, 3, 4], d: [2, 2], pad: 'same' },
    { x: [1, 10, 7, 2], w: [3, 2, 2, 5], d: [3, 2], pad: 'valid' },
    { x: [2, 6, 6, 4], w: [2, 3, 4, 3], d: [1, 2], pad: 1 },
  ];
  for (const c of cases) {
    const x = randn(c.x);
    const w = randn(c.w);
    const wide = tf.tensor(dilateFilter(hostOf(w), c.d).values, dilateFilter(hostOf(w), c.d).shape);
    tf.setBackend('cpu');
    const probe = tf.tidy(() => randn(tf.conv2d(x as tf.Tensor4D, wide as tf.Tensor4D, 1, c.pad).shape));
    // Reference: the plain conv with the zero-stuffed filter, whose gradients tfjs-core has.
    const [refX, refWide] = tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, 1, c.pad), probe)))([
      x,
      wide,
    ]);
    const refW = undilateFilter(hostOf(refWide!), c.w, c.d);
    for (const backend of BACKENDS) {
      tf.setBackend(backend);
      const [gx, gw] = tf.grads((a: tf.Tensor, b: tf.Tensor) =>
        tf.sum(tf.mul(tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, 1, c.pad, 'NHWC', c.d), probe)),
      )([x, w]);
      assert.ok(relError(hostOf(gx!), hostOf(refX!)) < 1e-4, `${backend} dx ${JSON.stringify(c)}`);
      assert.ok(relError(hostOf(gw!), refW) < 1e-4, `${backend} dw ${JSON.stringify(c)}`);
      tf.dispose([gx!, gw!]);
    }
    tf.dispose([x, w, wide, probe, refX!, refWide!]);
  }
});

test('double backprop through a dilated conv agrees between wasm and cpu', () => {
  const x = randn([2, 8, 8, 3]);
  const w1 = randn([3, 3, 3, 4]);
  const w2 = randn([3, 3, 4, 2]);
  const results: HostTensor[][] = [];
  for (const backend of BACKENDS) {
    tf.setBackend(backend);
    const grads = tf.tidy(() => {
      const penalty = (a: tf.Tensor, b: tf.Tensor) => {
        const f = (xi: tf.Tensor) =>
          tf.sum(tf.conv2d(tf.leakyRelu(tf.conv2d(xi as tf.Tensor4D, a as tf.Tensor4D, 1, 'same', 'NHWC', 2), 0.2), b as tf.Tensor4D, 1, 'valid'));
        return tf.sum(tf.square(tf.grad(f)(x)));
      };
      return tf.grads(penalty)([w1, w2]);
    });
    results.push(grads.map(hostOf));
    tf.dispose(grads);
  }
  results[0]!.forEach((cpu, i) => assert.ok(relError(results[1]![i]!, cpu) < 1e-4, `gradient ${i}`));
  tf.dispose([x, w1, w2]);
});
