import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../../src/engine/backend.js';
import type { FilterGradStrategy } from '../../src/engine/conv-backprop-filter.js';
import {
  registerWasmTrainingKernels,
  stockWasmKernel,
} from '../../src/engine/wasm-kernels.js';
import { Rng } from '../../src/util/rng.js';
import { type HostTensor, dilateFilter, relError, runOn, undilateFilter } from './conv-reference.js';

type Pad = 'same' | 'valid' | number | [[number, number], [number, number], [number, number], [number, number]];
interface Case {
  batch: number;
  size: [number, number];
  filter: [number, number];
  channels: [number, number];
  strides: [number, number];
  dilations: [number, number];
  pad: Pad;
  rounding?: 'floor' | 'round' | 'ceil';
}

const TOLERANCE = 1e-4;
const rng = new Rng(2024);

await initBackend('cpu');
await initBackend('wasm');

function host(shape: number[]): HostTensor {
  return { values: rng.normals(shape.reduce((a, b) => a * b, 1)), shape };
}

function geometry(c: Case): tf.backend_util.Conv2DInfo | undefined {
  try {
    const info = tf.backend_util.computeConv2DInfo(
      [c.batch, ...c.size, c.channels[0]],
      [...c.filter, ...c.channels],
      c.strides,
      c.dilations,
      c.pad,
      c.rounding,
    );
    return info.outHeight > 0 && info.outWidth > 0 ? info : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Both backprop kernels of otsr on wasm against tfjs's cpu kernels on fresh random data. The cpu kernels
 * ignore dilations, so a dilated conv is checked as the plain conv with the zero-stuffed filter.
 */
function check(c: Case, strategy: FilterGradStrategy = 'auto', maxContraction?: number): { dx: number; dw: number } {
  const info = geometry(c)!;
  const xShape = [c.batch, ...c.size, c.channels[0]];
  const fShape = [...c.filter, ...c.channels];
  const x = host(xShape);
  const w = host(fShape);
  const dy = host([c.batch, info.outHeight, info.outWidth, c.channels[1]]);
  const common = { strides: c.strides, pad: c.pad, dataFormat: 'NHWC', dimRoundingMode: c.rounding };
  const dilated = c.dilations[0] > 1 || c.dilations[1] > 1;
  const wide = dilated ? dilateFilter(w, c.dilations) : w;
  const refDx = runOn('cpu', 'Conv2DBackpropInput', { dy, filter: wide }, { ...common, inputShape: xShape });
  const refWide = runOn('cpu', 'Conv2DBackpropFilter', { x, dy }, { ...common, filterShape: wide.shape });
  const refDw = dilated ? undilateFilter(refWide, fShape, c.dilations) : refWide;
  const extra = dilated ? { dilations: c.dilations } : {};
  const dx = runOn('wasm', 'Conv2DBackpropInput', { dy, filter: w }, { ...common, ...extra, inputShape: xShape });
  // otsr's per-call options of the filter gradient, as attrs.
  const options = { filterGradStrategy: strategy, ...(maxContraction === undefined ? {} : { maxContraction }) };
  const dw = runOn('wasm', 'Conv2DBackpropFilter', { x, dy }, { ...common, ...extra, ...options, filterShape: fShape });
  return { dx: relError(dx, refDx), dw: relError(dw, refDw) };
}

function* grid(): Generator<Case> {
  const sizes: [number, number][] = [[5, 5], [6, 7], [2, 3], [1, 1]];
  const filters: [number, number][] = [[1, 1], [2, 2], [3, 3], [4, 4], [3, 2]];
  const strides: [number, number][] = [[1, 1], [2, 2], [3, 3], [2, 1]];
  const dilations: [number, number][] = [[1, 1], [2, 2], [1, 3]];
  const pads: Pad[] = ['same', 'valid', 0, 1, 2, [[0, 0], [2, 0], [1, 3], [0, 0]]];
  let i = 0;
  for (const size of sizes)
    for (const filter of filters)
      for (const s of strides)
        for (const d of dilations)
          for (const pad of pads) {
            i++;
            // [16, 8]: whole GEMM panels and segments of 16 in both the forward conv and the input gradient's.
            const channels: [number, number] = ([[8, 2], [3, 5], [4, 4], [16, 8]] as const)[i % 4] as [number, number];
            const rounding = typeof pad === 'number' ? (['floor', 'ceil', 'round'] as const)[i % 3] : undefined;
            const c: Case = { batch: 1 + (i % 2), size, filter, channels, strides: s, dilations: d, pad, rounding };
            if (geometry(c)) yield c;
          }
}

test('Conv2DBackpropInput and Conv2DBackpropFilter on wasm match cpu over strides, paddings, dilations and odd sizes', () => {
  let worst = { dx: 0, dw: 0 };
  let n = 0;
  for (const c of grid()) {
    const e = check(c);
    n++;
    assert.ok(e.dx < TOLERANCE && e.dw < TOLERANCE, `${JSON.stringify(c)}: dx error ${e.dx}, dw error ${e.dw}`);
    worst = { dx: Math.max(worst.dx, e.dx), dw: Math.max(worst.dw, e.dw) };
  }
  assert.ok(n > 700, `only ${n} cases`);
});

/** The forward conv on wasm with an epilogue, against cpu (a dilated conv as the plain conv with the zero-stuffed filter). */
function checkForward(c: Case, epilogue: { bias: boolean; activation: string }): number {
  const info = geometry(c)!;
  const x = host([c.batch, ...c.size, c.channels[0]]);
  const w = host([...c.filter, ...c.channels]);
  const bias = host([c.channels[1]]);
  const alpha = host([1, 1, 1, c.channels[1]]);
  const dilated = c.dilations[0] > 1 || c.dilations[1] > 1;
  const wide = dilated ? dilateFilter(w, c.dilations) : w;
  const attrs = { strides: c.strides, pad: c.pad, dataFormat: 'NHWC', dimRoundingMode: c.rounding, activation: epilogue.activation, leakyreluAlpha: 0.3 };
  const inputs = (filter: HostTensor) => ({
    x,
    filter,
    ...(epilogue.bias ? { bias } : {}),
    ...(epilogue.activation === 'prelu' ? { preluActivationWeights: alpha } : {}),
  });
  const plain = runOn('wasm', 'Conv2D', { x, filter: w }, { ...attrs, dilations: c.dilations });
  assert.deepEqual(plain.shape, [c.batch, info.outHeight, info.outWidth, c.channels[1]]);
  const plainRef = runOn('cpu', 'Conv2D', { x, filter: wide }, { ...attrs, dilations: 1 });
  const ref = runOn('cpu', 'FusedConv2D', inputs(wide), { ...attrs, dilations: 1 });
  const ours = runOn('wasm', 'FusedConv2D', inputs(w), { ...attrs, dilations: c.dilations });
  return Math.max(relError(ours, ref), relError(plain, plainRef));
}

test('Conv2D and FusedConv2D on wasm (otsr GEMM, with bias and every activation) match cpu over the grid', () => {
  const activations = ['linear', 'relu', 'leakyrelu', 'prelu', 'elu', 'relu6', 'sigmoid'];
  let i = 0;
  for (const c of grid()) {
    if (i++ % 2 !== 0) continue;
    const epilogue = { bias: i % 3 !== 0, activation: activations[i % activations.length]! };
    const e = checkForward(c, epilogue);
    assert.ok(e < TOLERANCE, `${JSON.stringify(c)} ${JSON.stringify(epilogue)}: error ${e}`);
  }
});

test('the filter gradient matches cpu over (a third of) the grid also with the contraction split in small blocks', () => {
  let i = 0;
  for (const c of grid()) {
    if (i++ % 3 !== 0) continue;
    const e = check(c, 'direct', 5);
    assert.ok(e.dw < TOLERANCE, `${JSON.stringify(c)}: dw error ${e.dw}`);
  }
});

test('every filter-gradient method matches cpu, also when the contraction is split over images and rows', () => {
  const cases: Case[] = [
    { batch: 3, size: [7, 6], filter: [3, 3], channels: [5, 7], strides: [1, 1], dilations: [1, 1], pad: 'same' },
    { batch: 3, size: [5, 6], filter: [3, 3], channels: [3, 4], strides: [1, 1], dilations: [1, 1], pad: 'same' },
    { batch: 3, size: [8, 9], filter: [3, 3], channels: [6, 2], strides: [2, 2], dilations: [1, 1], pad: 'same' },
    { batch: 2, size: [9, 9], filter: [3, 2], channels: [3, 9], strides: [1, 2], dilations: [2, 1], pad: 1 },
    { batch: 2, size: [6, 6], filter: [4, 4], channels: [2, 3], strides: [2, 2], dilations: [1, 1], pad: 'valid' },
  ];
  // 4096: one block; 60: two images per block (and a last, smaller one); 7: a few output rows per block.
  for (const blocks of [4096, 60, 7]) {
    for (const c of cases) {
      for (const strategy of ['patches', 'shiftedDy', 'conv'] as const) {
        const e = check(c, strategy, blocks);
        assert.ok(e.dw < TOLERANCE, `${strategy}, block ${blocks}, ${JSON.stringify(c)}: dw error ${e.dw}`);
      }
    }
  }
});

test('wide layers (as in EDSR: 32 -> 128 and 32 -> 3 channels) match cpu', () => {
  for (const activation of ['linear', 'relu']) {
    const e = checkForward({ batch: 2, size: [6, 5], filter: [3, 3], channels: [32, 128], strides: [1, 1], dilations: [1, 1], pad: 'same' }, { bias: true, activation });
    assert.ok(e < TOLERANCE, `forward 32 -> 128 ${activation}: ${e}`);
  }
  // Small spatial sizes: the cpu reference runs at ~0.05 GFLOP/s.
  for (const c of [
    { batch: 2, size: [6, 5], filter: [3, 3], channels: [32, 128], strides: [1, 1], dilations: [1, 1], pad: 'same' },
    { batch: 2, size: [10, 10], filter: [3, 3], channels: [32, 3], strides: [1, 1], dilations: [1, 1], pad: 'same' },
  ] as Case[]) {
    const e = check(c);
    assert.ok(e.dx < TOLERANCE && e.dw < TOLERANCE, `${JSON.stringify(c)}: ${JSON.stringify(e)}`);
  }
});

test('the kernels free every intermediate and registration is idempotent', () => {
  tf.setBackend('wasm');
  const backend = tf.backend() as unknown as { numDataIds(): number };
  const ours = tf.getKernel('Conv2DBackpropFilter', 'wasm');
  registerWasmTrainingKernels();
  registerWasmTrainingKernels();
  assert.equal(tf.getKernel('Conv2DBackpropFilter', 'wasm'), ours);
  const x = tf.randomNormal([2, 9, 9, 4], 0, 1, 'float32', 1) as tf.Tensor4D;
  const w = tf.randomNormal([3, 3, 4, 6], 0, 1, 'float32', 2) as tf.Tensor4D;
  const step = () =>
    tf.tidy(() => {
      const [gx, gw] = tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, 2, 'same')))([x, w]);
      return tf.add(tf.sum(gx!), tf.sum(gw!)).dataSync()[0]!;
    });
  const alpha = tf.fill([6], 0.1);
  const fused = () =>
    tf.tidy(() => {
      // A broadcast bias and prelu run after the GEMM, as kernels of their own.
      const y = tf.fused.conv2d({ x, filter: w, strides: 1, pad: 'same', bias: tf.scalar(0.5), activation: 'prelu', preluActivationWeights: alpha });
      return tf.sum(y).dataSync()[0]!;
    });
  step();
  fused();
  const [tensors, ids] = [tf.memory().numTensors, backend.numDataIds()];
  for (let i = 0; i < 5; i++) step();
  for (let i = 0; i < 5; i++) fused();
  assert.equal(tf.memory().numTensors, tensors);
  assert.equal(backend.numDataIds(), ids);
  tf.dispose([x, w, alpha]);
});

test("tfjs-backend-wasm's own Conv2DBackpropInput stays reachable for benchmarks", () => {
  tf.setBackend('wasm');
  const stock = stockWasmKernel('Conv2DBackpropInput', tf.backend());
  assert.ok(stock, 'the stock kernel was kept');
  assert.equal(stockWasmKernel('Conv2DBackpropFilter', tf.backend()), undefined);
  const dy = host([2, 5, 5, 3]);
  const w = host([3, 3, 4, 3]);
  const attrs = { strides: 1, pad: 'same', dataFormat: 'NHWC', inputShape: [2, 5, 5, 4] };
  const ours = runOn('wasm', 'Conv2DBackpropInput', { dy, filter: w }, attrs);
  const theirs = tf.tidy(() => {
    const info = stock!({
      inputs: { dy: tf.tensor(dy.values, dy.shape), filter: tf.tensor(w.values, w.shape) },
      backend: tf.backend(),
      attrs: attrs as unknown as tf.NamedAttrMap,
    }) as tf.TensorInfo;
    const t = tf.engine().makeTensorFromTensorInfo(info);
    return { values: t.dataSync() as Float32Array, shape: t.shape };
  });
  assert.ok(relError(ours, theirs) < TOLERANCE);
});

test('Sum on wasm (fast over leading axes, stock otherwise) matches cpu', () => {
  const x = host([3, 5, 4, 6]);
  const cases: { axis: number | number[]; keepDims: boolean }[] = [
    { axis: [0, 1, 2], keepDims: false },
    { axis: [2, 0, 1], keepDims: true },
    { axis: 0, keepDims: false },
    { axis: [0, 1], keepDims: true },
    { axis: [1, 2], keepDims: false },
    { axis: -1, keepDims: false },
    { axis: [0, 1, 2, 3], keepDims: false },
  ];
  for (const c of cases) {
    const ref = runOn('cpu', 'Sum', { x }, c);
    const ours = runOn('wasm', 'Sum', { x }, c);
    assert.deepEqual(ours.shape, ref.shape);
    // Sums of up to 360 unit normals, accumulated in different orders: compare absolutely.
    const diff = Math.max(...ours.values.map((v, i) => Math.abs(v - ref.values[i]!)));
    assert.ok(diff < 1e-4, `${JSON.stringify(c)}: ${diff}`);
  }
});

test('Identity on wasm shares the data of its input: a clone outlives the original, and nothing leaks', () => {
  tf.setBackend('wasm');
  const backend = tf.backend() as unknown as { numDataIds(): number };
  const ids = backend.numDataIds();
  const x = tf.tensor1d([1, 2, 3, 4, 5]);
  const y = tf.clone(x);
  assert.equal(backend.numDataIds(), ids + 1, 'one buffer for both');
  x.dispose();
  assert.deepEqual([...y.dataSync()], [1, 2, 3, 4, 5]);
  y.dispose();
  assert.equal(backend.numDataIds(), ids);
  // A variable assigned a new value leaves its clones with the old one.
  const v = tf.variable(tf.tensor1d([1, 2]));
  const saved = tf.clone(v);
  v.assign(tf.tensor1d([7, 8]));
  assert.deepEqual([...saved.dataSync()], [1, 2]);
  tf.dispose([v, saved]);
});
