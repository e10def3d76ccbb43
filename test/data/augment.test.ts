import assert from 'node:assert/strict';
import { test } from 'node:test';
import { sourceOf, writeCrop } from '../../src/data/augment.js';

type Grid = number[][];

// Independent references: numpy's rot90 (counter-clockwise) and fliplr, on nested arrays.
const rot90 = (g: Grid): Grid => g[0]!.map((_, j) => g.map((row) => row[row.length - 1 - j]!));
const fliplr = (g: Grid): Grid => g.map((row) => [...row].reverse());

function transform(g: Grid, rot: number, flip: boolean): Grid {
  let out = g;
  for (let k = 0; k < rot; k++) out = rot90(out);
  return flip ? fliplr(out) : out;
}

test('sourceOf is rot90^k then a left-right mirror, for all 8 symmetries', () => {
  const n = 5;
  const g: Grid = Array.from({ length: n }, (_, i) => Array.from({ length: n }, (_, j) => i * n + j));
  const seen = new Set<string>();
  for (let rot = 0; rot < 4; rot++) {
    for (const flip of [false, true]) {
      const want = transform(g, rot, flip);
      const got = Array.from({ length: n }, (_, i) =>
        Array.from({ length: n }, (_, j) => {
          const [r, c] = sourceOf(i, j, n, rot, flip);
          return g[r]![c]!;
        }),
      );
      assert.deepEqual(got, want, `rot ${rot} flip ${flip}`);
      seen.add(JSON.stringify(got));
    }
  }
  assert.equal(seen.size, 8, 'the 8 transforms are distinct');
  // A flip is a flip: first row reversed.
  assert.deepEqual(transform(g, 0, true)[0], [4, 3, 2, 1, 0]);
  // One quarter turn counter-clockwise: the right column becomes the top row.
  assert.deepEqual(transform(g, 1, false)[0], [4, 9, 14, 19, 24]);
});

test('writeCrop cuts the right window, scales to [-1, 1] and refuses windows outside the image', () => {
  const w = 6;
  const h = 4;
  const data = new Uint8Array(w * h * 3);
  for (let i = 0; i < data.length; i++) data[i] = (i * 5) % 256;
  const img = { width: w, height: h, data };
  const out = new Float32Array(2 * 2 * 3 + 1);
  writeCrop(img, { x: 3, y: 1, size: 2, rot: 0, flip: false }, out, 1);
  const px = (x: number, y: number, c: number) => Math.fround(data[(y * w + x) * 3 + c]! / 127.5 - 1);
  assert.equal(out[0], 0);
  assert.equal(out[1], px(3, 1, 0));
  assert.equal(out[1 + 3 + 2], px(4, 1, 2));
  assert.equal(out[1 + 6], px(3, 2, 0));
  assert.throws(() => writeCrop(img, { x: 5, y: 0, size: 2, rot: 0, flip: false }, out, 0), RangeError);
});
