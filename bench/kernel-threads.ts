/**
 * otsr's kernels on 1 lane and on the kernel threads (OTSR_KERNEL_THREADS, default 2), alternating in one
 * process on one heap, with whether both give the same bits:
 * - the reference EDSR's 64 -> 64 3x3 conv (batch 8, 24², the layer that dominates the step): forward
 *   (Winograd F(4x4)), input gradient (a forward conv of dy) and filter gradient, milliseconds per call;
 * - the reference training step (EDSR 8x64, x4, LR 24², batch 8, L1, Adam, as `bench engine`'s), ms per step
 *   (`--steps N` timed steps each way, alternating; 0 skips it), and its gradients' bits.
 * `node --import tsx bench/kernel-threads.ts [--reps N] [--rounds N] [--steps N] [--spin-us N]`; JSON on stdout.
 */
import * as tf from '@tensorflow/tfjs-core';
import { createHash } from 'node:crypto';
import * as os from 'node:os';
import { initBackend } from '../src/engine/backend.js';
import { kernelLanes, setKernelLanes } from '../src/engine/threads/lanes.js';
import type { KernelThreadPool } from '../src/engine/threads/pool.js';
import { Edsr } from '../src/nn/edsr.js';
import { Adam } from '../src/ot/adam.js';
import { Rng } from '../src/util/rng.js';
import { takeNumberOption } from './args.js';

process.env.OTSR_KERNEL_THREADS ??= '2';
// OTSR_KERNEL_THREADS=1: tfjs's single-threaded build, no lanes: only the 1-lane figures (the stock baseline).
const args = process.argv.slice(2);
const reps = takeNumberOption(args, '--reps', 20);
const rounds = takeNumberOption(args, '--rounds', 5);
const steps = takeNumberOption(args, '--steps', 10);
const spinUs = takeNumberOption(args, '--spin-us', -1);
const shape = { batch: 8, size: 24, inC: 64, outC: 64 };

await initBackend('wasm');
const memory = ((tf.backend() as unknown as { wasm: { wasmMemory?: WebAssembly.Memory; asm?: { memory: WebAssembly.Memory } } }).wasm.wasmMemory ??
  (tf.backend() as unknown as { wasm: { asm: { memory: WebAssembly.Memory } } }).wasm.asm.memory) as WebAssembly.Memory;
const pool = kernelLanes(memory);
const laneCount = pool?.count ?? 1;
if (pool !== undefined && spinUs >= 0) (pool as KernelThreadPool).spinMicros = spinUs;
const x = tf.randomNormal([shape.batch, shape.size, shape.size, shape.inC], 0, 1, 'float32', 1);
const w = tf.randomNormal([3, 3, shape.inC, shape.outC], 0, 0.1, 'float32', 2);
const dy = tf.randomNormal([shape.batch, shape.size, shape.size, shape.outC], 0, 1, 'float32', 3);
const conv = { strides: [1, 1], pad: 'same', dataFormat: 'NHWC' };
const kernels: Record<string, () => tf.Tensor> = {
  forward: () => tf.engine().runKernel('Conv2D', { x, filter: w }, { ...conv, dilations: [1, 1] }) as tf.Tensor,
  inputGrad: () => tf.engine().runKernel('Conv2DBackpropInput', { dy, filter: w }, { ...conv, inputShape: x.shape }) as tf.Tensor,
  filterGrad: () => tf.engine().runKernel('Conv2DBackpropFilter', { x, dy }, { ...conv, filterShape: w.shape }) as tf.Tensor,
};
const withLanes = <T>(on: boolean, body: () => T): T => {
  if (pool === undefined) return body();
  setKernelLanes(memory, on ? pool : undefined);
  try {
    return body();
  } finally {
    setKernelLanes(memory, pool);
  }
};
const time = (f: () => tf.Tensor): number => {
  f().dispose();
  const t0 = performance.now();
  for (let i = 0; i < reps; i++) f().dispose();
  return (performance.now() - t0) / reps;
};
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

const result: Record<string, unknown> = { date: new Date().toISOString(), loadavg: os.loadavg(), lanes: laneCount, build: memory.buffer instanceof SharedArrayBuffer ? 'threaded' : 'single-threaded', shape, reps, rounds, spinUs };
// Warm-up with lanes first: V8 tiers wasm up on background threads, which wait for a core here.
for (const f of Object.values(kernels)) for (let i = 0; i < 30; i++) withLanes(i % 2 === 0, f).dispose();
for (const [name, f] of Object.entries(kernels)) {
  if (pool === undefined) {
    const t1 = Array.from({ length: rounds }, () => time(f));
    result[name] = { ms1: +median(t1).toFixed(2), rounds1: t1.map((t) => +t.toFixed(2)) };
    console.error(`${name}, single-threaded build: ${median(t1).toFixed(2)} ms`);
    continue;
  }
  const one = withLanes(false, f);
  const many = withLanes(true, f);
  const a = one.dataSync() as Float32Array;
  const b = many.dataSync() as Float32Array;
  const same = Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
  tf.dispose([one, many]);
  const t1: number[] = [];
  const tN: number[] = [];
  for (let r = 0; r < rounds; r++) {
    t1.push(withLanes(false, () => time(f)));
    tN.push(withLanes(true, () => time(f)));
  }
  const [m1, mN] = [median(t1), median(tN)];
  result[name] = { sameBits: same, ms1: +m1.toFixed(2), msN: +mN.toFixed(2), speedup: +(m1 / mN).toFixed(2), rounds1: t1.map((t) => +t.toFixed(2)), roundsN: tN.map((t) => +t.toFixed(2)) };
  console.error(`${name}: 1 lane ${m1.toFixed(2)} ms, ${laneCount} lanes ${mN.toFixed(2)} ms (${(m1 / mN).toFixed(2)}x), same bits: ${same}`);
}
tf.dispose([x, w, dy]);
if (steps > 0) result.step = referenceStep();
result.loadavgAfter = os.loadavg();

/** The reference step with and without lanes: same gradients' bits, then alternating timed steps. */
function referenceStep(): Record<string, unknown> {
  const model = new Edsr({ nResBlocks: 8, nFeats: 64, scale: 4, seed: 1 });
  const rng = new Rng(2);
  const lr = tf.tensor4d(rng.normals(8 * 24 * 24 * 3, 0.5), [8, 24, 24, 3]);
  const target = tf.tensor4d(rng.normals(8 * 96 * 96 * 3, 0.5), [8, 96, 96, 3]);
  const vars = model.trainableVariables();
  const loss = () => tf.tidy(() => tf.mean(tf.abs(tf.sub(model.apply(lr), target))) as tf.Scalar);
  const bits = (on: boolean): Buffer[] =>
    withLanes(on, () => {
      const { value, grads } = tf.variableGrads(loss, vars);
      const out = [value, ...Object.values(grads)].map((t) => Buffer.from((t.dataSync() as Float32Array).slice().buffer));
      tf.dispose([value, ...Object.values(grads)]);
      return out;
    });
  const [a, b] = [bits(false), bits(true)];
  const sameBits = a.length === b.length && a.every((g, i) => g.equals(b[i]!));
  // Compared across processes: the stock single-threaded build's gradients against the threaded build's.
  const gradientHash = createHash('sha256').update(Buffer.concat(b)).digest('hex').slice(0, 16);
  const optimizer = new Adam(model.params, { lr: 1e-4 });
  const step = (on: boolean): number =>
    withLanes(on, () => {
      const t0 = performance.now();
      const { value, grads } = tf.variableGrads(loss, vars);
      optimizer.applyGradients(grads);
      value.dataSync();
      tf.dispose([value, ...Object.values(grads)]);
      return performance.now() - t0;
    });
  for (let i = 0; i < 3; i++) [step(false), step(true)];
  const t1: number[] = [];
  const tN: number[] = [];
  for (let i = 0; i < steps; i++) {
    t1.push(step(false));
    if (pool !== undefined) tN.push(step(true));
  }
  optimizer.dispose();
  model.dispose();
  tf.dispose([lr, target]);
  if (pool === undefined) {
    console.error(`reference step, single-threaded build: ${median(t1).toFixed(1)} ms`);
    return { gradientHash, ms1: +median(t1).toFixed(1), steps1: t1.map((t) => +t.toFixed(1)) };
  }
  const [m1, mN] = [median(t1), median(tN)];
  console.error(`reference step: 1 lane ${m1.toFixed(1)} ms, ${laneCount} lanes ${mN.toFixed(1)} ms (${(m1 / mN).toFixed(2)}x), same gradients' bits: ${sameBits}`);
  return { sameBits, gradientHash, ms1: +m1.toFixed(1), msN: +mN.toFixed(1), speedup: +(m1 / mN).toFixed(2), steps1: t1.map((t) => +t.toFixed(1)), stepsN: tN.map((t) => +t.toFixed(1)) };
}
console.log(JSON.stringify(result));
