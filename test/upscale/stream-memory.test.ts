import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../../src/engine/backend.js';
import { upsampleBicubic } from '../../src/image/resize-tensor.js';
import { Edsr } from '../../src/nn/edsr.js';
import { modelRunner, pixelSource, upscaleBands } from '../../src/upscale/tiles.js';
import { memoryAfterGc } from '../helpers/memory.js';

/** The wasm backend's heap size in bytes (it grows, never shrinks: a leak per tile would show as growth). */
function wasmHeap(): number {
  return (tf.backend() as unknown as { wasm: { HEAPU8: Uint8Array } }).wasm.HEAPU8.byteLength;
}

let net: Edsr | undefined;
after(() => net?.dispose());

/**
 * One 8-bit image of 240 tiles, x4, streamed in bands: the memory in use stays that of a row of tiles (the output,
 * 1920x1280x3 floats, would be 28 MB), and nothing grows from tile to tile: tensors, the wasm heap, live JS memory.
 */
test('upscaleBands: memory bounded by a row of tiles and flat over the tiles of one image', { timeout: 300_000 }, async (t) => {
  await initBackend('wasm', { gradients: false });
  net = new Edsr({ nResBlocks: 1, nFeats: 8, scale: 4, skip: 'upsample', upsampler: upsampleBicubic, seed: 2 });
  const [W, H, C, tile, overlap] = [480, 320, 3, 32, 8];
  const data = new Uint8Array(W * H * C).map((_, i) => (i * 31) % 256);
  const runner = modelRunner((x) => net!.apply(x) as tf.Tensor4D);
  const before = memoryAfterGc().live;
  const samples: { tile: number; tensors: number; heap: number; live: number }[] = [];
  let rows = 0;
  let largest = 0;
  const out = await upscaleBands(
    pixelSource(data, W, H, C, 127.5),
    {
      tile,
      overlap,
      progress: (done) => {
        if (done % 40 === 0) samples.push({ tile: done, tensors: tf.memory().numTensors, heap: wasmHeap(), live: memoryAfterGc().live });
      },
    },
    runner,
    (values, y0, n, o) => {
      assert.equal(y0, rows, 'rows come in order');
      rows += n;
      largest = Math.max(largest, n);
      assert.ok(values.every((v, i) => i >= n * o.width * o.channels || Number.isFinite(v)));
    },
  );
  assert.deepEqual([out.width, out.height, rows], [W * 4, H * 4, H * 4]);
  assert.ok(largest <= tile * 4, `bands of at most a row of tiles, got ${largest} rows`);
  const first = samples[0]!;
  for (const s of samples) {
    t.diagnostic(`tile ${s.tile}: ${s.tensors} tensors, wasm heap ${(s.heap / 2 ** 20).toFixed(1)} MB, live +${(s.live - before).toFixed(1)} MB`);
    assert.equal(s.tensors, first.tensors, `tensors at tile ${s.tile}`);
    assert.equal(s.heap, first.heap, `wasm heap at tile ${s.tile}`);
    // A row of tiles of the output is 128 x 1920 x 3 floats (2.9 MB); the whole output would be 28 MB.
    assert.ok(s.live - before < 10, `live memory at tile ${s.tile}: +${(s.live - before).toFixed(1)} MB`);
    assert.ok(s.live - first.live < 1, `live memory grew by ${(s.live - first.live).toFixed(2)} MB from tile ${first.tile} to ${s.tile}`);
  }
});
