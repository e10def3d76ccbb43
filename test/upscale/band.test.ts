import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../../src/engine/backend.js';
import type { BandDepth } from '../../src/upscale/band.js';
import { axisWeights, tileStarts } from '../../src/upscale/tile-layout.js';
import { type TileRunner, type TileSource, pixelSource, tilePlan, upscaleBands } from '../../src/upscale/tiles.js';
import { Rng } from '../../src/util/rng.js';

before(() => initBackend('cpu'));

/**
 * A stand-in for a model: nearest-neighbour upscaling plus noise that depends on the whole tile, so that neighbouring
 * tiles disagree in their overlaps and the blend's every weight and sum shows in the output.
 */
function fakeModel(pixels: Float32Array, [b, h, w]: number[], s: number): Float32Array {
  const out = new Float32Array(b! * h! * s * w! * s * 3);
  for (let k = 0; k < b!; k++) {
    let seed = 0;
    for (let i = 0; i < h! * w! * 3; i++) seed = (seed * 31 + Math.round(pixels[k * h! * w! * 3 + i]! * 1000)) | 0;
    const rng = new Rng(seed >>> 0);
    for (let v = 0; v < h! * s; v++) {
      for (let u = 0; u < w! * s; u++) {
        for (let c = 0; c < 3; c++) {
          const src = ((k * h! + Math.floor(v / s)) * w! + Math.floor(u / s)) * 3 + c;
          out[((k * h! * s + v) * w! * s + u) * 3 + c] = pixels[src]! * 0.9 + (rng.next() - 0.5) * 0.3;
        }
      }
    }
  }
  return out;
}

const runner = (s: number, concurrency = 1): TileRunner => ({
  concurrency,
  run: async (pixels, shape) => ({ data: fakeModel(pixels, shape, s), shape: [shape[0], shape[1] * s, shape[2] * s, 3] }),
});

/**
 * What the tiler computed before it streamed: every tile added into one float accumulator over the whole output, in
 * tile order, then divided by the weight sums (and rounded as the PNG/JPEG encoders round).
 */
function wholeImageBlend(data: Uint8Array, W: number, H: number, C: number, s: number, tw: number, th: number, overlap: number, depth: BandDepth): ArrayLike<number> {
  const OW = W * s, OH = H * s, TW = tw * s, TH = th * s;
  const xs = tileStarts(W, tw, overlap), ys = tileStarts(H, th, overlap);
  const acc = new Float32Array(OW * OH * C);
  const sx = new Float64Array(OW), sy = new Float64Array(OH);
  for (const x of xs) axisWeights(x, tw, W, s, overlap).forEach((w, u) => (sx[x * s + u] = sx[x * s + u]! + w));
  for (const y of ys) axisWeights(y, th, H, s, overlap).forEach((w, v) => (sy[y * s + v] = sy[y * s + v]! + w));
  for (const y of ys) {
    for (const x of xs) {
      const rgb = new Float32Array(th * tw * 3), alpha = new Float32Array(th * tw);
      for (let r = 0; r < th; r++) {
        for (let c = 0; c < tw; c++) {
          const p = ((y + r) * W + x + c) * C, t = r * tw + c;
          for (let k = 0; k < 3; k++) rgb[3 * t + k] = data[C <= 2 ? p : p + k]! / 127.5 - 1;
          alpha[t] = data[p + C - 1]! / 127.5 - 1;
        }
      }
      const values = fakeModel(rgb, [1, th, tw], s);
      const a = tf.tidy(() => tf.image.resizeBilinear(tf.tensor4d(alpha, [1, th, tw, 1]), [TH, TW], false, true).dataSync());
      const fx = axisWeights(x, tw, W, s, overlap), fy = axisWeights(y, th, H, s, overlap);
      for (let v = 0; v < TH; v++) {
        for (let u = 0; u < TW; u++) {
          const w = fy[v]! * fx[u]!;
          if (w === 0) continue;
          const p = ((y * s + v) * OW + x * s + u) * C, q = v * TW + u;
          if (C <= 2) acc[p] = acc[p]! + (w * (values[3 * q]! + values[3 * q + 1]! + values[3 * q + 2]!)) / 3;
          else for (let k = 0; k < 3; k++) acc[p + k] = acc[p + k]! + w * values[3 * q + k]!;
          if (C === 2 || C === 4) acc[p + C - 1] = acc[p + C - 1]! + w * a[q]!;
        }
      }
    }
  }
  for (let Y = 0; Y < OH; Y++) for (let X = 0; X < OW; X++) for (let c = 0; c < C; c++) acc[(Y * OW + X) * C + c] = acc[(Y * OW + X) * C + c]! * (1 / (sx[X]! * sy[Y]!));
  if (depth === 'float') return acc;
  const max = depth === 8 ? 255 : 65535;
  return Uint32Array.from(acc, (v) => Math.min(max, Math.max(0, Math.round((v + 1) * (max / 2)))));
}

/** Runs upscaleBands and assembles its bands, checking they come in order and cover the output once. */
async function streamed(source: TileSource, s: number, options: Parameters<typeof upscaleBands>[1], concurrency = 1): Promise<number[]> {
  const out: number[] = [];
  let rows = 0;
  const info = await upscaleBands(source, { ...options, scale: s }, runner(s, concurrency), (values, y0, n, o) => {
    assert.equal(y0, rows, 'bands in order, without gaps');
    rows += n;
    out.push(...values.subarray(0, n * o.width * o.channels));
  });
  assert.equal(rows, info.height);
  return out;
}

function image(W: number, H: number, C: number, seed: number): Uint8Array {
  const rng = new Rng(seed);
  return Uint8Array.from({ length: W * H * C }, () => Math.floor(rng.next() * 256));
}

const cases: { W: number; H: number; C: number; s: number; tile: number; overlap: number; why: string }[] = [
  { W: 37, H: 29, C: 3, s: 3, tile: 16, overlap: 8, why: 'odd sizes, tiles not dividing the image' },
  { W: 30, H: 21, C: 1, s: 2, tile: 12, overlap: 4, why: 'grey' },
  { W: 23, H: 26, C: 2, s: 2, tile: 10, overlap: 4, why: 'grey + alpha' },
  { W: 26, H: 19, C: 4, s: 4, tile: 9, overlap: 4, why: 'RGBA, x4' },
  { W: 37, H: 37, C: 3, s: 2, tile: 20, overlap: 4, why: 'rows and columns under three tiles (the tiles spread evenly overlap by 11-12)' },
  { W: 25, H: 17, C: 3, s: 2, tile: 8, overlap: 0, why: 'no overlap' },
  { W: 40, H: 5, C: 3, s: 2, tile: 16, overlap: 4, why: 'one row of tiles' },
  { W: 1, H: 9, C: 4, s: 3, tile: 4, overlap: 2, why: 'one pixel wide' },
  { W: 1, H: 1, C: 2, s: 2, tile: 16, overlap: 4, why: '1x1' },
];

for (const { W, H, C, s, tile, overlap, why } of cases) {
  test(`streamed bands equal a whole-image float blend, bit for bit: ${why} (${W}x${H}x${C}, x${s}, tile ${tile}/${overlap})`, async () => {
    const data = image(W, H, C, W * H + C);
    const [tw, th] = [Math.min(tile, W), Math.min(tile, H)];
    for (const depth of ['float', 8, 16] as const) {
      const got = await streamed(pixelSource(data, W, H, C, 127.5), s, { tile, overlap, depth });
      assert.deepEqual(got, Array.from(wholeImageBlend(data, W, H, C, s, tw, th, overlap, depth)), `depth ${depth}`);
    }
    // Batches of 3 tiles (across rows of tiles), two in flight, from a source that gives only the rows asked for, in
    // order: the same bytes.
    let lowest = 0;
    const rowsOnly: TileSource = {
      width: W, height: H, channels: C, divisor: 127.5,
      rows: async (y0, y1) => {
        assert.ok(y0 >= lowest, 'rows asked in order');
        lowest = y0;
        return { data: data.slice(y0 * W * C, Math.min(y1, H) * W * C), first: y0 };
      },
    };
    const got = await streamed(rowsOnly, s, { tile, overlap, depth: 8, batchSize: 3 }, 2);
    assert.deepEqual(got, Array.from(wholeImageBlend(data, W, H, C, s, tw, th, overlap, 8)));
  });
}

test('a band budget makes the tiles of wide images shorter, never narrower, and the blend fits in it', async () => {
  const plan = (W: number, H: number, maxBandBytes?: number) => tilePlan(W, H, 3, 4, { tile: 64, overlap: 8, depth: 8, ...(maxBandBytes ? { maxBandBytes } : {}) });
  const free = plan(2000, 300);
  assert.deepEqual([free.tileWidth, free.tileHeight], [64, 64]);
  const budget = free.bandBytes * 0.75;
  const bounded = plan(2000, 300, budget);
  assert.equal(bounded.tileWidth, 64);
  assert.ok(bounded.tileHeight < 64 && bounded.tileHeight >= 32, `tile height ${bounded.tileHeight}`);
  assert.ok(bounded.bandBytes <= budget, `${bounded.bandBytes} bytes > ${budget}`);
  // Wider still: shorter tiles, the same bytes at most; never under 4 overlaps (then over the budget).
  const wider = plan(2400, 300, budget);
  assert.ok(wider.tileHeight < bounded.tileHeight && wider.bandBytes <= budget);
  assert.equal(plan(40000, 300, budget).tileHeight, 32);
  // A budget the band fits in changes nothing.
  assert.deepEqual(plan(2000, 300, free.bandBytes), free);

  // The upscale with shorter tiles is the whole-image blend of those tiles.
  const [W, H, C, s] = [61, 40, 3, 2];
  const data = image(W, H, C, 9);
  const options = { tile: 24, overlap: 4, depth: 8 as const };
  const full = tilePlan(W, H, C, s, options);
  const short = tilePlan(W, H, C, s, { ...options, maxBandBytes: full.bandBytes * 0.6 });
  assert.ok(short.tileHeight < 24);
  const got = await streamed(pixelSource(data, W, H, C, 127.5), s, { ...options, maxBandBytes: full.bandBytes * 0.6 });
  assert.deepEqual(got, Array.from(wholeImageBlend(data, W, H, C, s, 24, short.tileHeight, 4, 8)));
});
