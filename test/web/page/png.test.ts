import assert from 'node:assert/strict';
import { test } from 'node:test';
import sharp from 'sharp';
import { Rng } from '../../../src/util/rng.js';
import { encodePngBytes } from '../../../src/web/page/png.js';

function randomBytes(n: number, seed: number): Uint8Array {
  const rng = new Rng(seed);
  return Uint8Array.from({ length: n }, () => rng.int(256));
}

test('RGB and RGBA PNGs decode (libvips/libpng) to exactly the bytes encoded', async () => {
  for (const [w, h] of [[1, 1], [37, 23], [200, 3]] as const) {
    const data = randomBytes(w * h * 3, w);
    const rgb = await sharp(await encodePngBytes({ width: w, height: h, data })).raw().toBuffer({ resolveWithObject: true });
    assert.deepEqual([rgb.info.width, rgb.info.height, rgb.info.channels], [w, h, 3]);
    assert.deepEqual(new Uint8Array(rgb.data), data);

    // Low alpha keeps its colours exactly (a canvas would premultiply them away).
    const alpha = randomBytes(w * h, h).map((a) => a % 8);
    const rgba = await sharp(await encodePngBytes({ width: w, height: h, data, alpha })).raw().toBuffer({ resolveWithObject: true });
    assert.equal(rgba.info.channels, 4);
    for (let i = 0; i < w * h; i++) {
      assert.deepEqual([...rgba.data.subarray(4 * i, 4 * i + 4)], [...data.subarray(3 * i, 3 * i + 3), alpha[i]]);
    }
  }
});
