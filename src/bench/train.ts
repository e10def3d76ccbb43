import * as os from 'node:os';
import { DataParallel, type StepTimeline, defaultWorkers, siblingModule } from '../engine/parallel/index.js';
import { CancelledError } from '../errors.js';
import { Rng } from '../util/rng.js';
import type { TrainTaskOptions } from './train-tasks.js';
import { type BenchMachine, benchMachine, formatMachine } from './machine.js';
import { type StepPhases, formatStepPhases, stepPhases } from './step-phases.js';

/** Milliseconds with 1 and with N workers. */
export interface WorkersTiming {
  workers1: number;
  workersN: number;
  n: number;
  /** workers1 / workersN. */
  speedup: number;
  /** Every timed run (ms), for both worker counts. */
  allMs: { workers1: number[]; workersN: number[] };
  /**
   * Median CPU time of the whole process (all threads) per timed run: on a shared, loaded machine the wall
   * time grows with the load and this much less, so it is the steadier figure to compare with other runs.
   */
  cpuMs: { workers1: number; workersN: number };
}

/** {@link WorkersTiming} with where each step's time went, for 1 and N workers. */
export interface RefStepTiming extends WorkersTiming {
  phases: { workers1: StepPhases; workersN: StepPhases };
}

export interface TrainBenchResult {
  /** The reference step: EDSR 8×64, ×4, LR 24² -> HR 96², batch 8, L1 loss, Adam (median ms of `steps`). */
  refStep: RefStepTiming;
  /**
   * One OTS iteration: 10 map steps + 1 potential step, EDSR 8×64 ×4 with a bicubic skip, the ResNet critic
   * (64 features, up to 512) at 96², batch 8, Adam on both (median ms of `iters`); absent with `skipOts`.
   * Workers run at most 4 rows per forward/backward pass (batch 8 does not fit one wasm heap).
   */
  otsIter?: WorkersTiming;
  /** Untimed reference steps before the timed ones, per worker count. */
  warmup: number;
  machine: BenchMachine;
  date: string;
  backend: 'wasm';
  quick: boolean;
}

export interface TrainBenchOptions {
  /** N (default: the number of cores, capped at 8). */
  workers?: number;
  /** Timed reference steps (default 5), after `warmup` untimed ones. */
  steps?: number;
  /**
   * Untimed reference steps first (default 5): the first four steps of 2 workers are still 20-50% slower (V8
   * optimises JS and tiers up wasm on background threads, which get a core only when a worker waits), so 2
   * warm-up steps left two slow steps among 5 timed ones.
   */
  warmup?: number;
  /** Timed OTS iterations after a warm-up map step and potential step (default 1). */
  iters?: number;
  /** Skip the OTS iteration (the slow part). */
  skipOts?: boolean;
  /** Tiny models: a smoke run, not a measurement. */
  quick?: boolean;
  onProgress?: (event: { label: string }) => void;
  signal?: AbortSignal;
}

const REF = { nResBlocks: 8, nFeats: 64, scale: 4 as const };
const QUICK = { nResBlocks: 1, nFeats: 8, scale: 2 as const };

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

interface Run {
  ms: number;
  cpuMs: number;
}

const round1 = (x: number) => Math.round(x * 10) / 10;

/**
 * Times data-parallel training ({@link DataParallel}, wasm in each worker) with 1 and N workers: the reference
 * EDSR step and a full OTS iteration. Batches are fixed random tensors (data loading is not timed).
 */
export async function benchTrain(options: TrainBenchOptions = {}): Promise<TrainBenchResult> {
  const quick = options.quick ?? false;
  const n = options.workers ?? defaultWorkers();
  const steps = options.steps ?? (quick ? 2 : 5);
  const warmup = options.warmup ?? (quick ? 2 : 5);
  const iters = options.iters ?? 1;
  const edsr = quick ? QUICK : REF;
  const batch = quick ? 2 : 8;
  const lrSide = quick ? 8 : 24;
  const hrSide = lrSide * edsr.scale;
  const loadavgBefore = os.loadavg();
  const url = siblingModule(import.meta.url, 'train-tasks');
  const rng = new Rng(7);
  const lr = { data: rng.normals(batch * lrSide * lrSide * 3, 0.5), shape: [batch, lrSide, lrSide, 3] };
  const hr = { data: rng.normals(batch * hrSide * hrSide * 3, 0.5), shape: [batch, hrSide, hrSide, 3] };
  const check = () => {
    if (options.signal?.aborted) throw new CancelledError('benchmark cancelled');
  };
  const say = (label: string) => options.onProgress?.({ label });

  /** Wall and CPU ms of `f`. */
  async function clock(f: () => Promise<void>): Promise<Run> {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    await f();
    const c = process.cpuUsage(c0);
    return { ms: performance.now() - t0, cpuMs: (c.user + c.system) / 1000 };
  }

  async function timed(workers: number, task: TrainTaskOptions, body: (pool: DataParallel) => Promise<Run[]>, microBatch = 0): Promise<Run[]> {
    const pool = await DataParallel.start({ workers, task: { url, options: task }, microBatch });
    try {
      return await body(pool);
    } finally {
      await pool.close();
    }
  }

  const counts = n === 1 ? [1] : [1, n];
  const ref: Run[][] = [];
  const refTimelines: StepTimeline[][] = [];
  for (const w of counts) {
    const timelines: StepTimeline[] = [];
    refTimelines.push(timelines);
    check();
    say(`reference step, ${w} worker(s): starting`);
    ref.push(
      await timed(w, { kind: 'edsr-l1', edsr, seed: 1, lr: 1e-4 }, async (pool) => {
        for (let i = 0; i < warmup; i++) await pool.step('step', { lr, hr });
        const runs: Run[] = [];
        for (let i = 0; i < steps; i++) {
          check();
          runs.push(await clock(async () => void timelines.push((await pool.step('step', { lr, hr })).timeline)));
          say(`reference step, ${w} worker(s): ${round1(runs.at(-1)!.ms)} ms`);
        }
        return runs;
      }),
    );
  }
  const timing = (all: Run[][]): WorkersTiming => {
    const runs = all.map((r) => r.map((x) => x.ms));
    const cpu = all.map((r) => median(r.map((x) => x.cpuMs)));
    const one = median(runs[0]!);
    const many = median(runs.at(-1)!);
    return {
      workers1: round1(one),
      workersN: round1(many),
      n,
      speedup: Math.round((one / many) * 100) / 100,
      allMs: { workers1: runs[0]!.map(round1), workersN: runs.at(-1)!.map(round1) },
      cpuMs: { workers1: round1(cpu[0]!), workersN: round1(cpu.at(-1)!) },
    };
  };

  let otsIter: WorkersTiming | undefined;
  if (!options.skipOts) {
    // Ten different source batches per iteration (as a sampler would give), one target batch.
    const xs = Array.from({ length: 10 }, () => ({ data: rng.normals(lr.data.length, 0.5), shape: lr.shape }));
    const task: TrainTaskOptions = { kind: 'ots', edsr, critic: { size: hrSide, ...(quick ? { nFeats: 4 } : {}) }, seed: 1, lr: 1e-4 };
    // One wasm instance cannot hold the OTS map step's tape at batch 8 (its heap peaked at 1.6 GiB at batch 4
    // and the instance aborts past 4 GiB): every worker runs at most 4 rows per pass, accumulating gradients.
    const otsMicroBatch = quick ? 0 : 4;
    const ots: Run[][] = [];
    for (const w of counts) {
      check();
      say(`OTS iteration, ${w} worker(s): starting`);
      ots.push(
        await timed(w, task, async (pool) => {
          await pool.step('map', { x: xs[0]! });
          say(`OTS iteration, ${w} worker(s): warm-up map step done`);
          await pool.step('potential', { x: xs[0]!, y: hr });
          say(`OTS iteration, ${w} worker(s): warm-up potential step done`);
          const runs: Run[] = [];
          for (let i = 0; i < iters; i++) {
            runs.push(
              await clock(async () => {
                for (const x of xs) {
                  check();
                  await pool.step('map', { x });
                }
                await pool.step('potential', { x: xs[0]!, y: hr });
              }),
            );
            say(`OTS iteration, ${w} worker(s): ${round1(runs.at(-1)!.ms)} ms`);
          }
          return runs;
        }, otsMicroBatch),
      );
    }
    otsIter = timing(ots);
  }

  return {
    refStep: { ...timing(ref), phases: { workers1: stepPhases(refTimelines[0]!), workersN: stepPhases(refTimelines.at(-1)!) } },
    ...(otsIter ? { otsIter } : {}),
    warmup,
    machine: benchMachine(loadavgBefore),
    date: new Date().toISOString(),
    backend: 'wasm',
    quick,
  };
}

/** A few lines for terminals. */
export function formatTrainBench(r: TrainBenchResult): string {
  const line = (name: string, t: WorkersTiming) =>
    `${name}: ${t.workers1.toFixed(0)} ms with 1 worker, ${t.workersN.toFixed(0)} ms with ${t.n} (${t.speedup.toFixed(2)}x); ` +
    `CPU ${t.cpuMs.workers1.toFixed(0)} / ${t.cpuMs.workersN.toFixed(0)} ms`;
  return [
    `otsr train benchmark${r.quick ? ' (quick smoke run, not a measurement)' : ''}: wasm, ${r.date}`,
    formatMachine(r.machine),
    line('reference EDSR step', r.refStep),
    ...(r.refStep.n > 1 ? ['  1 worker:', ...formatStepPhases(r.refStep.phases.workers1), `  ${r.refStep.n} workers:`] : []),
    ...formatStepPhases(r.refStep.phases.workersN),
    ...(r.otsIter ? [line('OTS iteration (10 map + 1 potential)', r.otsIter)] : []),
  ].join('\n');
}
