import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SimdKernels } from '../../../src/engine/wasm/simd-kernels.js';
import { Rng } from '../../../src/util/rng.js';

function heap(floats: number) {
  const memory = new WebAssembly.Memory({ initial: Math.ceil((floats * 4) / 65536) + 1 });
  return { kernels: SimdKernels.on(memory), f32: new Float32Array(memory.buffer) };
}

test('channelsFirst moves [pixels][channels] to channel rows, touching nothing else', () => {
  const rng = new Rng(4);
  for (const [pixels, channels, stride] of [[4, 4, 9], [12, 8, 13], [24, 64, 24 * 8]] as const) {
    const { kernels, f32 } = heap(pixels * channels + channels * stride + 64);
    const src = 4;
    f32.set(rng.normals(pixels * channels), src);
    const dst = src + pixels * channels + 4;
    const before = rng.normals(channels * stride);
    f32.set(before, dst);
    kernels.channelsFirst(src * 4, pixels, channels, dst * 4, stride);
    for (let c = 0; c < channels; c++) {
      for (let j = 0; j < stride; j++) {
        const expected = j < pixels ? f32[src + j * channels + c]! : before[c * stride + j]!;
        assert.equal(f32[dst + c * stride + j], expected, `${pixels}x${channels}: channel ${c}, position ${j}`);
      }
    }
  }
});

test('columnSums sums the rows of a matrix in float32', () => {
  const rng = new Rng(6);
  for (const [rows, cols] of [[1, 4], [7, 12], [256, 64]] as const) {
    const { kernels, f32 } = heap(rows * cols + cols + 16);
    const src = 8;
    f32.set(rng.normals(rows * cols), src);
    const dst = src + rows * cols;
    f32.fill(123, dst, dst + cols); // overwritten, not added to
    kernels.columnSums(src * 4, rows, cols, dst * 4);
    for (let c = 0; c < cols; c++) {
      let expected = 0;
      for (let r = 0; r < rows; r++) expected += f32[src + r * cols + c]!;
      assert.ok(Math.abs(f32[dst + c]! - expected) < 1e-4, `${rows}x${cols} column ${c}: ${f32[dst + c]} vs ${expected}`);
    }
  }
});

test('the layout kernels refuse shapes that are not multiples of 4', () => {
  const { kernels } = heap(64);
  assert.throws(() => kernels.channelsFirst(0, 6, 4, 64, 8), /multiples of 4/);
  assert.throws(() => kernels.columnSums(0, 2, 6, 64), /multiple of 4/);
});
