import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import sharp from 'sharp';
import { initBackend } from '../../src/engine/backend.js';
import { type ArchSpec, Module, heNormal, zeros } from '../../src/nn/module.js';
import { type FloatImage, axisWeights, tileStarts, upscale } from '../../src/upscale/tiles.js';
import { Rng } from '../../src/util/rng.js';

/** A small real SR network: `layers` 3x3 convolutions (receptive-field radius = layers LR pixels), pixel shuffle. */
class TinySr extends Module {
  readonly spec: ArchSpec;
  private readonly convs: { w: tf.Variable; b: tf.Variable }[] = [];
  private readonly scale: number;
  constructor(layers: number, scale: number, seed = 1, feats = 8) {
    super();
    this.spec = { kind: 'tiny-sr', layers, scale, feats };
    this.scale = scale;
    const rng = new Rng(seed);
    for (let i = 0; i < layers; i++) {
      const cin = i === 0 ? 3 : feats;
      const cout = i + 1 === layers ? 3 * scale * scale : feats;
      const w = this.param(`c${i}.w`, [3, 3, cin, cout], heNormal(rng, 9 * cin * cout, 9 * cin));
      const b = this.param(`c${i}.b`, [cout], zeros(cout).map(() => rng.normal() * 0.1));
      this.convs.push({ w, b });
    }
  }
  apply(x: tf.Tensor): tf.Tensor4D {
    return tf.tidy(() => {
      let h = x as tf.Tensor4D;
      this.convs.forEach(({ w, b }, i) => {
        h = tf.add(tf.conv2d(h, w as tf.Tensor4D, 1, 'same'), b);
        if (i + 1 < this.convs.length) h = tf.relu(h);
      });
      return tf.depthToSpace(h, this.scale);
    });
  }
}

/** A crop of a real photo as a FloatImage in [-1, 1]. */
async function photo(width: number, height: number, channels = 3): Promise<FloatImage> {
  const { data } = await sharp(new URL('../fixtures/photos/kite.jpg', import.meta.url).pathname)
    .extract({ left: 100, top: 80, width, height })
    .raw()
    .toBuffer({ resolveWithObject: true });
  const out = new Float32Array(width * height * channels);
  const rng = new Rng(3);
  for (let p = 0; p < width * height; p++) {
    const [r, g, b] = [data[3 * p]!, data[3 * p + 1]!, data[3 * p + 2]!].map((v) => v / 127.5 - 1);
    if (channels === 1 || channels === 2) out[p * channels] = (r! + g! + b!) / 3;
    else [out[p * channels], out[p * channels + 1], out[p * channels + 2]] = [r!, g!, b!];
    if (channels === 2 || channels === 4) out[p * channels + channels - 1] = rng.next() * 2 - 1;
  }
  return { data: out, width, height, channels };
}

/** Whole-image inference, the reference tiling must reproduce. */
function whole(model: (x: tf.Tensor4D) => tf.Tensor4D, image: FloatImage): Float32Array {
  return tf.tidy(() => model(tf.tensor4d(image.data, [1, image.height, image.width, 3])).dataSync() as Float32Array);
}

function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

test('tiles cover the image evenly, neighbours sharing at least the overlap', () => {
  assert.deepEqual(tileStarts(10, 16, 4), [0]);
  assert.deepEqual(tileStarts(16, 16, 4), [0]);
  for (const [length, size, overlap] of [[17, 16, 4], [100, 24, 8], [257, 64, 16], [1000, 256, 16], [37, 20, 0]] as const) {
    const starts = tileStarts(length, size, overlap);
    assert.equal(starts[0], 0);
    assert.equal(starts.at(-1)! + size, length);
    for (let i = 1; i < starts.length; i++) {
      assert.ok(starts[i - 1]! + size - starts[i]! >= overlap, `${length}/${size}/${overlap}: ${starts}`);
      assert.ok(starts[i]! > starts[i - 1]!, 'starts[i]! > starts[i - 1]!');
    }
    // No more tiles than needed: one fewer could not cover with that overlap.
    assert.ok((starts.length - 1) * (size - overlap) + size >= length, '(starts.length - 1) * (size - overlap) + size >= length');
    assert.ok((starts.length - 2) * (size - overlap) + size < length, '(starts.length - 2) * (size - overlap) + size < length');
  }
  // Weights: 0 within overlap/4 of a shared edge, a smooth ramp, 1 inside; untouched at the image border.
  const w = axisWeights(8, 16, 40, 1, 8);
  assert.deepEqual(Array.from(w.slice(0, 2)), [0, 0]);
  assert.equal(w[8], 1);
  assert.ok(w[3]! > 0 && w[3]! < w[4]! && w[4]! < 1, 'w[3]! > 0 && w[3]! < w[4]! && w[4]! < 1');
  assert.equal(axisWeights(0, 16, 40, 1, 8)[0], 1);
  assert.ok(axisWeights(0, 16, 16, 2, 8).every((v) => v === 1), 'axisWeights(0, 16, 16, 2, 8).every((v) => v === 1)');
});

test('tiled inference equals whole-image inference for a conv net whose receptive field fits in overlap/4', async () => {
  await initBackend('cpu');
  const image = await photo(61, 45);
  for (const [layers, scale, tile, overlap] of [[4, 2, 24, 16], [2, 3, 16, 8], [3, 2, 40, 12]] as const) {
    const net = new TinySr(layers, scale);
    const model = (x: tf.Tensor4D) => net.apply(x);
    let calls = 0;
    const out = await upscale(image, { model, scale, tile, overlap, progress: () => calls++ });
    assert.deepEqual([out.width, out.height, out.channels], [61 * scale, 45 * scale, 3]);
    const nTiles = tileStarts(61, tile, overlap).length * tileStarts(45, tile, overlap).length;
    assert.ok(nTiles >= 4 && calls === nTiles, `${nTiles} tiles, ${calls} progress calls`);
    const err = maxDiff(out.data, whole(model, image));
    assert.ok(err < 2e-5, `layers ${layers}, x${scale}, tile ${tile}, overlap ${overlap}: max |tiled - whole| = ${err}`);
    // The same with batches of tiles and the scale found from the model's output.
    const batched = await upscale(image, { model, tile, overlap, batchSize: 3 });
    assert.ok(maxDiff(batched.data, out.data) < 1e-6, 'maxDiff(batched.data, out.data) < 1e-6');
    net.dispose();
  }
  // A receptive field wider than overlap/4 is no longer exact near the seams (so the test above can fail), but
  // the blend keeps the error small.
  const deep = new TinySr(8, 2);
  const model = (x: tf.Tensor4D) => deep.apply(x);
  const reference = whole(model, image);
  const err = maxDiff((await upscale(image, { model, tile: 24, overlap: 8 })).data, reference);
  assert.ok(err > 1e-4, `radius 8 with overlap 8 differs near seams: ${err}`);
  assert.ok(maxDiff((await upscale(image, { model, tile: 48, overlap: 32 })).data, reference) < 2e-5, 'maxDiff((await upscale(image, { model, tile: 48, overlap: 32 })).data, reference) < 2e-5');
  deep.dispose();
});

test('overlaps are blended smoothly: no seams even between tiles that disagree', async () => {
  await initBackend('cpu');
  // A "model" that paints each tile in one flat value, 0, 1, 2, 3 in call order: the worst disagreement.
  let k = 0;
  const model = (x: tf.Tensor4D) => tf.fill([1, x.shape[1] * 2, x.shape[2] * 2, 3], k++) as tf.Tensor4D;
  const image = await photo(40, 16);
  const out = await upscale(image, { model, tile: 16, overlap: 8 });
  assert.equal(k, 4);
  const row = Array.from({ length: 80 }, (_, x) => out.data[(5 * 80 + x) * 3]!);
  assert.equal(row[0], 0);
  assert.equal(row[79], 3);
  // Monotone, and each step at most the raised cosine's steepest slope (a 1 jump over overlap/2 = 4 LR = 8 HR
  // pixels: pi / 16 per pixel); a hard cut would jump by 1.
  let steepest = 0;
  for (let x = 1; x < 80; x++) {
    assert.ok(row[x]! >= row[x - 1]! - 1e-6, `monotone at ${x}`);
    steepest = Math.max(steepest, row[x]! - row[x - 1]!);
  }
  assert.ok(steepest <= Math.PI / 16 + 1e-6, `steepest step ${steepest}`);
  // Rows agree (one row of tiles) and channels agree.
  assert.equal(out.data[(20 * 80 + 33) * 3 + 2], row[33]);
});

test('a bilinear "model", grey images and alpha: tiled equals whole-image', async () => {
  await initBackend('cpu');
  const bilinear = (s: number) => (x: tf.Tensor4D) => tf.image.resizeBilinear(x, [x.shape[1] * s, x.shape[2] * s], false, true);
  const rgba = await photo(50, 33, 4);
  const out = await upscale(rgba, { model: bilinear(3), tile: 16, overlap: 8 });
  assert.deepEqual([out.width, out.height, out.channels], [150, 99, 4]);
  // Every channel, alpha included, is the bilinear resize of the whole image.
  const all = tf.tidy(() => tf.image.resizeBilinear(tf.tensor3d(rgba.data, [33, 50, 4]), [99, 150], false, true).dataSync());
  assert.ok(maxDiff(out.data, all) < 1e-5, `${maxDiff(out.data, all)}`);

  // Grey + alpha: the grey channel goes through the model as RGB and comes back as the mean of its output.
  const net = new TinySr(3, 2);
  const ga = await photo(40, 30, 2);
  const g = await upscale(ga, { model: (x) => net.apply(x), tile: 20, overlap: 12 });
  assert.equal(g.channels, 2);
  const rgb = new Float32Array(40 * 30 * 3).map((_, i) => ga.data[Math.floor(i / 3) * 2]!);
  const ref = whole((x) => net.apply(x), { data: rgb, width: 40, height: 30, channels: 3 });
  const greyRef = new Float32Array(80 * 60).map((_, p) => (ref[3 * p]! + ref[3 * p + 1]! + ref[3 * p + 2]!) / 3);
  assert.ok(maxDiff(g.data.filter((_, i) => i % 2 === 0), greyRef) < 2e-5, 'maxDiff(g.data.filter((_, i) => i % 2 === 0), greyRef) < 2e-5');
  const alphaRef = tf.tidy(() => tf.image.resizeBilinear(tf.tensor3d(ga.data.filter((_, i) => i % 2 === 1), [30, 40, 1]), [60, 80], false, true).dataSync());
  assert.ok(maxDiff(g.data.filter((_, i) => i % 2 === 1), alphaRef) < 1e-5, 'maxDiff(g.data.filter((_, i) => i % 2 === 1), alphaRef) < 1e-5');
  net.dispose();
});

test('tensor in, tensor out; one tile when the image is smaller than a tile; no tensor leaks', async () => {
  await initBackend('cpu');
  const net = new TinySr(2, 2);
  const model = (x: tf.Tensor4D) => net.apply(x);
  const image = await photo(30, 20);
  const input = tf.tensor3d(image.data, [20, 30, 3]);
  const before = tf.memory().numTensors;
  for (let i = 0; i < 4; i++) {
    const out = await upscale(input, { model, scale: 2, tile: 12, overlap: 4 });
    assert.deepEqual(out.shape, [40, 60, 3]);
    out.dispose();
    await upscale(image, { model, tile: 64 });
  }
  assert.equal(tf.memory().numTensors, before, 'tensor count is flat');
  assert.ok(!input.isDisposed, '!input.isDisposed');
  const single = await upscale(image, { model, tile: 64 });
  assert.ok(maxDiff(single.data, whole(model, image)) < 1e-6, 'maxDiff(single.data, whole(model, image)) < 1e-6');
  input.dispose();
  net.dispose();
});

test('cancellation and a model of the wrong scale: clear errors, nothing leaked', async () => {
  await initBackend('cpu');
  const net = new TinySr(2, 2);
  const image = await photo(40, 40);
  const before = tf.memory().numTensors;
  const controller = new AbortController();
  const seen: number[] = [];
  await assert.rejects(
    upscale(image, {
      model: (x) => net.apply(x),
      tile: 16,
      overlap: 4,
      signal: controller.signal,
      progress: (done) => {
        seen.push(done);
        if (done === 2) controller.abort();
      },
    }),
    { name: 'CancelledError' },
  );
  assert.deepEqual(seen, [1, 2]);
  await assert.rejects(upscale(image, { model: (x) => net.apply(x), scale: 4, tile: 16 }), /expected \[1, 16, 16, 3\] times 4/);
  await assert.rejects(upscale(image, { model: () => tf.zeros([1, 32, 32, 4]), tile: 16 }), /into \[1,32,32,4\]/);
  await assert.rejects(upscale(image, { model: (x) => net.apply(x), tile: 16, overlap: 16 }), /overlap \(16\) must be smaller than tile/);
  await assert.rejects(upscale({ ...image, channels: 5 }, { model: (x) => net.apply(x) }), /1 to 4 channels/);
  assert.equal(tf.memory().numTensors, before);
  net.dispose();
});

test('an async progress callback is awaited before the next tile (a page yields there)', async () => {
  await initBackend('cpu');
  const image: FloatImage = { width: 40, height: 24, channels: 3, data: new Float32Array(40 * 24 * 3).fill(0.25) };
  let pending = false;
  let calls = 0;
  let callsWhilePending = 0;
  await upscale(image, {
    model: (x) => {
      calls++;
      if (pending) callsWhilePending++;
      return tf.image.resizeNearestNeighbor(x, [x.shape[1] * 2, x.shape[2] * 2]);
    },
    tile: 16,
    overlap: 4,
    progress: async () => {
      pending = true;
      await new Promise((resolve) => setTimeout(resolve, 30));
      pending = false;
    },
  });
  assert.ok(calls >= 4, `${calls} tiles`);
  assert.equal(callsWhilePending, 0, 'a tile started while the previous progress promise was pending');
});
