import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../../src/engine/backend.js';
import { type ConvMethod, convMethodFor } from '../../src/engine/conv-forward.js';
import { setConvMethod, setFilterGradStrategy } from '../../src/engine/wasm-kernels.js';
import { Edsr } from '../../src/nn/edsr.js';
import { Rng } from '../../src/util/rng.js';
import { type HostTensor, relError, runOn } from './conv-reference.js';

/**
 * Tolerances (max |ours - cpu| / max |cpu|, the engine's error measure) per method, with their reason.
 * Direct: 1e-4 as every engine test (measured ~1e-6). Winograd computes the same sums through fixed linear
 * transforms whose intermediate values are larger than the data (by ‖Bᵀ‖²‖G‖²‖Aᵀ‖² at worst: 81 for
 * F(2x2), 9025 for F(4x4), see wasm/winograd.ts), so its rounding error is that much larger at worst and
 * grows with the channels summed. Measured worst over this grid (up to 64 channels of unit normals): F(2x2)
 * 1.1e-6, F(4x4) 5.1e-6; the tolerances leave 20-40x margin over them.
 */
const TOLERANCE: Record<ConvMethod, number> = { direct: 1e-4, winograd2: 2e-5, winograd4: 2e-4 };
const WINOGRAD = ['winograd2', 'winograd4'] as const;

await initBackend('cpu');
await initBackend('wasm');
const rng = new Rng(2025);

function host(shape: number[]): HostTensor {
  return { values: rng.normals(shape.reduce((a, b) => a * b, 1)), shape };
}

type Pad = 'same' | 'valid' | number | [[number, number], [number, number], [number, number], [number, number]];
interface Case {
  batch: number;
  size: [number, number];
  channels: [number, number];
  pad: Pad;
}

/** 3x3 stride-1 convs over odd sizes (tiles overhang the output), every padding and channels in fours. */
function* grid(): Generator<Case> {
  const sizes: [number, number][] = [[5, 5], [6, 7], [2, 3], [1, 1], [9, 8], [13, 11]];
  const pads: Pad[] = ['same', 'valid', 0, 1, 2, [[0, 0], [2, 0], [1, 3], [0, 0]]];
  // [12, 20]: 20 output channels, a last half panel of the GEMM (8·2 + 4).
  const channels: [number, number][] = [[4, 4], [16, 8], [8, 12], [12, 20], [64, 16]];
  let i = 0;
  for (const size of sizes)
    for (const pad of pads)
      for (const ch of channels) {
        i++;
        const c: Case = { batch: 1 + (i % 2), size, channels: ch, pad };
        const outH = tf.backend_util.computeConv2DInfo([c.batch, ...size, ch[0]], [3, 3, ...ch], 1, 1, pad).outHeight;
        const outW = tf.backend_util.computeConv2DInfo([c.batch, ...size, ch[0]], [3, 3, ...ch], 1, 1, pad).outWidth;
        if (outH > 0 && outW > 0) yield c;
      }
}

test('Winograd F(2x2) and F(4x4) forward convs (with bias and every activation) match cpu over the grid', () => {
  const activations = ['linear', 'relu', 'leakyrelu', 'prelu'];
  let i = 0;
  for (const c of grid()) {
    i++;
    const x = host([c.batch, ...c.size, c.channels[0]]);
    const filter = host([3, 3, ...c.channels]);
    const bias = host([c.channels[1]]);
    const activation = activations[i % activations.length]!;
    const inputs = { x, filter, ...(i % 3 !== 0 ? { bias } : {}), ...(activation === 'prelu' ? { preluActivationWeights: host([c.channels[1]]) } : {}) };
    const attrs = { strides: 1, pad: c.pad, dataFormat: 'NHWC', dilations: 1, activation, leakyreluAlpha: 0.2 };
    const ref = runOn('cpu', 'FusedConv2D', inputs, attrs);
    for (const method of WINOGRAD) {
      const ours = runOn('wasm', 'FusedConv2D', inputs, { ...attrs, convMethod: method });
      const e = relError(ours, ref);
      assert.ok(e < TOLERANCE[method], `${method} ${JSON.stringify(c)} ${activation}: error ${e}`);
    }
  }
  assert.ok(i > 150, `only ${i} cases`);
});

test('the input gradient (a stride-1 conv of dy with the rotated filter) on Winograd matches cpu over the grid', () => {
  for (const method of WINOGRAD) {
    const previous = setConvMethod(method);
    try {
      let i = 0;
      for (const c of grid()) {
        if (i++ % 2 !== 0) continue;
        const info = tf.backend_util.computeConv2DInfo([c.batch, ...c.size, c.channels[0]], [3, 3, ...c.channels], 1, 1, c.pad);
        const filter = host([3, 3, ...c.channels]);
        const dy = host([c.batch, info.outHeight, info.outWidth, c.channels[1]]);
        const attrs = { strides: 1, pad: c.pad, dataFormat: 'NHWC', inputShape: [c.batch, ...c.size, c.channels[0]] };
        const ref = runOn('cpu', 'Conv2DBackpropInput', { dy, filter }, attrs);
        const e = relError(runOn('wasm', 'Conv2DBackpropInput', { dy, filter }, attrs), ref);
        assert.ok(e < TOLERANCE[method], `${method} dx ${JSON.stringify(c)}: error ${e}`);
      }
    } finally {
      setConvMethod(previous);
    }
  }
});

test('the filter gradient on Winograd F(2x2) and F(4x4) matches cpu over (half of) the grid', () => {
  let i = 0;
  for (const c of grid()) {
    if (i++ % 2 !== 0) continue; // cpu's filter gradient is the slow part
    const info = tf.backend_util.computeConv2DInfo([c.batch, ...c.size, c.channels[0]], [3, 3, ...c.channels], 1, 1, c.pad);
    const x = host([c.batch, ...c.size, c.channels[0]]);
    const dy = host([c.batch, info.outHeight, info.outWidth, c.channels[1]]);
    const attrs = { strides: 1, pad: c.pad, dataFormat: 'NHWC', filterShape: [3, 3, ...c.channels] };
    const ref = runOn('cpu', 'Conv2DBackpropFilter', { x, dy }, attrs);
    for (const method of WINOGRAD) {
      const e = relError(runOn('wasm', 'Conv2DBackpropFilter', { x, dy }, { ...attrs, filterGradStrategy: method }), ref);
      assert.ok(e < TOLERANCE[method], `${method} dw ${JSON.stringify(c)}: error ${e}`);
    }
  }
});

/** The filter gradient of a 3x3 'same' conv of one image, in float64 JS loops. */
function sameFilterGrad(x: HostTensor, dy: HostTensor): HostTensor {
  const [, h, w, inC] = x.shape as [number, number, number, number];
  const outC = dy.shape[3]!;
  const acc = new Float64Array(9 * inC * outC);
  for (let oh = 0; oh < h; oh++)
    for (let ow = 0; ow < w; ow++)
      for (let kh = 0; kh < 3; kh++)
        for (let kw = 0; kw < 3; kw++) {
          const [ih, iw] = [oh + kh - 1, ow + kw - 1];
          if (ih < 0 || ih >= h || iw < 0 || iw >= w) continue;
          const xs = (ih * w + iw) * inC;
          const ds = (oh * w + ow) * outC;
          for (let ci = 0; ci < inC; ci++) {
            const xv = x.values[xs + ci]!;
            const base = ((kh * 3 + kw) * inC + ci) * outC;
            for (let co = 0; co < outC; co++) acc[base + co]! += xv * dy.values[ds + co]!;
          }
        }
  return { values: Float32Array.from(acc), shape: [3, 3, inC, outC] };
}

test('the Winograd filter gradient sums over several blocks of tiles, also with a last half panel', () => {
  // 100 F(4x4) tiles of 40 x 40: a block holds 95 of them at 64 -> 68 channels (2 MiB / (36 x (320 + 288)
  // bytes)), so a full block and a short one, whose 68 = 8·8 + 4 columns end in a half panel.
  for (const channels of [[64, 68]] as const) {
    const x = host([1, 40, 40, channels[0]]);
    const dy = host([1, 40, 40, channels[1]]);
    const attrs = { strides: 1, pad: 'same', dataFormat: 'NHWC', filterShape: [3, 3, ...channels] };
    const ref = sameFilterGrad(x, dy); // cpu's kernel would take ~15 s here
    const e = relError(runOn('wasm', 'Conv2DBackpropFilter', { x, dy }, { ...attrs, filterGradStrategy: 'winograd4' }), ref);
    assert.ok(e < TOLERANCE.winograd4, `${channels}: error ${e}`);
  }
});

test('wide layers as in EDSR (64 -> 256, 256 -> 64 channels) match cpu on both Winograd tiles', () => {
  for (const channels of [[64, 256], [256, 64]] as const) {
    const x = host([1, 10, 9, channels[0]]);
    const filter = host([3, 3, ...channels]);
    const attrs = { strides: 1, pad: 'same', dataFormat: 'NHWC', dilations: 1 };
    const ref = runOn('cpu', 'Conv2D', { x, filter }, attrs);
    for (const method of WINOGRAD) {
      const e = relError(runOn('wasm', 'Conv2D', { x, filter }, { ...attrs, convMethod: method }), ref);
      assert.ok(e < TOLERANCE[method], `${method} ${channels}: error ${e}`);
    }
  }
});

test('convMethodFor: Winograd only for wide 3x3 stride-1 convs with enough work per image, F(2x2) where F(4x4) tiles would mostly overhang', () => {
  const info = (size: number, inC: number, outC: number, k = 3, stride = 1, dilation = 1) =>
    tf.backend_util.computeConv2DInfo([8, size, size, inC], [k, k, inC, outC], stride, dilation, 'same');
  assert.equal(convMethodFor(info(24, 64, 64)), 'winograd4');
  assert.equal(convMethodFor(info(48, 256, 64)), 'winograd4');
  assert.equal(convMethodFor(info(2, 512, 512)), 'winograd2');
  assert.equal(convMethodFor(info(2, 64, 64)), 'direct'); // 0.3 MFLOP an image: too little to pay
  assert.equal(convMethodFor(info(12, 64, 64)), 'winograd4');
  assert.equal(convMethodFor(info(24, 3, 64)), 'direct'); // 3 channels: not in fours
  assert.equal(convMethodFor(info(96, 64, 3)), 'direct');
  assert.equal(convMethodFor(info(24, 8, 8)), 'direct'); // too narrow to pay
  assert.equal(convMethodFor(info(24, 16, 16)), 'direct');
  assert.equal(convMethodFor(info(96, 16, 16)), 'winograd4');
  // Per image, not per batch: a batch split over workers picks the same method.
  assert.equal(convMethodFor(tf.backend_util.computeConv2DInfo([1, 24, 24, 32], [3, 3, 32, 32], 1, 1, 'same')), 'winograd4');
  assert.equal(convMethodFor(info(24, 64, 64, 3, 2)), 'direct'); // strided
  assert.equal(convMethodFor(info(24, 64, 64, 3, 1, 2)), 'direct'); // dilated
  assert.equal(convMethodFor(info(24, 64, 64, 5)), 'direct');
});

test('a few EDSR training steps (L1, Adam) with every conv and gradient on Winograd give the direct path\'s losses and weights', () => {
  tf.setBackend('wasm');
  const rng2 = new Rng(9);
  const lr = tf.tensor4d(rng2.normals(2 * 12 * 12 * 3, 0.5), [2, 12, 12, 3]);
  const hr = tf.tensor4d(rng2.normals(2 * 24 * 24 * 3, 0.5), [2, 24, 24, 3]);
  // Every conv's forward, input gradient and filter gradient by `method` (direct: the GEMM conv and the
  // patches gradient).
  const run = (method: ConvMethod) => {
    const previous = setConvMethod(method);
    setFilterGradStrategy(method === 'direct' ? 'patches' : method);
    const model = new Edsr({ nResBlocks: 2, nFeats: 16, scale: 2, seed: 3 });
    const optimizer = tf.train.adam(1e-3);
    try {
      const losses: number[] = [];
      for (let i = 0; i < 5; i++) {
        const loss = optimizer.minimize(() => tf.tidy(() => tf.mean(tf.abs(tf.sub(model.apply(lr), hr))) as tf.Scalar), true, model.trainableVariables())!;
        losses.push(loss.dataSync()[0]!);
        loss.dispose();
      }
      return { losses, weights: model.trainableVariables().map((v) => v.dataSync() as Float32Array) };
    } finally {
      setConvMethod(previous);
      setFilterGradStrategy('auto');
      optimizer.dispose();
      model.dispose();
    }
  };
  const direct = run('direct');
  assert.ok(direct.losses[4]! < direct.losses[0]!, `the loss falls: ${direct.losses}`);
  for (const method of WINOGRAD) {
    const ours = run(method);
    // Measured: losses within 2e-7 relative of direct's, weights within 3e-6 (Adam moves a weight by up to
    // lr = 1e-3 a step, 5e-3 in all); held to 1e-5 and 1e-4, 30-50x margin.
    ours.losses.forEach((l, i) => assert.ok(Math.abs(l - direct.losses[i]!) <= 1e-5 * direct.losses[i]!, `${method} step ${i}: ${l} vs ${direct.losses[i]}`));
    ours.weights.forEach((w, i) => {
      let d = 0;
      for (let j = 0; j < w.length; j++) d = Math.max(d, Math.abs(w[j]! - direct.weights[i]![j]!));
      assert.ok(d < 1e-4, `${method} weights ${i}: max difference ${d}`);
    });
  }
  tf.dispose([lr, hr]);
});
