/**
 * Entry of a data-parallel worker thread (see {@link DataParallel}): builds the task, then runs the steps the
 * main thread asks for on its rows of each batch, averaging gradients with the other workers through shared
 * memory.
 */
import { parentPort, workerData } from 'node:worker_threads';
import * as tf from '@tensorflow/tfjs-core';
import { type BackendName, initBackend } from '../backend.js';
import { Barrier, BarrierAborted } from './barrier.js';
import type { CreateTask, FromWorker, ParallelStep, ParallelTask, SharedInput, ToWorker, TaskSpec, WorkerPhases } from './protocol.js';
import { addScaled, writeScaled } from './grad-slot.js';
import { shardRange } from './shard.js';
import { tensorFrom } from './shared-tensor.js';

interface Data {
  task: TaskSpec;
  rank: number;
  size: number;
  backend: BackendName;
  control: SharedArrayBuffer;
  microBatch: number;
}

const port = parentPort!;
const { task: spec, rank, size, backend, control, microBatch } = workerData as Data;
const barrier = new Barrier(new Int32Array(control), size);
const post = (msg: FromWorker) => port.postMessage(msg);

let task: ParallelTask;
/** Gradient slots: `size` rows (one per worker) then the reduced row, each `stride` floats. */
let grads: Float32Array;
let stride = 0;

async function start(): Promise<void> {
  await initBackend(backend);
  const mod = (await import(spec.url)) as { createTask?: CreateTask };
  if (typeof mod.createTask !== 'function') throw new Error(`${spec.url} does not export createTask`);
  task = await mod.createTask(spec.options, { rank, size });
  const paramCounts: Record<string, number> = {};
  for (const [name, step] of Object.entries(task.steps)) {
    let n = 0;
    for (const v of step.params.values()) n += v.size;
    paramCounts[name] = n;
  }
  post({ type: 'ready', paramCounts });
}

/** Rows [r0, r1) of a shared input, as a tensor (copied out of shared memory into the backend). */
function rowsOf(input: SharedInput, r0: number, r1: number): tf.Tensor {
  const [, ...rest] = input.shape;
  const per = rest.reduce((a, x) => a * x, 1);
  return tensorFrom(new Float32Array(input.buffer, r0 * per * 4, (r1 - r0) * per), [r1 - r0, ...rest]);
}

/** Epoch ms, comparable across threads (each thread's `performance.now()` has its own origin). */
const clock = () => performance.timeOrigin + performance.now();

function runStep(step: ParallelStep, batch: Record<string, SharedInput>): { loss: number; metrics: Record<string, number>; phases: WorkerPhases } {
  const begin = clock();
  const phases: WorkerPhases = { begin, input: 0, compute: 0, gradCopy: 0, wait: 0, reduce: 0, wait2: 0, update: 0, end: 0 };
  let t = begin;
  /** Adds the time since the last lap to `phase`. */
  const lap = (phase: Exclude<keyof WorkerPhases, 'begin' | 'end'>) => {
    const now = clock();
    phases[phase] += now - t;
    t = now;
  };
  const names = Object.keys(batch);
  if (names.length === 0) throw new Error('a step needs at least one input');
  const total = batch[names[0]!]!.shape[0]!;
  const [s0, s1] = shardRange(total, rank, size);
  const vars = [...step.params.values()];
  const mine = grads.subarray(rank * stride, (rank + 1) * stride);
  let loss = 0;
  const metrics: Record<string, number> = {};
  // The shard runs in chunks of at most `microBatch` rows (bounding the memory of one forward/backward); each
  // chunk's mean is weighted by its share of the whole batch, so the slot ends up holding this worker's part of
  // the batch-mean gradient.
  const chunk = microBatch > 0 ? microBatch : s1 - s0;
  for (let c0 = s0; c0 < s1; c0 += chunk) {
    const c1 = Math.min(s1, c0 + chunk);
    const weight = (c1 - c0) / total;
    const inputs: Record<string, tf.Tensor> = {};
    try {
      for (const name of names) inputs[name] = rowsOf(batch[name]!, c0, c1);
      lap('input');
      const out = tf.tidy(() => {
        let kept: Record<string, tf.Scalar> = {};
        const { value, grads: g } = tf.variableGrads(() => {
          const r = step.loss(inputs);
          if (r instanceof tf.Tensor) return r;
          kept = Object.fromEntries(Object.entries(r.metrics).map(([k, t]) => [k, tf.keep(t)]));
          return r.loss;
        }, vars);
        return { value, grads: g, metrics: kept };
      });
      lap('compute');
      let off = 0;
      for (const v of vars) {
        const g = out.grads[v.name];
        if (c0 === s0) {
          if (g) writeScaled(mine, off, g, weight);
          else mine.fill(0, off, off + v.size);
        } else if (g) addScaled(mine, off, g, weight);
        off += v.size;
      }
      loss += (out.value.dataSync()[0] ?? NaN) * weight;
      for (const [k, t] of Object.entries(out.metrics)) metrics[k] = (metrics[k] ?? 0) + (t.dataSync()[0] ?? NaN) * weight;
      tf.dispose([out.value, ...Object.values(out.grads), ...Object.values(out.metrics)]);
      lap('gradCopy');
    } finally {
      tf.dispose(Object.values(inputs));
    }
  }
  const off = vars.reduce((n, v) => n + v.size, 0);
  {
    // Reduce-scatter: worker r sums chunk r of every slot, in rank order (so the sum is the same bits in every
    // run), into the reduced row; then everyone reads the whole reduced row.
    barrier.arrive();
    lap('wait');
    const [c0, c1] = shardRange(off, rank, size);
    const reduced = size * stride;
    for (let i = c0; i < c1; i++) {
      let s = grads[i]!;
      for (let r = 1; r < size; r++) s += grads[r * stride + i]!;
      grads[reduced + i] = s;
    }
    lap('reduce');
    barrier.arrive();
    lap('wait2');
    tf.tidy(() => {
      const named: tf.NamedTensorMap = {};
      let o = reduced;
      for (const v of vars) {
        named[v.name] = tensorFrom(grads.subarray(o, o + v.size), v.shape);
        o += v.size;
      }
      step.update(named);
    });
    lap('update');
  }
  phases.end = clock();
  return { loss, metrics, phases };
}

function readState(prefixes?: string[]): { values: Record<string, Float32Array>; shapes: Record<string, number[]>; counters: Record<string, number> } {
  const { tensors, counters } = task.getState();
  const values: Record<string, Float32Array> = {};
  const shapes: Record<string, number[]> = {};
  for (const [name, t] of Object.entries(tensors)) {
    if (prefixes && !prefixes.some((p) => name.startsWith(p))) continue;
    values[name] = t.dataSync() as Float32Array;
    shapes[name] = t.shape;
  }
  tf.dispose(Object.values(tensors));
  return { values, shapes, counters };
}

function writeState(values: Record<string, Float32Array>, counters: Record<string, number>, shapes: Record<string, number[]>): void {
  const tensors: Record<string, tf.Tensor> = {};
  try {
    for (const [name, v] of Object.entries(values)) tensors[name] = tf.tensor(v, shapes[name] ?? [v.length], 'float32');
    task.setState(tensors, counters);
  } finally {
    tf.dispose(Object.values(tensors));
  }
}

const ready = start().catch((err: unknown) => {
  post({ type: 'error', message: err instanceof Error ? (err.stack ?? err.message) : String(err) });
  throw err;
});

port.on('message', async (msg: ToWorker) => {
  try {
    await ready;
    switch (msg.type) {
      case 'init':
        grads = new Float32Array(msg.grads);
        stride = msg.stride;
        return;
      case 'step': {
        const step = task.steps[msg.name];
        if (!step) throw new Error(`unknown step '${msg.name}'`);
        post({ type: 'step', id: msg.id, ...runStep(step, msg.batch) });
        return;
      }
      case 'readState':
        post({ type: 'state', id: msg.id, ...readState(msg.prefixes) });
        return;
      case 'call': {
        const command = task.commands?.[msg.name];
        if (!command) throw new Error(`unknown command '${msg.name}'`);
        post({ type: 'result', id: msg.id, value: await command(msg.args) });
        return;
      }
      case 'writeState':
        writeState(msg.values, msg.counters, msg.shapes);
        post({ type: 'ok', id: msg.id });
        return;
    }
  } catch (err) {
    // Release the other workers from the barrier; a worker released that way reports that as its error.
    if (!(err instanceof BarrierAborted)) barrier.abort();
    const id = 'id' in msg ? msg.id : undefined;
    post({ type: 'error', ...(id !== undefined ? { id } : {}), message: err instanceof Error ? (err.stack ?? err.message) : String(err) });
  }
});
