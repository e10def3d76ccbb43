import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import onnxProto from 'onnx-proto';
import * as ort from 'onnxruntime-node';
import { initBackend } from '../../src/engine/backend.js';
import { UsageError } from '../../src/errors.js';
import { readImage } from '../../src/image/io.js';
import { upsampleBicubic } from '../../src/image/resize-tensor.js';
import { Critic } from '../../src/nn/critic.js';
import { Edsr } from '../../src/nn/edsr.js';
import type { Module } from '../../src/nn/module.js';
import { ONNX_META, ONNX_OPSET, exportOnnx } from '../../src/nn/onnx-export.js';
import { loadModel } from '../../src/nn/serialize-node.js';
import { Unet } from '../../src/nn/unet.js';

const PHOTOS = new URL('../fixtures/photos/', import.meta.url);

/** A crop of a real photo as a [1, h, w, 3] tensor in otsr's range [-1, 1]. */
async function photoCrop(name: string, x0: number, y0: number, w: number, h: number): Promise<tf.Tensor4D> {
  const img = await readImage(new URL(name, PHOTOS).pathname);
  const data = new Float32Array(w * h * 3);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      for (let c = 0; c < 3; c++) data[(y * w + x) * 3 + c] = img.data[((y0 + y) * img.width + x0 + x) * 3 + c]! / 127.5 - 1;
    }
  }
  return tf.tensor4d(data, [1, h, w, 3]);
}

/**
 * Max |ONNX Runtime - TF.js| in otsr's range [-1, 1]: the exported graph reads and writes [0, 1] NCHW, so its
 * output is mapped back (y·2 - 1) before the comparison.
 */
async function maxError(session: ort.InferenceSession, module: Module, x: tf.Tensor4D): Promise<number> {
  const want = tf.tidy(() => module.apply(x) as tf.Tensor4D);
  const input = tf.tidy(() => tf.transpose(tf.div(tf.add(x, 1), 2), [0, 3, 1, 2]));
  const { output } = await session.run({ input: new ort.Tensor('float32', input.dataSync() as Float32Array, input.shape) });
  const got = tf.tidy(() => tf.sub(tf.mul(tf.transpose(tf.tensor4d(output!.data as Float32Array, output!.dims as [number, number, number, number]), [0, 2, 3, 1]), 2), 1));
  assert.deepEqual(got.shape, want.shape);
  const err = tf.tidy(() => tf.max(tf.abs(tf.sub(got, want))).dataSync()[0]!);
  tf.dispose([want, input, got]);
  return err;
}

// Odd sizes on purpose: the bicubic skip's borders, UNet's reflection padding (sides not multiples of 4) and crops.
const SIZES: [string, number, number, number, number][] = [
  ['kite.jpg', 40, 30, 37, 23],
  ['path.jpg', 0, 0, 64, 48],
  ['fallenleaf.jpg', 101, 77, 19, 45],
];

const ARCHS: [string, () => Module][] = [
  ['EDSR x4 with the bicubic skip', () => new Edsr({ nResBlocks: 3, nFeats: 16, scale: 4, skip: 'upsample', upsampler: upsampleBicubic, seed: 1 })],
  ['EDSR x2 without a skip', () => new Edsr({ nResBlocks: 2, nFeats: 16, scale: 2, seed: 2 })],
  ['EDSR x3, resScale 0.1', () => new Edsr({ nResBlocks: 2, nFeats: 12, scale: 3, resScale: 0.1, seed: 3 })],
  ['EDSR x4, upsampling at LR resolution, with the skip', () => new Edsr({ nResBlocks: 2, nFeats: 16, scale: 4, upsampling: 'lr', skip: 'upsample', upsampler: upsampleBicubic, seed: 7 })],
  ['EDSR x4, resize convs, with the skip', () => new Edsr({ nResBlocks: 2, nFeats: 16, scale: 4, upsampling: 'resize', skip: 'upsample', upsampler: upsampleBicubic, seed: 9 })],
  ['EDSR x3, a resize conv', () => new Edsr({ nResBlocks: 1, nFeats: 8, scale: 3, upsampling: 'resize', seed: 10 })],
  ['EDSR x8, upsampling at LR resolution', () => new Edsr({ nResBlocks: 1, nFeats: 8, scale: 8, upsampling: 'lr', seed: 8 })],
  ['UNet depth 2, residual', () => new Unet({ inChannels: 3, outChannels: 3, base: 8, depth: 2, residual: true, seed: 4 })],
  ['UNet depth 3', () => new Unet({ inChannels: 3, outChannels: 3, base: 4, depth: 3, seed: 5 })],
  ['UNet depth 0 (a plain conv stack)', () => new Unet({ inChannels: 3, outChannels: 3, base: 4, depth: 0, seed: 6 })],
];

for (const [what, make] of ARCHS) {
  test(`ONNX export of ${what}: ONNX Runtime equals TF.js on real photos within 1e-4`, async (t) => {
    await initBackend('wasm', { gradients: false });
    const module = make();
    const before = tf.memory().numTensors;
    const bytes = await exportOnnx(module, { dataRange: [-1, 1] });
    assert.equal(tf.memory().numTensors, before, 'export leaks no tensor');
    const session = await ort.InferenceSession.create(bytes);
    try {
      for (const [photo, x0, y0, w, h] of SIZES) {
        const x = await photoCrop(photo, x0, y0, w, h);
        const err = await maxError(session, module, x);
        x.dispose();
        t.diagnostic(`${photo} ${w}x${h}: max abs error ${err.toExponential(2)}`);
        assert.ok(err <= 1e-4, `${photo} ${w}x${h}: max abs error ${err}`);
      }
    } finally {
      await session.release();
      module.dispose();
    }
  });
}

test('UNet export pads images smaller than its pad as unet.ts does (zeros), and the others by reflection', async () => {
  await initBackend('wasm', { gradients: false });
  const unet = new Unet({ inChannels: 3, outChannels: 3, base: 4, depth: 3, seed: 9 });
  const session = await ort.InferenceSession.create(await exportOnnx(unet, { dataRange: [-1, 1] }));
  try {
    for (const [w, h] of [[5, 1], [9, 2], [3, 3], [1, 1], [11, 4], [6, 7]] as const) {
      const x = await photoCrop('kite.jpg', 3, 5, w, h);
      const err = await maxError(session, unet, x);
      x.dispose();
      assert.ok(err <= 1e-4, `${w}x${h}: max abs error ${err}`);
    }
  } finally {
    await session.release();
    unet.dispose();
  }
});

test('ONNX export of the committed model (models/unpaired-x4) equals TF.js on a photo', async (t) => {
  await initBackend('wasm', { gradients: false });
  const loaded = await loadModel(new URL('../../models/unpaired-x4', import.meta.url).pathname, { upsampler: upsampleBicubic });
  const session = await ort.InferenceSession.create(await exportOnnx(loaded.module, loaded.manifest));
  try {
    const x = await photoCrop('bythewater.jpg', 13, 7, 45, 31);
    const err = await maxError(session, loaded.module, x);
    x.dispose();
    t.diagnostic(`45x31: max abs error ${err.toExponential(2)}`);
    assert.ok(err <= 1e-4, `max abs error ${err}`);
  } finally {
    await session.release();
    loaded.module.dispose();
  }
});

test('the exported model has a standard opset, dynamic sizes and its ranges in metadata_props', async () => {
  await initBackend('cpu');
  const module = new Edsr({ nResBlocks: 1, nFeats: 4, scale: 4, skip: 'upsample', upsampler: upsampleBicubic });
  const bytes = await exportOnnx(module, { dataRange: [-1, 1], scale: 4, training: { solver: 'ots' } });
  module.dispose();
  const model = onnxProto.onnx.ModelProto.decode(bytes);
  assert.deepEqual(model.opsetImport.map((o) => [o.domain, Number(o.version)]), [['', ONNX_OPSET]]);
  const meta = Object.fromEntries(model.metadataProps.map((p) => [p.key, p.value]));
  assert.equal(meta[ONNX_META.inputRange], '[0,1]');
  assert.equal(meta[ONNX_META.outputRange], '[0,1]');
  assert.equal(meta[ONNX_META.scale], '4');
  assert.equal(meta[ONNX_META.layout], 'NCHW RGB float32');
  assert.equal(JSON.parse(meta[ONNX_META.arch]!).skip, 'upsample');
  assert.equal(JSON.parse(meta[ONNX_META.manifest]!).training.solver, 'ots');
  const graph = model.graph as onnxProto.onnx.GraphProto;
  const dims = graph.input[0]!.type!.tensorType!.shape!.dim!;
  assert.deepEqual(dims.map((d) => d.dimParam || Number(d.dimValue)), ['batch', 3, 'height', 'width']);
  const ops = new Set(graph.node.map((n) => n.opType));
  assert.ok(ops.has('Resize') && ops.has('DepthToSpace'));
  // Its batch, height and width are free: ONNX Runtime runs it on 2 images of another size.
  const session = await ort.InferenceSession.create(bytes);
  const { output } = await session.run({ input: new ort.Tensor('float32', new Float32Array(2 * 3 * 5 * 7).fill(0.5), [2, 3, 5, 7]) });
  assert.deepEqual(output!.dims, [2, 3, 20, 28]);
  await session.release();
});

test('exporting a network that is not an image map is a UsageError', async () => {
  await initBackend('cpu');
  const critic = new Critic({ size: 16, nFeats: 4 });
  await assert.rejects(exportOnnx(critic, { dataRange: [-1, 1] }), (err: unknown) => err instanceof UsageError && /critic.*edsr, unet/.test(err.message));
  critic.dispose();
});
