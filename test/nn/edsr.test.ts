import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../../src/engine/backend.js';
import { UsageError } from '../../src/errors.js';
import { Edsr } from '../../src/nn/edsr.js';
import { pixelShuffle, resizeConvFilter } from '../../src/nn/ops.js';

const nearest = (x: tf.Tensor4D, s: number): tf.Tensor4D =>
  tf.image.resizeNearestNeighbor(x, [x.shape[1] * s, x.shape[2] * s]);

test('pixelShuffle matches tf.depthToSpace and has a gradient', async () => {
  await initBackend('cpu');
  for (const s of [2, 3]) {
    const x = tf.randomNormal([2, 3, 4, s * s * 5], 0, 1, 'float32', s) as tf.Tensor4D;
    const a = pixelShuffle(x, s);
    const b = tf.depthToSpace(x, s, 'NHWC');
    assert.deepEqual(a.shape, [2, 3 * s, 4 * s, 5]);
    assert.deepEqual(await a.data(), await b.data());
    // The gradient of sum(w · shuffle(x)) w.r.t. x is the inverse shuffle of w: check it element-wise.
    const w = tf.randomNormal(a.shape, 0, 1, 'float32', 7);
    const g = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(pixelShuffle(t as tf.Tensor4D, s), w)))(x);
    assert.deepEqual(await pixelShuffle(g as tf.Tensor4D, s).data(), await w.data());
    tf.dispose([x, a, b, w, g]);
  }
});

test('Edsr has the declared output shapes and parameter counts for every scale', async () => {
  await initBackend('cpu');
  const F = 4, n = 2;
  for (const scale of [2, 3, 4, 8] as const) {
    const m = new Edsr({ nResBlocks: n, nFeats: F, scale, seed: 1 });
    const x = tf.randomUniform([2, 5, 6, 3], -1, 1, 'float32', 3);
    const y = m.apply(x);
    assert.deepEqual(y.shape, [2, 5 * scale, 6 * scale, 3]);
    const conv = (cin: number, cout: number) => 9 * cin * cout + cout;
    const ups = scale === 3 ? [3] : Array.from({ length: Math.log2(scale) }, () => 2);
    const expected =
      conv(3, F) + 2 * n * conv(F, F) + conv(F, F) + ups.reduce((acc, f) => acc + conv(F, f * f * F), 0) + conv(F, 3);
    assert.equal(m.parameterCount(), expected, `scale ${scale}`);
    assert.deepEqual(m.spec, { kind: 'edsr', nResBlocks: n, nFeats: F, resScale: 1, scale, skip: 'none' });
    tf.dispose([x, y]);
    m.dispose();
  }
});

test('Edsr is deterministic in its seed', async () => {
  await initBackend('cpu');
  const opts = { nResBlocks: 1, nFeats: 4, scale: 2 as const, resScale: 0.5 };
  const a = new Edsr({ ...opts, seed: 9 });
  const b = new Edsr({ ...opts, seed: 9 });
  const c = new Edsr({ ...opts, seed: 10 });
  const x = tf.randomUniform([1, 4, 4, 3], -1, 1, 'float32', 4);
  const [ya, yb, yc] = [a.apply(x), b.apply(x), c.apply(x)];
  assert.deepEqual(await ya.data(), await yb.data());
  assert.notDeepEqual(await ya.data(), await yc.data());
  tf.dispose([x, ya, yb, yc]);
  [a, b, c].forEach((m) => m.dispose());
});

test("Edsr with skip 'upsample' adds the injected upsampler and starts exactly as it", async () => {
  await initBackend('cpu');
  assert.throws(() => new Edsr({ nResBlocks: 1, nFeats: 4, scale: 2, skip: 'upsample' }), UsageError);
  assert.throws(() => new Edsr({ nResBlocks: 1, nFeats: 4, scale: 5 as 2 }), UsageError);
  let calls = 0;
  const up = (x: tf.Tensor4D, s: number) => {
    calls++;
    assert.equal(s, 4);
    return nearest(x, s);
  };
  const withSkip = new Edsr({ nResBlocks: 1, nFeats: 8, scale: 4, skip: 'upsample', upsampler: up, seed: 2 });
  const plain = new Edsr({ nResBlocks: 1, nFeats: 8, scale: 4, seed: 2 });
  const x = tf.randomUniform([1, 6, 6, 3], -1, 1, 'float32', 5);
  const gap = (m: Edsr) => tf.tidy(() => tf.mean(tf.abs(tf.sub(m.apply(x), nearest(x as tf.Tensor4D, 4)))).dataSync()[0]!);
  const gSkip = gap(withSkip), gPlain = gap(plain);
  assert.equal(calls, 1);
  assert.equal(withSkip.spec.skip, 'upsample');
  assert.equal(gSkip, 0, `a fresh skip map must equal its upsampler, mean gap ${gSkip}`);
  assert.ok(gPlain > 0.05, `the plain map is a random network, mean gap ${gPlain}`);
  x.dispose();
  withSkip.dispose();
  plain.dispose();
});

test("Edsr with upsampling 'lr': every conv at LR resolution, one shuffle; starts as its upsampler; the registry counts its parameters", async () => {
  await initBackend('cpu');
  const { buildModule, archParamCount } = await import('../../src/nn/registry.js');
  assert.throws(() => new Edsr({ nResBlocks: 1, nFeats: 4, scale: 2, upsampling: 'mid' as 'lr' }), UsageError);
  const conv = (cin: number, cout: number) => 9 * cin * cout + cout;
  for (const scale of [2, 3, 4, 8] as const) {
    const spec = { kind: 'edsr', nResBlocks: 2, nFeats: 4, scale, upsampling: 'lr' } as const;
    const m = buildModule(spec, { seed: 1 });
    const y = m.apply(tf.randomUniform([2, 5, 6, 3], -1, 1, 'float32', 3));
    assert.deepEqual(y.shape, [2, 5 * scale, 6 * scale, 3]);
    const expected = conv(3, 4) + 2 * 2 * conv(4, 4) + conv(4, 4) + conv(4, 3 * scale * scale);
    assert.equal(m.parameterCount(), expected, `scale ${scale}`);
    assert.equal(archParamCount(spec), expected, `registry count, scale ${scale}`);
    assert.equal(m.spec.upsampling, 'lr');
    tf.dispose(y);
    m.dispose();
  }
  // Not in the spec of the default, so that models saved before the option keep their spec.
  assert.equal(new Edsr({ nResBlocks: 1, nFeats: 4, scale: 2 }).spec.upsampling, undefined);
  const skip = new Edsr({ nResBlocks: 1, nFeats: 8, scale: 4, skip: 'upsample', upsampling: 'lr', upsampler: nearest, seed: 2 });
  const x = tf.randomUniform([1, 6, 6, 3], -1, 1, 'float32', 5);
  const gap = tf.tidy(() => tf.max(tf.abs(tf.sub(skip.apply(x), nearest(x as tf.Tensor4D, 4)))).dataSync()[0]!);
  assert.equal(gap, 0);
  tf.dispose(x);
  skip.dispose();
});

test('resizeConvFilter: a pixel shuffle with tied sub-pixel filters is nearest-neighbour upsampling then the conv, values and gradients', async () => {
  await initBackend('cpu');
  for (const s of [2, 3]) {
    const x = tf.randomNormal([2, 5, 4, 3], 0, 1, 'float32', s) as tf.Tensor4D;
    const w = tf.randomNormal([3, 3, 3, 2], 0, 1, 'float32', 10 + s) as tf.Tensor4D;
    const probe = tf.randomNormal([2, 5 * s, 4 * s, 2], 0, 1, 'float32', 20 + s);
    // The definition, at HR resolution, borders included (zero padding around the upsampled image).
    const direct = (w: tf.Tensor4D) => tf.conv2d(nearest(x, s), w, 1, 'same');
    const tied = (w: tf.Tensor4D) => pixelShuffle(tf.conv2d(x, resizeConvFilter(w, s), 1, 'same'), s);
    const gap = tf.tidy(() => tf.max(tf.abs(tf.sub(direct(w), tied(w)))).dataSync()[0]!);
    assert.ok(gap < 1e-5, `s = ${s}: values differ by ${gap}`);
    const grad = (f: (w: tf.Tensor4D) => tf.Tensor4D) => tf.grad((v) => tf.sum(tf.mul(f(v as tf.Tensor4D), probe)))(w);
    const gradGap = tf.tidy(() => tf.max(tf.abs(tf.sub(grad(direct), grad(tied)))).dataSync()[0]!);
    assert.ok(gradGap < 1e-4, `s = ${s}: filter gradients differ by ${gradGap}`);
    tf.dispose([x, w, probe]);
  }
  assert.throws(() => resizeConvFilter(tf.zeros([1, 1, 2, 2]) as tf.Tensor4D, 2), /3x3/);
});

test("Edsr with upsampling 'resize': constant features upsample to a constant (no grid), at the pixel shuffle's cost; the registry counts it", async () => {
  await initBackend('cpu');
  const { buildModule, archParamCount } = await import('../../src/nn/registry.js');
  const conv = (cin: number, cout: number) => 9 * cin * cout + cout;
  for (const scale of [2, 3, 4] as const) {
    const spec = { kind: 'edsr', nResBlocks: 1, nFeats: 4, scale, upsampling: 'resize' } as const;
    const m = buildModule(spec, { seed: 1 });
    const y = m.apply(tf.fill([1, 24, 24, 3], 0.3));
    assert.deepEqual(y.shape, [1, 24 * scale, 24 * scale, 3]);
    const expected = conv(3, 4) + 2 * conv(4, 4) + conv(4, 4) + (scale === 4 ? 2 : 1) * conv(4, 4) + conv(4, 3);
    assert.equal(m.parameterCount(), expected, `scale ${scale}`);
    assert.equal(archParamCount(spec), expected, `registry count, scale ${scale}`);
    assert.equal(m.spec.upsampling, 'resize');
    // Away from the borders (the receptive field is 5 LR pixels), every output pixel is the same: a random
    // pixel-shuffle EDSR paints its sub-pixel grid here.
    const inner = tf.tidy(() => tf.slice(y, [0, 8 * scale, 8 * scale, 0], [1, 8 * scale, 8 * scale, 3]));
    const spread = tf.tidy(() => tf.max(tf.sub(tf.max(inner, [1, 2]), tf.min(inner, [1, 2]))).dataSync()[0]!);
    assert.ok(spread < 1e-5, `scale ${scale}: a constant input gives a pattern of amplitude ${spread}`);
    const shuffled = buildModule({ ...spec, upsampling: 'hr' }, { seed: 1 });
    const z = shuffled.apply(tf.fill([1, 24, 24, 3], 0.3));
    const zInner = tf.slice(z, [0, 8 * scale, 8 * scale, 0], [1, 8 * scale, 8 * scale, 3]);
    assert.ok(tf.max(tf.sub(tf.max(zInner, [1, 2]), tf.min(zInner, [1, 2]))).dataSync()[0]! > 1e-3, 'the control has no grid: the check cannot fail');
    tf.dispose([y, inner, z, zInner]);
    m.dispose();
    shuffled.dispose();
  }
  const skip = new Edsr({ nResBlocks: 1, nFeats: 8, scale: 4, skip: 'upsample', upsampling: 'resize', upsampler: nearest, seed: 2 });
  const x = tf.randomUniform([1, 6, 6, 3], -1, 1, 'float32', 5);
  const gap = tf.tidy(() => tf.max(tf.abs(tf.sub(skip.apply(x), nearest(x as tf.Tensor4D, 4)))).dataSync()[0]!);
  assert.equal(gap, 0, 'with the skip it starts as its upsampler');
  tf.dispose(x);
  skip.dispose();
});

test("Edsr with skip 'upsample' starts its pixel shuffles ICNR: all sub-pixels of an LR pixel equal", async () => {
  await initBackend('cpu');
  const net = new Edsr({ nResBlocks: 1, nFeats: 4, scale: 2, skip: 'upsample', upsampler: nearest, seed: 3 });
  const up = net.params.get('up.0.w')!;
  const upB = net.params.get('up.0.b')!;
  const h = tf.randomNormal([1, 5, 5, 4], 0, 1, 'float32', 4) as tf.Tensor4D;
  const shuffled = tf.tidy(() => pixelShuffle(tf.add(tf.conv2d(h, up as unknown as tf.Tensor4D, 1, 'same'), upB), 2));
  const nn = tf.tidy(() => nearest(tf.stridedSlice(shuffled, [0, 0, 0, 0], [1, 10, 10, 4], [1, 2, 2, 1]) as tf.Tensor4D, 2));
  assert.deepEqual(await shuffled.data(), await nn.data(), 'sub-pixels differ: the shuffle starts as a checkerboard');
  tf.dispose([h, shuffled, nn]);
  net.dispose();
});

test('Edsr trains: an L1 loss drops over a few Adam steps and no tensor leaks', async () => {
  await initBackend('cpu');
  const m = new Edsr({ nResBlocks: 2, nFeats: 8, scale: 2, resScale: 1, seed: 3 });
  const x = tf.randomUniform([2, 6, 6, 3], -1, 1, 'float32', 6) as tf.Tensor4D;
  const target = tf.tidy(() => tf.mul(nearest(x, 2), 0.8));
  const opt = tf.train.adam(2e-3);
  const losses: number[] = [];
  const loss = () => tf.mean(tf.abs(tf.sub(m.apply(x), target))) as tf.Scalar;
  let before = 0;
  for (let step = 0; step < 25; step++) {
    const l = opt.minimize(loss, true, m.trainableVariables())!;
    losses.push(l.dataSync()[0]!);
    l.dispose();
    if (step === 2) before = tf.memory().numTensors;
  }
  assert.equal(tf.memory().numTensors, before, 'tensors leaked per step');
  assert.ok(losses[24]! < 0.6 * losses[0]!, `loss ${losses[0]} -> ${losses[24]}`);
  opt.dispose();
  tf.dispose([x, target]);
  m.dispose();
});

test('creating and disposing an Edsr frees every tensor', async () => {
  await initBackend('cpu');
  const before = tf.memory().numTensors;
  const m = new Edsr({ nResBlocks: 2, nFeats: 4, scale: 4, seed: 1 });
  assert.equal(tf.memory().numTensors, before + m.params.size);
  m.dispose();
  assert.equal(tf.memory().numTensors, before);
});
