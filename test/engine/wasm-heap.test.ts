import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../../src/engine/backend.js';
import { setFilterGradStrategy } from '../../src/engine/wasm-kernels.js';
import { Rng } from '../../src/util/rng.js';
import { type HostTensor, relError, runOn } from './conv-reference.js';

// Training the full OTS workload (EDSR 8x64 + the 23 M-parameter critic at 96², 4 images a pass) grows a wasm heap
// past 2 GiB, where byte offsets no longer fit a signed 32-bit integer. otsr's kernels must address tensors up there
// too: here everything the kernels touch lies above 2 GiB (a 2 GiB block, allocated but never written, so it costs
// address space, not memory, fills the heap below).

interface WasmBackend {
  makeOutput(shape: number[], dtype: 'float32'): tf.TensorInfo;
  typedArrayFromHeap(info: tf.TensorInfo): Float32Array;
  disposeData(dataId: object): boolean;
}

test('the filter-gradient kernels match cpu with every tensor above 2 GiB of wasm heap', async () => {
  await initBackend('cpu');
  await initBackend('wasm');
  const backend = tf.backend() as unknown as WasmBackend;
  const filler = backend.makeOutput([2 ** 29 + 2 ** 18], 'float32');
  try {
    const probe = backend.makeOutput([16], 'float32');
    const offset = backend.typedArrayFromHeap(probe).byteOffset;
    backend.disposeData(probe.dataId);
    assert.ok(offset >= 2 ** 31, `new tensors start at byte ${offset}, below 2 GiB: the test would prove nothing`);

    const rng = new Rng(5);
    const host = (shape: number[]): HostTensor => ({ values: rng.normals(shape.reduce((a, b) => a * b, 1)), shape });
    for (const strides of [[1, 1], [2, 2]] as [number, number][]) {
      const x = host([2, 9, 8, 5]);
      const info = tf.backend_util.computeConv2DInfo([2, 9, 8, 5], [3, 3, 5, 6], strides, 1, 'same');
      const dy = host([2, info.outHeight, info.outWidth, 6]);
      const attrs = { strides, pad: 'same', dataFormat: 'NHWC', filterShape: [3, 3, 5, 6] };
      const ref = runOn('cpu', 'Conv2DBackpropFilter', { x, dy }, attrs);
      for (const strategy of ['patches', 'shiftedDy', 'conv'] as const) {
        if (strategy === 'shiftedDy' && strides[0] !== 1) continue;
        setFilterGradStrategy(strategy);
        try {
          const dw = runOn('wasm', 'Conv2DBackpropFilter', { x, dy }, attrs);
          const e = relError(dw, ref);
          assert.ok(e < 1e-4, `${strategy}, strides ${strides}: error ${e}`);
        } finally {
          setFilterGradStrategy('auto');
        }
      }
    }
  } finally {
    backend.disposeData(filler.dataId);
  }
});
