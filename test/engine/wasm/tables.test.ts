import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type AddressTable, SimdKernels } from '../../../src/engine/wasm/simd-kernels.js';

/** The table's entries computed in JS, in the kernel's order: image, grid row, grid column, tap row, tap column. */
function reference(t: AddressTable): number[] {
  const out: number[] = [];
  for (let b = 0; b < t.batch; b++)
    for (let gh = 0; gh < t.grid[0]; gh++)
      for (let gw = 0; gw < t.grid[1]; gw++)
        for (let kh = 0; kh < t.taps[0]; kh++)
          for (let kw = 0; kw < t.taps[1]; kw++) {
            const r = gh * t.step[0] - t.origin[0] + kh * t.dilation[0];
            const c = gw * t.step[1] - t.origin[1] + kw * t.dilation[1];
            const inside = r >= 0 && r < t.size[0] && c >= 0 && c < t.size[1];
            out.push(inside ? t.base + ((b * t.size[0] + r) * t.size[1] + c) * t.pixelBytes : t.fallback);
          }
  return out;
}

test('addressTable gives every tap of every grid point its pixel, or the fallback outside the image', () => {
  const memory = new WebAssembly.Memory({ initial: 4 });
  const kernels = SimdKernels.on(memory);
  const cases: AddressTable[] = [
    // Winograd F(4x4) input tiles of a 10 x 9 image padded by 1.
    { batch: 2, grid: [3, 3], step: [4, 4], taps: [6, 6], dilation: [1, 1], origin: [1, 1], size: [10, 9], base: 4096, pixelBytes: 64, fallback: 16 },
    // A direct conv's rows: stride 2, dilation (2, 3), asymmetric padding.
    { batch: 1, grid: [4, 5], step: [2, 2], taps: [3, 2], dilation: [2, 3], origin: [2, 0], size: [7, 8], base: 8192, pixelBytes: 12, fallback: 32 },
  ];
  for (const t of cases) {
    const expected = reference(t);
    const at = 65536;
    const view = new Int32Array(memory.buffer, at, expected.length + 1);
    view[expected.length] = 12345; // the entry after the table stays untouched
    kernels.addressTable(at, t);
    assert.deepEqual([...view.subarray(0, expected.length)], expected);
    assert.equal(view[expected.length], 12345);
  }
});
