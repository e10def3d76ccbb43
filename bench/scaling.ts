/**
 * Where the 2-worker reference step loses time against 1 worker (issue 15's speed-up target), by rounds of four
 * measurements, each in fresh processes (the reference EDSR step of `bench train`, warm-up steps untimed):
 *
 * - `T1`: 1 worker, batch 8, and `alone4`: 1 worker, batch 4, each while a register-only SIMD loop holds the other
 *   core (no memory traffic), so that no other job's threads run there;
 * - `pair`: two 1-worker pools on batch 4 at once, in two processes: both halves of a step with no barrier and
 *   no gradient exchange;
 * - `T2`: the 2-worker pool on batch 8, with its per-worker phases (DataParallel's step timeline).
 *
 *     node --import tsx bench/scaling.ts [--rounds 3] [--warmup 5] [--steps 9]
 *
 * Prints one JSON line per measurement, then a JSON summary: the medians over rounds.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { promisify } from 'node:util';
import { DataParallel, type StepTimeline, siblingModule } from '../src/engine/parallel/index.js';
import { simdPeakModuleBytes } from '../src/bench/simd-peak.js';
import { stepPhases } from '../src/bench/step-phases.js';
import { Rng } from '../src/util/rng.js';

const argv = process.argv.slice(2);
const option = (name: string, fallback: number) => {
  const i = argv.indexOf(name);
  return i < 0 ? fallback : Number(argv[i + 1]);
};
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const self = new URL(import.meta.url).pathname;

/** `--spin`: the SIMD multiply-add loop of bench/simd-peak.ts until killed. */
async function spin(): Promise<never> {
  const { instance } = await WebAssembly.instantiate(simdPeakModuleBytes());
  const run = instance.exports.run as (n: number) => number;
  for (;;) run(2_000_000);
}

/** `--child WORKERS BATCH WARMUP STEPS`: the reference step on a pool; prints its median ms, every step, the phases. */
async function child(workers: number, batch: number, warmup: number, steps: number): Promise<void> {
  const rng = new Rng(7);
  const lr = { data: rng.normals(batch * 24 * 24 * 3, 0.5), shape: [batch, 24, 24, 3] };
  const hr = { data: rng.normals(batch * 96 * 96 * 3, 0.5), shape: [batch, 96, 96, 3] };
  const url = siblingModule(new URL('../src/bench/x', import.meta.url).href, 'train-tasks');
  const options = { kind: 'edsr-l1', edsr: { nResBlocks: 8, nFeats: 64, scale: 4 }, seed: 1, lr: 1e-4 };
  const pool = await DataParallel.start({ workers, task: { url, options } });
  try {
    for (let i = 0; i < warmup; i++) await pool.step('step', { lr, hr });
    const timelines: StepTimeline[] = [];
    for (let i = 0; i < steps; i++) timelines.push((await pool.step('step', { lr, hr })).timeline);
    const p = stepPhases(timelines);
    console.log(JSON.stringify({ median: p.step, all: timelines.map((t) => Math.round(t.end - t.begin)), workers: p.workers }));
  } finally {
    await pool.close();
  }
}

async function measure(label: string, workers: number, batch: number): Promise<Record<string, unknown>> {
  const args = ['--import', 'tsx', self, '--child', `${workers}`, `${batch}`, `${option('--warmup', 5)}`, `${option('--steps', 9)}`];
  const { stdout } = await promisify(execFile)(process.execPath, args, { maxBuffer: 1 << 20 });
  const r = { label, ...(JSON.parse(stdout.trim().split('\n').at(-1)!) as Record<string, unknown>) };
  console.log(JSON.stringify(r));
  return r;
}

async function rounds(n: number): Promise<void> {
  const got: Record<string, number[]> = {};
  const keep = (label: string, r: Record<string, unknown>) => (got[label] ??= []).push(r.median as number);
  for (let round = 0; round < n; round++) {
    const spinner: ChildProcess = spawn(process.execPath, ['--import', 'tsx', self, '--spin'], { stdio: 'ignore' });
    try {
      keep('T1', await measure('T1', 1, 8));
      keep('alone4', await measure('alone4', 1, 4));
    } finally {
      spinner.kill();
    }
    const pair = await Promise.all([measure('pairA', 1, 4), measure('pairB', 1, 4)]);
    keep('pairSlower', { median: Math.max(...pair.map((r) => r.median as number)) });
    keep('T2', await measure('T2', 2, 8));
  }
  const medians = Object.fromEntries(Object.entries(got).map(([k, v]) => [k, median(v)]));
  console.log(JSON.stringify({ medians, speedup: medians.T1! / medians.T2!, speedupWithoutExchange: medians.T1! / medians.pairSlower! }));
}

if (argv[0] === '--spin') await spin();
else if (argv[0] === '--child') await child(...(argv.slice(1, 5).map(Number) as [number, number, number, number]));
else await rounds(option('--rounds', 3));
