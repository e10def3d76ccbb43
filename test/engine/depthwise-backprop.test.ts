import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../../src/engine/backend.js';
import { Rng } from '../../src/util/rng.js';
import { type HostTensor, relError, runOn } from './conv-reference.js';

type Pad = 'same' | 'valid' | number | [[number, number], [number, number], [number, number], [number, number]];
interface Case {
  batch: number;
  size: [number, number];
  filter: [number, number];
  channels: number;
  multiplier: number;
  strides: [number, number];
  pad: Pad;
  dilations?: [number, number];
}

const TOLERANCE = 1e-5;
const rng = new Rng(99);

await initBackend('cpu');
await initBackend('wasm');

function host(shape: number[]): HostTensor {
  return { values: rng.normals(shape.reduce((a, b) => a * b, 1)), shape };
}

function outShape(c: Case): number[] | undefined {
  try {
    const info = tf.backend_util.computeConv2DInfo(
      [c.batch, ...c.size, c.channels],
      [...c.filter, c.channels, c.multiplier],
      c.strides,
      c.dilations ?? 1,
      c.pad,
      undefined,
      true,
    );
    return info.outHeight > 0 && info.outWidth > 0 ? [c.batch, info.outHeight, info.outWidth, c.channels * c.multiplier] : undefined;
  } catch {
    return undefined;
  }
}

function* grid(): Generator<Case> {
  const sizes: [number, number][] = [[5, 5], [6, 7], [2, 3], [9, 4]];
  const filters: [number, number][] = [[1, 1], [3, 3], [2, 3], [5, 5]];
  const strides: [number, number][] = [[1, 1], [2, 2], [3, 1]];
  const pads: Pad[] = ['same', 'valid', 1, [[0, 0], [0, 1], [2, 0], [0, 0]]];
  let i = 0;
  for (const size of sizes)
    for (const filter of filters)
      for (const s of strides)
        for (const pad of pads) {
          i++;
          const [channels, multiplier] = ([[3, 1], [8, 1], [4, 2], [1, 3]] as const)[i % 4]!;
          const c: Case = { batch: 1 + (i % 2), size, filter, channels, multiplier, strides: s, pad };
          if (outShape(c)) yield c;
        }
}

test('DepthwiseConv2dNativeBackpropInput and ...Filter on wasm match cpu over sizes, strides, paddings, multipliers', () => {
  let n = 0;
  for (const c of grid()) {
    const xShape = [c.batch, ...c.size, c.channels];
    const fShape = [...c.filter, c.channels, c.multiplier];
    const x = host(xShape), w = host(fShape), dy = host(outShape(c)!);
    const attrs = { strides: c.strides, pad: c.pad, dilations: 1 };
    const dx = runOn('wasm', 'DepthwiseConv2dNativeBackpropInput', { dy, filter: w }, { ...attrs, inputShape: xShape });
    const refDx = runOn('cpu', 'DepthwiseConv2dNativeBackpropInput', { dy, filter: w }, { ...attrs, inputShape: xShape });
    const dw = runOn('wasm', 'DepthwiseConv2dNativeBackpropFilter', { x, dy }, { ...attrs, filterShape: fShape });
    const refDw = runOn('cpu', 'DepthwiseConv2dNativeBackpropFilter', { x, dy }, { ...attrs, filterShape: fShape });
    const e = { dx: relError(dx, refDx), dw: relError(dw, refDw) };
    assert.ok(e.dx < TOLERANCE && e.dw < TOLERANCE, `${JSON.stringify(c)}: ${JSON.stringify(e)}`);
    n++;
  }
  assert.ok(n > 150, `only ${n} cases`);
});

test('with dilations (which the cpu kernels ignore) both are the adjoints of the forward depthwise conv', () => {
  tf.setBackend('wasm');
  const cases: Case[] = [
    { batch: 2, size: [9, 8], filter: [3, 3], channels: 4, multiplier: 1, strides: [1, 1], pad: 'same', dilations: [2, 2] },
    { batch: 1, size: [10, 7], filter: [3, 2], channels: 2, multiplier: 2, strides: [1, 1], pad: 'valid', dilations: [3, 2] },
  ];
  for (const c of cases) {
    tf.tidy(() => {
      const x = tf.tensor(host([c.batch, ...c.size, c.channels]).values, [c.batch, ...c.size, c.channels]) as tf.Tensor4D;
      const w = tf.tensor(host([...c.filter, c.channels, c.multiplier]).values, [...c.filter, c.channels, c.multiplier]) as tf.Tensor4D;
      const y = tf.depthwiseConv2d(x, w, c.strides, c.pad as 'same', 'NHWC', c.dilations);
      const dy = tf.tensor(host(y.shape).values, y.shape);
      const attrs = { strides: c.strides, pad: c.pad, dilations: c.dilations };
      const run = (name: string, inputs: tf.NamedTensorMap, extra: object) =>
        tf.engine().runKernel(name, inputs, { ...attrs, ...extra } as unknown as tf.NamedAttrMap) as tf.Tensor;
      const dx = run('DepthwiseConv2dNativeBackpropInput', { dy, filter: w }, { inputShape: x.shape });
      const dw = run('DepthwiseConv2dNativeBackpropFilter', { x, dy }, { filterShape: w.shape });
      // <y, dy> = <x, dx> = <w, dw>: the conv is linear in x and in w.
      const lhs = tf.sum(tf.mul(y, dy)).dataSync()[0]!;
      for (const [a, b, what] of [[x, dx, 'dx'], [w, dw, 'dw']] as const) {
        const rhs = tf.sum(tf.mul(a, b)).dataSync()[0]!;
        assert.ok(Math.abs(lhs - rhs) < 1e-4 * (Math.abs(lhs) + 1), `${JSON.stringify(c)} ${what}: ${lhs} vs ${rhs}`);
      }
    });
  }
});

test('tf.grad through (fused) depthwise convs works on wasm, equals cpu, and frees every intermediate', () => {
  const x0 = host([2, 11, 10, 6]), w0 = host([3, 3, 6, 1]), b0 = host([6]);
  const grads = (backend: string) => {
    tf.setBackend(backend);
    return tf.tidy(() => {
      const [x, w, bias] = [tf.tensor4d(x0.values, x0.shape as [number, number, number, number]), tf.tensor4d(w0.values, w0.shape as [number, number, number, number]), tf.tensor1d(b0.values)];
      const f = (a: tf.Tensor, b: tf.Tensor) => {
        const y = tf.fused.depthwiseConv2d({ x: a as tf.Tensor4D, filter: b as tf.Tensor4D, strides: 2, pad: 'same', bias, activation: 'relu' });
        return tf.sum(tf.square(tf.depthwiseConv2d(y, b as tf.Tensor4D, 1, 'valid')));
      };
      return tf.grads(f)([x, w]).map((g) => ({ values: g.dataSync() as Float32Array, shape: g.shape }));
    });
  };
  const [cx, cw] = grads('cpu');
  grads('wasm');
  const backend = tf.backend() as unknown as { numDataIds(): number };
  const [tensors, ids] = [tf.memory().numTensors, backend.numDataIds()];
  const [wx, ww] = grads('wasm');
  assert.equal(tf.memory().numTensors, tensors);
  assert.equal(backend.numDataIds(), ids);
  assert.ok(relError(wx!, cx!) < 1e-5, `dx ${relError(wx!, cx!)}`);
  assert.ok(relError(ww!, cw!) < 1e-5, `dw ${relError(ww!, cw!)}`);
});
