import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../../../src/engine/backend.js';
import { type KernelLanes, kernelLanes, setKernelLanes } from '../../../src/engine/threads/lanes.js';
import type { KernelThreadPool } from '../../../src/engine/threads/pool.js';
import { Rng } from '../../../src/util/rng.js';

// This file's process runs tfjs's threaded build with two kernel lanes (node --test runs each file apart).
process.env.OTSR_KERNEL_THREADS = '2';
await initBackend('wasm');
const memory = (tf.backend() as unknown as { wasm: { wasmMemory: WebAssembly.Memory } }).wasm.wasmMemory;
const pool = kernelLanes(memory) as KernelLanes;
after(() => (pool as KernelThreadPool).close());
const rng = new Rng(7);

function tensor(shape: number[]): tf.Tensor {
  return tf.tensor(rng.normals(shape.reduce((a, b) => a * b, 1)), shape);
}

/** `run` on one lane and on two: the results' bits. */
function bothWays(run: () => tf.Tensor): [Uint8Array, Uint8Array] {
  const bits = (on: boolean) => {
    setKernelLanes(memory, on ? pool : undefined);
    try {
      const t = run();
      const out = new Uint8Array((t.dataSync() as Float32Array).slice().buffer);
      t.dispose();
      return out;
    } finally {
      setKernelLanes(memory, pool);
    }
  };
  return [bits(false), bits(true)];
}

function assertSameBits(run: () => tf.Tensor, label: string): void {
  const runs = (pool as KernelThreadPool).runs;
  const [one, two] = bothWays(run);
  assert.ok((pool as KernelThreadPool).runs > runs, `${label}: the kernel did not use the lanes`);
  assert.equal(one.length, two.length, label);
  assert.ok(Buffer.from(one).equals(Buffer.from(two)), `${label}: two lanes give other bits than one`);
}

const kernel = (name: string, inputs: Record<string, tf.Tensor>, attrs: object) =>
  tf.engine().runKernel(name, inputs as tf.NamedTensorMap, attrs as unknown as tf.NamedAttrMap) as tf.Tensor;

test('the wasm heap is shared and the pool has two lanes', () => {
  assert.ok(memory.buffer instanceof SharedArrayBuffer);
  assert.equal(pool.count, 2);
  // tfjs's own kernels work on the threaded build.
  assert.deepEqual(Array.from(tf.add(tf.tensor([1, 2]), tf.tensor([3, 4])).dataSync()), [4, 6]);
});

interface Case {
  batch: number;
  size: [number, number];
  channels: [number, number];
  k: number;
  stride: number;
  pad: 'same' | 'valid';
}

// Odd sizes (tiles and lanes' shares overhang), a half panel (20 = 8·2 + 4), RGB in and out, strides.
const CASES: Case[] = [
  { batch: 3, size: [13, 11], channels: [16, 20], k: 3, stride: 1, pad: 'same' },
  { batch: 2, size: [9, 8], channels: [12, 8], k: 3, stride: 1, pad: 'valid' },
  { batch: 1, size: [7, 7], channels: [3, 16], k: 3, stride: 1, pad: 'same' },
  { batch: 2, size: [10, 9], channels: [16, 3], k: 3, stride: 1, pad: 'same' },
  { batch: 2, size: [11, 10], channels: [8, 12], k: 3, stride: 2, pad: 'same' },
  { batch: 1, size: [5, 6], channels: [8, 8], k: 1, stride: 1, pad: 'valid' },
];
const label = (c: Case) => `${c.batch}x${c.size.join('x')} ${c.channels.join('->')} k${c.k} s${c.stride} ${c.pad}`;

test('forward convs give the same bits on two lanes as on one, by every method, with bias and activation', () => {
  for (const c of CASES) {
    const x = tensor([c.batch, ...c.size, c.channels[0]]);
    const w = tensor([c.k, c.k, ...c.channels]);
    const bias = tensor([c.channels[1]]);
    const attrs = { strides: c.stride, pad: c.pad, dataFormat: 'NHWC', dilations: 1 };
    for (const convMethod of ['direct', 'winograd2', 'winograd4']) {
      assertSameBits(() => kernel('Conv2D', { x, filter: w }, { ...attrs, convMethod }), `Conv2D ${convMethod} ${label(c)}`);
      assertSameBits(
        () => kernel('FusedConv2D', { x, filter: w, bias }, { ...attrs, convMethod, activation: 'relu' }),
        `FusedConv2D relu ${convMethod} ${label(c)}`,
      );
    }
    tf.dispose([x, w, bias]);
  }
});

test('input and filter gradients give the same bits on two lanes as on one, by every method', () => {
  for (const c of CASES) {
    const x = tensor([c.batch, ...c.size, c.channels[0]]);
    const w = tensor([c.k, c.k, ...c.channels]);
    const info = tf.backend_util.computeConv2DInfo(x.shape as [number, number, number, number], w.shape as [number, number, number, number], c.stride, 1, c.pad);
    const dy = tensor([c.batch, info.outHeight, info.outWidth, c.channels[1]]);
    const attrs = { strides: c.stride, pad: c.pad, dataFormat: 'NHWC' };
    assertSameBits(() => kernel('Conv2DBackpropInput', { dy, filter: w }, { ...attrs, inputShape: x.shape }), `input gradient ${label(c)}`);
    for (const filterGradStrategy of ['auto', 'patches', 'shiftedDy', 'winograd2', 'winograd4']) {
      assertSameBits(
        () => kernel('Conv2DBackpropFilter', { x, dy }, { ...attrs, filterShape: w.shape, filterGradStrategy }),
        `filter gradient ${filterGradStrategy} ${label(c)}`,
      );
    }
    // Contraction split into blocks (accumulated GEMM calls), as large images are.
    assertSameBits(
      () => kernel('Conv2DBackpropFilter', { x, dy }, { ...attrs, filterShape: w.shape, filterGradStrategy: 'patches', maxContraction: 17 }),
      `filter gradient patches, split contraction ${label(c)}`,
    );
    tf.dispose([x, w, dy]);
  }
});

test('a lane that fails fails the run, and the pool runs on afterwards', () => {
  assert.throws(
    () =>
      pool.run((simd, lane) => {
        if (lane === 0) throw new Error('lane 0 fails');
        simd.barrier(); // the other lane must not wait here for ever
      }),
    /lane 0 fails/,
  );
  // A wasm trap in the worker (a store past the end of the heap).
  const outside = memory.buffer.byteLength + 4096;
  assert.throws(() => pool.run((simd, lane) => (lane === 1 ? simd.pack(0, 8, 1, 8, outside) : simd.barrier())), /kernel thread 1 failed/);
  let ran = 0;
  pool.run((simd) => {
    simd.barrier();
    ran++;
  });
  assert.equal(ran, 2, 'both lanes ran (one recorded, one live)');
  const x = tensor([2, 6, 6, 8]);
  const w = tensor([3, 3, 8, 8]);
  assertSameBits(() => kernel('Conv2D', { x, filter: w }, { strides: 1, pad: 'same', dataFormat: 'NHWC', dilations: 1 }), 'Conv2D after failures');
  tf.dispose([x, w]);
});
