import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RowWindow } from '../../src/upscale/row-window.js';
import { Rng } from '../../src/util/rng.js';

test('a row window gives the rows asked for, reads each row once, and holds only the rows from the last y0 on', async () => {
  for (const depth of [8, 16] as const) {
    const [W, H, C] = [5, 200, 3];
    const stride = W * C;
    const image = Array.from({ length: W * H * C }, (_, i) => (i * 7919) % (depth === 16 ? 65536 : 256));
    const reads = new Array<number>(H).fill(0);
    const window = new RowWindow(W, H, C, depth, async (y0, n, into) => {
      assert.ok(into.length >= n * stride);
      for (let y = y0; y < y0 + n; y++) reads[y]!++;
      into.set(image.slice(y0 * stride, (y0 + n) * stride));
    });
    assert.equal(window.divisor, depth === 16 ? 32767.5 : 127.5);
    const rng = new Rng(depth);
    let y0 = 0, widest = 0;
    while (y0 < H) {
      // Bands of up to 30 rows, overlapping, skipping ahead now and then, the last past the bottom.
      const y1 = y0 + 1 + Math.floor(rng.next() * 30);
      widest = Math.max(widest, Math.min(y1, H) - y0);
      const { data, first } = await window.rows(y0, y1);
      assert.ok(first <= y0);
      for (let y = y0; y < Math.min(y1, H); y++) {
        assert.deepEqual(Array.from(data.subarray((y - first) * stride, (y - first + 1) * stride)), image.slice(y * stride, (y + 1) * stride), `row ${y}`);
      }
      assert.ok(data.length <= widest * stride, `the window holds ${data.length / stride} rows, at most ${widest} were asked at once`);
      y0 += Math.floor(rng.next() * 25);
    }
    assert.ok(reads.every((n) => n <= 1), 'no row read twice');
    await assert.rejects(window.rows(0, 1), /asked after/);
  }
});
