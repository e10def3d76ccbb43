import * as os from 'node:os';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend, kernelThreadsFromEnv } from '../engine/backend.js';
import { convMethodFor } from '../engine/conv-forward.js';
import { type WasmTrainingKernel, setConvMethod, setFilterGradStrategy, stockWasmKernel } from '../engine/wasm-kernels.js';
import { CancelledError } from '../errors.js';
import { Edsr } from '../nn/edsr.js';
import { Adam } from '../ot/adam.js';
import { Rng } from '../util/rng.js';
import { type GemmSpeed, measureGemmSpeed } from './gemm-speed.js';
import { measureSimdPeak } from './simd-peak.js';
import { type BenchMachine, benchMachine, formatMachine } from './machine.js';

/** One conv layer shape: NHWC input [batch, size, size, inC], a k×k filter to outC channels, 'same' padding. */
export interface ConvShape {
  name: string;
  batch: number;
  size: number;
  inC: number;
  outC: number;
  k: number;
  stride: number;
}

/**
 * Median wall time, and the median CPU time of this process over the same runs. On a machine shared with
 * other work the wall time grows with the load; the CPU time much less (it still grows when a busy
 * hyperthread sibling shares the core), so it is the steadier figure to compare runs by.
 */
export interface Timing {
  ms: number;
  gflops: number;
  cpuMs: number;
}

interface Measured {
  ms: number;
  cpuMs: number;
}

type ConvKernel = 'Conv2D' | 'Conv2DBackpropInput' | 'Conv2DBackpropFilter';

export interface KernelRow {
  kernel: WasmTrainingKernel;
  shape: ConvShape;
  gflop: number;
  /** tfjs-backend-wasm's own kernel (XNNPACK's conv for Conv2D); null where it has none. */
  stock: Timing | null;
  otsr: Timing;
  /** Conv2DBackpropFilter: the engine's first method (one conv with dy as the filter, the 'conv' strategy), for comparison. */
  convMethod?: Timing;
  /**
   * The conv kernels without Winograd (the direct GEMM conv; the patches / shiftedDy filter gradient), timed
   * in the same run: what `otsr` was before Winograd. Equal methods where Winograd does not apply.
   */
  direct?: Timing;
  /** The method `otsr` used: 'direct' or 'winograd2' / 'winograd4' (F(2x2) / F(4x4)). */
  method?: string;
  /** max |otsr - cpu| / max |cpu| on the same layer at reduced batch and size (cpu is ~0.05 GFLOP/s). */
  relError: number;
}

export interface EngineBenchResult {
  kernels: KernelRow[];
  /** The reference training step: EDSR 8×64, ×4, LR 24² -> HR 96², batch 8, L1 loss, Adam. */
  edsrStep: EdsrStepTiming;
  /** The same step with every conv and gradient direct (no Winograd), its steps alternating with edsrStep's. */
  edsrStepDirect: EdsrStepTiming;
  maxRelError: number;
  /**
   * The ceiling of 128-bit wasm SIMD multiply-adds on one core of this machine (src/bench/simd-peak.ts): the
   * yardstick for every GFLOP/s above, which differ several-fold between CPUs for the same code.
   */
  simdPeak: { gflops: number };
  /** otsr's GEMM alone on the 64-channel conv's shape (src/bench/gemm-speed.ts), multiply + add and FMA. */
  gemm: GemmSpeed;
  machine: BenchMachine;
  date: string;
  backend: 'wasm';
  /** Threads per conv kernel (OTSR_KERNEL_THREADS; 1: tfjs's single-threaded build, no kernel threads). */
  threads: number;
  quick: boolean;
}

export interface EdsrStepTiming {
  ms: number;
  gflop: number;
  /** GFLOP/s counted as direct convs' FLOPs (Winograd does fewer multiplies for the same result). */
  gflops: number;
  cpuMs: number;
  timedSteps: number;
  allMs: number[];
}

export interface EngineBenchOptions {
  /** Small shapes and model: a smoke run of a few seconds (tests), not a measurement. */
  quick?: boolean;
  /** Timed EDSR steps after warm-up (default 5). */
  steps?: number;
  /** Timed repetitions per kernel and shape (median; default 3). */
  reps?: number;
  onProgress?: (event: { done: number; total: number; label: string }) => void;
  signal?: AbortSignal;
}

/** The layers of the reference EDSR (8 blocks × 64 features, ×4, batch 8, LR 24²) plus a strided conv. */
export const EDSR_LAYERS: ConvShape[] = [
  { name: 'head 3->64 @24', batch: 8, size: 24, inC: 3, outC: 64, k: 3, stride: 1 },
  { name: 'body 64->64 @24', batch: 8, size: 24, inC: 64, outC: 64, k: 3, stride: 1 },
  { name: 'up0 64->256 @24', batch: 8, size: 24, inC: 64, outC: 256, k: 3, stride: 1 },
  { name: 'up1 64->256 @48', batch: 8, size: 48, inC: 64, outC: 256, k: 3, stride: 1 },
  { name: 'tail 64->3 @96', batch: 8, size: 96, inC: 64, outC: 3, k: 3, stride: 1 },
  { name: 'strided 64->64 @48 s2', batch: 8, size: 48, inC: 64, outC: 64, k: 3, stride: 2 },
];

const QUICK_LAYERS: ConvShape[] = [
  { name: 'quick 8->16 @12', batch: 2, size: 12, inC: 8, outC: 16, k: 3, stride: 1 },
  { name: 'quick 16->3 @12', batch: 2, size: 12, inC: 16, outC: 3, k: 3, stride: 1 },
  { name: 'quick 8->8 @12 s2', batch: 2, size: 12, inC: 8, outC: 8, k: 3, stride: 2 },
];

/** FLOPs of one k×k conv layer ('same' padding): 2·B·Ho·Wo·k²·Cin·Cout; dX and dW cost the same. */
export function convGflop(s: Pick<ConvShape, 'batch' | 'size' | 'inC' | 'outC' | 'k' | 'stride'>): number {
  const out = Math.ceil(s.size / s.stride);
  return (2 * s.batch * out * out * s.k * s.k * s.inC * s.outC) / 1e9;
}

/** FLOPs of one EDSR training step: every conv forward, filter gradient and (except the head) input gradient. */
export function edsrStepGflop(o: { nResBlocks: number; nFeats: number; scale: 2 | 4; batch: number; lr: number }): number {
  const f = o.nFeats;
  const layers: ConvShape[] = [];
  const conv = (size: number, inC: number, outC: number) => layers.push({ name: '', batch: o.batch, size, inC, outC, k: 3, stride: 1 });
  conv(o.lr, 3, f);
  for (let i = 0; i < 2 * o.nResBlocks + 1; i++) conv(o.lr, f, f);
  let size = o.lr;
  for (let s = o.scale; s > 1; s /= 2, size *= 2) conv(size, f, 4 * f);
  conv(size, f, 3);
  const fwd = layers.reduce((sum, l) => sum + convGflop(l), 0);
  return 3 * fwd - convGflop(layers[0]!);
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

function checkAbort(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new CancelledError('benchmark cancelled');
}

/** Median wall and CPU time (ms) of `reps` runs of `f` after one warm-up; `f` returns a tensor that is read and freed. */
function timeKernel(f: () => tf.Tensor, reps: number, warmUp = true): Measured {
  if (warmUp) f().dispose();
  const wall: number[] = [];
  const cpu: number[] = [];
  for (let i = 0; i < reps; i++) {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    const y = f();
    y.dataSync();
    wall.push(performance.now() - t0);
    const c = process.cpuUsage(c0);
    cpu.push((c.user + c.system) / 1000);
    y.dispose();
  }
  return { ms: median(wall), cpuMs: median(cpu) };
}

function attrsFor(s: ConvShape) {
  return { strides: s.stride, pad: 'same' as const, dataFormat: 'NHWC' as const };
}

function run(kernel: string, inputs: Record<string, tf.Tensor>, attrs: object): tf.Tensor {
  return tf.engine().runKernel(kernel, inputs as tf.NamedTensorMap, attrs as tf.NamedAttrMap) as tf.Tensor;
}

function relError(actual: Float32Array, expected: Float32Array): number {
  let d = 0;
  let m = 0;
  for (let i = 0; i < expected.length; i++) {
    d = Math.max(d, Math.abs(actual[i]! - expected[i]!));
    m = Math.max(m, Math.abs(expected[i]!));
  }
  return m === 0 ? d : d / m;
}

/** Error of otsr's wasm kernels against cpu on `s` at reduced batch and size (same channels, filter, stride). */
async function kernelErrors(s: ConvShape, rng: Rng): Promise<Record<ConvKernel, number>> {
  const small = { ...s, batch: 1, size: Math.min(s.size, 9) };
  const out = Math.ceil(small.size / small.stride);
  const xv = rng.normals(small.size * small.size * s.inC);
  const wv = rng.normals(s.k * s.k * s.inC * s.outC);
  const dyv = rng.normals(out * out * s.outC);
  const compute = async (backend: 'cpu' | 'wasm') => {
    await initBackend(backend);
    return tf.tidy(() => {
      const x = tf.tensor4d(xv, [1, small.size, small.size, s.inC]);
      const w = tf.tensor4d(wv, [s.k, s.k, s.inC, s.outC]);
      const dy = tf.tensor4d(dyv, [1, out, out, s.outC]);
      const dx = run('Conv2DBackpropInput', { dy, filter: w }, { ...attrsFor(s), inputShape: x.shape });
      const dw = run('Conv2DBackpropFilter', { x, dy }, { ...attrsFor(s), filterShape: w.shape });
      const y = run('Conv2D', { x, filter: w }, { ...attrsFor(s), dilations: 1 });
      return { y: y.dataSync() as Float32Array, dx: dx.dataSync() as Float32Array, dw: dw.dataSync() as Float32Array };
    });
  };
  const ref = await compute('cpu');
  const ours = await compute('wasm');
  return {
    Conv2D: relError(ours.y, ref.y),
    Conv2DBackpropInput: relError(ours.dx, ref.dx),
    Conv2DBackpropFilter: relError(ours.dw, ref.dw),
  };
}

/**
 * Times tfjs-backend-wasm's own kernel `name`: one run, no warm-up (the stock dX is a naive loop), unless
 * `reps` is given.
 */
function timeStock(name: WasmTrainingKernel, inputs: Record<string, tf.Tensor>, attrs: object, reps?: number): Measured | undefined {
  const stock = stockWasmKernel(name, tf.backend());
  if (stock === undefined) return undefined;
  const call = () =>
    tf.engine().makeTensorFromTensorInfo(
      stock({ inputs, backend: tf.backend(), attrs: attrs as tf.NamedAttrMap }) as tf.TensorInfo,
    );
  return reps === undefined ? timeKernel(call, 1, false) : timeKernel(call, reps);
}

/**
 * Measures the wasm engine: each conv kernel on each layer shape (stock tfjs-backend-wasm vs otsr's
 * kernels) and the reference EDSR training step. Single-threaded wasm, unless OTSR_KERNEL_THREADS asks for kernel
 * threads (engine/threads/).
 */
export async function benchEngine(options: EngineBenchOptions = {}): Promise<EngineBenchResult> {
  const quick = options.quick ?? false;
  const reps = options.reps ?? (quick ? 1 : 3);
  const steps = options.steps ?? (quick ? 2 : 5);
  const layers = quick ? QUICK_LAYERS : EDSR_LAYERS;
  const loadavgBefore = os.loadavg();
  const total = layers.length + 2 * steps + 3; // + GEMM alone, EDSR warm-up, SIMD peak
  let done = 0;
  const progress = (label: string) => options.onProgress?.({ done: ++done, total, label });

  // First, so that V8 has optimised the GEMM (a wasm function runs on a baseline tier for its first calls)
  // before the first layer is timed.
  await initBackend('wasm');
  const gemm = measureGemmSpeed(quick ? { rows: 64, runs: 1 } : {});
  progress('GEMM alone');

  const rng = new Rng(1);
  const kernels: KernelRow[] = [];
  let maxRelError = 0;
  for (const s of layers) {
    checkAbort(options.signal);
    const errors = await kernelErrors(s, rng);
    maxRelError = Math.max(maxRelError, errors.Conv2D, errors.Conv2DBackpropInput, errors.Conv2DBackpropFilter);
    await initBackend('wasm');
    const gflop = convGflop(s);
    const timing = (m: Measured): Timing => ({ ms: round(m.ms, 2), gflops: round(gflop / (m.ms / 1000), 2), cpuMs: round(m.cpuMs, 2) });
    const out = Math.ceil(s.size / s.stride);
    const x = tf.tensor4d(rng.normals(s.batch * s.size * s.size * s.inC), [s.batch, s.size, s.size, s.inC]);
    const w = tf.tensor4d(rng.normals(s.k * s.k * s.inC * s.outC), [s.k, s.k, s.inC, s.outC]);
    const dy = tf.tensor4d(rng.normals(s.batch * out * out * s.outC), [s.batch, out, out, s.outC]);
    try {
      const fwdAttrs = { ...attrsFor(s), dilations: 1 };
      const stockFwd = timeStock('Conv2D', { x, filter: w }, fwdAttrs, reps);
      const ourFwd = timeKernel(() => run('Conv2D', { x, filter: w }, fwdAttrs), reps);
      const directFwd = timeKernel(() => run('Conv2D', { x, filter: w }, { ...fwdAttrs, convMethod: 'direct' }), reps);
      const info = tf.backend_util.computeConv2DInfo(x.shape, w.shape, s.stride, 1, 'same');
      kernels.push({
        kernel: 'Conv2D',
        shape: s,
        gflop: round(gflop, 4),
        stock: stockFwd === undefined ? null : timing(stockFwd),
        otsr: timing(ourFwd),
        direct: timing(directFwd),
        method: convMethodFor(info),
        relError: errors.Conv2D,
      });

      const dxAttrs = { ...attrsFor(s), inputShape: x.shape };
      const stockDx = timeStock('Conv2DBackpropInput', { dy, filter: w }, dxAttrs);
      const ourDx = timeKernel(() => run('Conv2DBackpropInput', { dy, filter: w }, dxAttrs), reps);
      const directDx = withDirect(() => timeKernel(() => run('Conv2DBackpropInput', { dy, filter: w }, dxAttrs), reps));
      // The input gradient of a stride-1 conv is one conv of dy (outC -> inC channels).
      const dxInfo = tf.backend_util.computeConv2DInfo([s.batch, out, out, s.outC], [s.k, s.k, s.outC, s.inC], 1, 1, 'same');
      kernels.push({
        kernel: 'Conv2DBackpropInput',
        shape: s,
        gflop: round(gflop, 4),
        stock: stockDx === undefined ? null : timing(stockDx),
        otsr: timing(ourDx),
        direct: timing(directDx),
        method: s.stride === 1 ? convMethodFor(dxInfo) : 'direct',
        relError: errors.Conv2DBackpropInput,
      });

      const dwAttrs = { ...attrsFor(s), filterShape: w.shape };
      const stockDw = timeStock('Conv2DBackpropFilter', { x, dy }, dwAttrs);
      const ourDw = timeKernel(() => run('Conv2DBackpropFilter', { x, dy }, dwAttrs), reps);
      const directDw = withDirect(() => timeKernel(() => run('Conv2DBackpropFilter', { x, dy }, dwAttrs), reps));
      let convMethod: Timing | undefined;
      if (!quick) {
        setFilterGradStrategy('conv');
        try {
          convMethod = timing(timeKernel(() => run('Conv2DBackpropFilter', { x, dy }, dwAttrs), reps));
        } finally {
          setFilterGradStrategy('auto');
        }
      }
      kernels.push({
        kernel: 'Conv2DBackpropFilter',
        shape: s,
        gflop: round(gflop, 4),
        stock: stockDw === undefined ? null : timing(stockDw),
        otsr: timing(ourDw),
        direct: timing(directDw),
        method: convMethodFor(info),
        ...(convMethod ? { convMethod } : {}),
        relError: errors.Conv2DBackpropFilter,
      });

      // The bias gradient: dy summed over batch, rows and columns (1 add per element).
      const sumAttrs = { axis: [0, 1, 2], keepDims: false };
      const stockSum = timeStock('Sum', { x: dy }, sumAttrs);
      const ourSum = timeKernel(() => run('Sum', { x: dy }, sumAttrs), reps);
      const sumGflop = dy.size / 1e9;
      const sumTiming = (m: Measured): Timing => ({ ms: round(m.ms, 2), gflops: round(sumGflop / (m.ms / 1000), 2), cpuMs: round(m.cpuMs, 2) });
      kernels.push({
        kernel: 'Sum',
        shape: s,
        gflop: round(sumGflop, 4),
        stock: stockSum === undefined ? null : sumTiming(stockSum),
        otsr: sumTiming(ourSum),
        relError: 0,
      });
    } finally {
      tf.dispose([x, w, dy]);
    }
    progress(`kernels ${s.name}`);
  }

  checkAbort(options.signal);
  const { auto: edsrStep, direct: edsrStepDirect } = await benchEdsrStep(quick, steps, options, progress);
  const peak = await measureSimdPeak(quick ? { iterations: 1_000_000, runs: 1 } : {});
  progress('SIMD peak');
  return {
    kernels,
    edsrStep,
    edsrStepDirect,
    maxRelError,
    simdPeak: { gflops: round(peak.gflops, 2) },
    gemm,
    machine: benchMachine(loadavgBefore),
    date: new Date().toISOString(),
    backend: 'wasm',
    threads: kernelThreadsFromEnv(),
    quick,
  };
}

/** Runs `f` with every conv and gradient on the direct methods (no Winograd). */
function withDirect<T>(f: () => T): T {
  const previous = setConvMethod('direct');
  setFilterGradStrategy('direct');
  try {
    return f();
  } finally {
    setConvMethod(previous);
    setFilterGradStrategy('auto');
  }
}

/**
 * The reference EDSR step with otsr's methods (`auto`: Winograd where it pays) and with the direct ones,
 * their timed steps alternating so that both see the same machine.
 */
async function benchEdsrStep(
  quick: boolean,
  steps: number,
  options: EngineBenchOptions,
  progress: (label: string) => void,
): Promise<{ auto: EdsrStepTiming; direct: EdsrStepTiming }> {
  await initBackend('wasm');
  const cfg = quick
    ? { nResBlocks: 1, nFeats: 16, scale: 2 as const, batch: 2, lr: 12 }
    : { nResBlocks: 8, nFeats: 64, scale: 4 as const, batch: 8, lr: 24 };
  const model = new Edsr({ nResBlocks: cfg.nResBlocks, nFeats: cfg.nFeats, scale: cfg.scale, seed: 1 });
  const rng = new Rng(2);
  const hr = cfg.lr * cfg.scale;
  const lr = tf.tensor4d(rng.normals(cfg.batch * cfg.lr * cfg.lr * 3, 0.5), [cfg.batch, cfg.lr, cfg.lr, 3]);
  const target = tf.tensor4d(rng.normals(cfg.batch * hr * hr * 3, 0.5), [cfg.batch, hr, hr, 3]);
  // otsr's Adam (PyTorch's formulation, fused into one kernel per parameter on wasm), as training uses.
  const optimizer = new Adam(model.params, { lr: 1e-4 });
  const vars = model.trainableVariables();
  const step = (): Measured => {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    const { value, grads } = tf.variableGrads(() => tf.tidy(() => tf.mean(tf.abs(tf.sub(model.apply(lr), target))) as tf.Scalar), vars);
    optimizer.applyGradients(grads);
    value.dataSync();
    tf.dispose([value, ...Object.values(grads)]);
    const c = process.cpuUsage(c0);
    return { ms: performance.now() - t0, cpuMs: (c.user + c.system) / 1000 };
  };
  try {
    step();
    step();
    withDirect(step);
    withDirect(step);
    progress('EDSR warm-up');
    const runs: Measured[] = [];
    const directRuns: Measured[] = [];
    for (let i = 0; i < steps; i++) {
      checkAbort(options.signal);
      runs.push(step());
      progress(`EDSR step ${i + 1}/${steps}`);
      directRuns.push(withDirect(step));
      progress(`EDSR step ${i + 1}/${steps}, direct`);
    }
    const gflop = edsrStepGflop(cfg);
    const summary = (rs: Measured[]): EdsrStepTiming => {
      const ms = median(rs.map((r) => r.ms));
      return {
        ms: round(ms, 1),
        gflop: round(gflop, 3),
        gflops: round(gflop / (ms / 1000), 2),
        cpuMs: round(median(rs.map((r) => r.cpuMs)), 1),
        timedSteps: steps,
        allMs: rs.map((r) => round(r.ms, 1)),
      };
    };
    return { auto: summary(runs), direct: summary(directRuns) };
  } finally {
    optimizer.dispose();
    model.dispose();
    tf.dispose([lr, target]);
  }
}

function round(x: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

/** A plain-text table of a result, for terminals. */
export function formatEngineBench(r: EngineBenchResult): string {
  const rows = [['kernel', 'layer', 'GFLOP', 'stock ms', 'stock GF/s', 'otsr ms', 'otsr GF/s', 'otsr CPU ms', 'speed-up', 'method', 'direct ms', 'vs direct', 'rel.err']];
  for (const k of r.kernels) {
    rows.push([
      k.kernel === 'Sum' ? 'Sum (bias grad)' : k.kernel,
      k.shape.name,
      k.gflop.toFixed(3),
      k.stock ? k.stock.ms.toFixed(1) : 'missing',
      k.stock ? k.stock.gflops.toFixed(1) : '-',
      k.otsr.ms.toFixed(1),
      k.otsr.gflops.toFixed(1),
      k.otsr.cpuMs.toFixed(1),
      k.stock ? `${(k.stock.ms / k.otsr.ms).toFixed(1)}x` : '-',
      k.method ?? '-',
      k.direct ? k.direct.ms.toFixed(1) : '-',
      k.direct ? `${(k.direct.ms / k.otsr.ms).toFixed(2)}x` : '-',
      k.kernel === 'Sum' ? '-' : k.relError.toExponential(1),
    ]);
  }
  const convRows = r.kernels.filter((k) => k.convMethod);
  const wide = r.kernels.filter((k) => k.kernel === 'Conv2D' && k.shape.inC >= 16 && k.shape.outC >= 16);
  const share = (g: number) => `${((100 * g) / r.simdPeak.gflops).toFixed(0)}%`;
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((row) => row[i]!.length)));
  const table = rows.map((row) => row.map((cell, i) => (i < 2 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join('  ')).join('\n');
  const e = r.edsrStep;
  return [
    `otsr engine benchmark${r.quick ? ' (quick smoke run, not a measurement)' : ''}: wasm, ${r.threads === 1 ? '1 thread' : `${r.threads} kernel threads (OTSR_KERNEL_THREADS)`}, ${r.date}`,
    formatMachine(r.machine),
    '',
    table,
    '',
    ...(convRows.length
      ? [
          'Conv2DBackpropFilter as one conv with dy as the filter (strategy conv, for comparison): ' +
            convRows.map((k) => `${k.shape.name} ${k.convMethod!.gflops.toFixed(1)} GF/s`).join(', '),
          '',
        ]
      : []),
    `EDSR training step: ${e.ms.toFixed(1)} ms median of ${e.timedSteps} (${e.gflop.toFixed(2)} GFLOP, ${e.gflops.toFixed(1)} GFLOP/s; CPU ${e.cpuMs.toFixed(0)} ms); steps: ${e.allMs.join(', ')} ms`,
    `  the same step without Winograd, alternating with it: ${r.edsrStepDirect.ms.toFixed(1)} ms (CPU ${r.edsrStepDirect.cpuMs.toFixed(0)} ms; ` +
      `${(r.edsrStepDirect.ms / e.ms).toFixed(2)}x the time); steps: ${r.edsrStepDirect.allMs.join(', ')} ms`,
    `max relative error vs cpu: ${r.maxRelError.toExponential(2)}`,
    `otsr's GEMM alone (${r.gemm.shape.rows} x ${r.gemm.shape.segments * r.gemm.shape.segmentLength} x ${r.gemm.shape.cols}): ` +
      `${r.gemm.mulAdd.toFixed(1)} GFLOP/s with multiply + add, ${r.gemm.fma === null ? 'no relaxed SIMD here' : `${r.gemm.fma.toFixed(1)} with FMA`}`,
    `wasm SIMD ceiling on one core (f32x4 mul+add, no memory): ${r.simdPeak.gflops.toFixed(1)} GFLOP/s; ` +
      `the EDSR step runs at ${((100 * e.gflops) / r.simdPeak.gflops).toFixed(0)}% of it` +
      (wide.length
        ? `, the forward conv at ${wide.map((k) => share(k.otsr.gflops)).join('/')} (XNNPACK's: ${wide.map((k) => (k.stock ? share(k.stock.gflops) : '-')).join('/')})`
        : ''),
  ].join('\n');
}
