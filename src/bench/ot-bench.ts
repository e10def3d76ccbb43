/**
 * The neural OT benchmark: trains OTS (NeuralOT) and the regularized GAN at several λ on pairs with a known
 * OT map and scores each learned map (L2-UVP, cosine, pushforward bias). Everything is seeded: the same
 * config gives the same table (up to the seconds column).
 */
import { Worker } from 'node:worker_threads';
import { CancelledError } from '../errors.js';
import { Mlp } from '../nn/mlp.js';
import { QuadraticCost } from '../ot/cost.js';
import { NeuralOT } from '../ot/neural-ot.js';
import type { OtProblem } from '../ot/problem.js';
import { RegularizedGAN } from '../ot/regularized-gan.js';
import type { OtSolver } from '../ot/solver.js';
import { type MapScores, evaluateMap } from './ot-metrics.js';
import { type OtBenchmarkPair, type PairName, makePair } from './ot-pairs.js';

export interface OtBenchConfig {
  pairs: PairName[];
  dims: number[];
  /** λ values of the regularized GAN (0 = plain WGAN-GP). */
  lambdas: number[];
  /** Outer steps per solver (OTS: k map + 1 potential update each; GAN: n critic + 1 map update each). */
  steps: number;
  seed: number;
  batchSize: number;
  /** k of OTS. */
  mapSteps: number;
  /**
   * γ of OTS's R1 penalty on the potential (0: none). The bench's cost is ½|x − y|² (a sum), an image run's
   * w·½·mean over n pixels: the same relative penalty is γ_bench = γ_image · w / n.
   */
  potentialPenalty: number;
  /** n of the GAN. */
  criticSteps: number;
  /** Adam learning rate of every network. */
  lr: number;
  /** Adam (beta1, beta2) of OTS. */
  otsBetas: [number, number];
  /** Adam (beta1, beta2) of the GAN (WGAN-GP's). */
  ganBetas: [number, number];
  /** Test points of P for the scores. */
  evalSamples: number;
  /** Hidden layers of the map and potential MLPs (each max(64, 2d) wide). */
  depth: number;
  /** Runs trained in parallel, one worker thread each (1: everything on the calling thread). */
  workers: number;
  /** TF.js backend of the worker threads (the calling thread's is whatever is active). */
  backend: 'wasm' | 'cpu';
}

/**
 * Defaults sized for a 2-core CPU (wasm backend, two worker threads): about 11 CPU-minutes for the 36 runs
 * (~5–6 minutes on an idle 2-core machine), enough for OTS to get close to T* in low dimension and for the
 * GAN's λ-dependence to show. k = n = 10 as in the reference code. OTS uses Adam β1 = 0.5 (with the torch
 * default 0.9 its saddle-point iterates oscillate visibly on the d = 64 mixture at lr 1e-3).
 */
export const DEFAULT_OT_BENCH: OtBenchConfig = {
  pairs: ['gaussian', 'mixture'],
  dims: [2, 16, 64],
  lambdas: [0, 1, 10, 100, 1000],
  steps: 200,
  seed: 0,
  batchSize: 64,
  mapSteps: 10,
  potentialPenalty: 0,
  criticSteps: 10,
  lr: 1e-3,
  otsBetas: [0.5, 0.999],
  ganBetas: [0, 0.9],
  evalSamples: 4096,
  depth: 2,
  workers: 2,
  backend: 'wasm',
};

export interface OtBenchRow extends MapScores {
  solver: 'ots' | 'gan';
  /** The GAN's λ; null for OTS. */
  lambda: number | null;
  pair: PairName;
  dim: number;
  /** Training time. */
  seconds: number;
}

/** The identity map's scores on a pair: the reference point of the table (what "no transport" scores). */
export interface OtBenchBaseline extends MapScores {
  pair: PairName;
  dim: number;
}

export interface OtBenchHooks {
  /** Called before each training run. */
  onRunStart?: (run: { pair: PairName; dim: number; solver: 'ots' | 'gan'; lambda: number | null }) => void;
  onRow?: (row: OtBenchRow) => void;
  onBaseline?: (baseline: OtBenchBaseline) => void;
  signal?: AbortSignal;
}

/** Hidden widths of the MLPs for dimension d. */
export function hiddenWidths(dim: number, depth: number): number[] {
  return Array<number>(depth).fill(Math.max(64, 2 * dim));
}

/** One training run of the benchmark. */
export interface OtBenchRun {
  pair: PairName;
  dim: number;
  solver: 'ots' | 'gan';
  lambda: number | null;
}

/** Runs the benchmark; returns the rows in table order (per pair and dimension: OTS, then the GAN by λ). */
export async function runOtBenchmark(
  config: OtBenchConfig,
  hooks: OtBenchHooks = {},
): Promise<{ rows: OtBenchRow[]; baselines: OtBenchBaseline[] }> {
  const baselines: OtBenchBaseline[] = [];
  const runs: OtBenchRun[] = [];
  for (const pairName of config.pairs) {
    for (const dim of config.dims) {
      const pair = makePair(pairName, dim, config.seed);
      const baseline = { pair: pairName, dim, ...(await evaluateMap((x) => x.clone(), pair, evalOptions(config))) };
      baselines.push(baseline);
      hooks.onBaseline?.(baseline);
      runs.push({ pair: pairName, dim, solver: 'ots', lambda: null });
      for (const lambda of config.lambdas) runs.push({ pair: pairName, dim, solver: 'gan', lambda });
    }
  }
  const rows =
    config.workers > 1 && runs.length > 1 ? await runInWorkers(runs, config, hooks) : await runHere(runs, config, hooks);
  return { rows, baselines };
}

async function runHere(runs: OtBenchRun[], config: OtBenchConfig, hooks: OtBenchHooks): Promise<OtBenchRow[]> {
  const rows: OtBenchRow[] = [];
  let pair: OtBenchmarkPair | undefined;
  for (const run of runs) {
    if (hooks.signal?.aborted) throw new CancelledError();
    hooks.onRunStart?.(run);
    if (!pair || pair.name !== run.pair || pair.dim !== run.dim) pair = makePair(run.pair, run.dim, config.seed);
    const row = await trainAndScore(pair, run.solver, run.lambda, config, hooks.signal);
    rows.push(row);
    hooks.onRow?.(row);
  }
  return rows;
}

/** The worker module next to this one (.ts when running from source under tsx, .js once built). */
function workerBootstrap(): string {
  const isTs = import.meta.url.endsWith('.ts');
  const url = new URL(`./ot-bench-worker.${isTs ? 'ts' : 'js'}`, import.meta.url).href;
  if (!isTs) return `import(${JSON.stringify(url)})`;
  // Worker threads do not inherit tsx's loader hooks: register them before importing the .ts worker.
  const tsx = import.meta.resolve('tsx/esm/api');
  return `import(${JSON.stringify(tsx)}).then((m) => m.register()).then(() => import(${JSON.stringify(url)}))`;
}

/**
 * Trains the runs on `config.workers` worker threads (wasm runs one thread per instance, so two workers use
 * two cores). Each run is seeded on its own, so the rows do not depend on the number of workers.
 */
async function runInWorkers(runs: OtBenchRun[], config: OtBenchConfig, hooks: OtBenchHooks): Promise<OtBenchRow[]> {
  const results = new Array<OtBenchRow | undefined>(runs.length);
  const workers: Worker[] = [];
  let next = 0;
  try {
    await new Promise<void>((resolve, reject) => {
      let done = 0;
      const onAbort = () => reject(new CancelledError());
      if (hooks.signal?.aborted) return onAbort();
      hooks.signal?.addEventListener('abort', onAbort, { once: true });
      const feed = (w: Worker) => {
        if (next >= runs.length) return;
        const id = next++;
        hooks.onRunStart?.(runs[id]!);
        w.postMessage({ id, run: runs[id], config });
      };
      const count = Math.min(config.workers, runs.length);
      for (let i = 0; i < count; i++) {
        const w = new Worker(workerBootstrap(), { eval: true, workerData: { backend: config.backend } });
        workers.push(w);
        w.on('message', (msg: { id: number; row?: OtBenchRow; error?: string }) => {
          if (msg.error !== undefined) return reject(new Error(`benchmark worker: ${msg.error}`));
          results[msg.id] = msg.row!;
          hooks.onRow?.(msg.row!);
          done += 1;
          if (done === runs.length) {
            hooks.signal?.removeEventListener('abort', onAbort);
            resolve();
          } else feed(w);
        });
        w.on('error', reject);
        feed(w);
      }
    });
  } finally {
    await Promise.all(workers.map((w) => w.terminate()));
  }
  return results as OtBenchRow[];
}

function evalOptions(config: OtBenchConfig) {
  return { samples: config.evalSamples, seed: (config.seed + 0x7e57) >>> 0 };
}

/**
 * One training run. Every solver on a pair starts from the same network weights and sees the same sampler
 * seeds, so rows differ only by the method.
 */
export async function trainAndScore(
  pair: OtBenchmarkPair,
  solverKind: 'ots' | 'gan',
  lambda: number | null,
  config: OtBenchConfig,
  signal?: AbortSignal,
): Promise<OtBenchRow> {
  const d = pair.dim;
  const seed = config.seed;
  const map = new Mlp({ inDim: d, hidden: hiddenWidths(d, config.depth), outDim: d, residual: true, seed: seed + 101 });
  const potential = new Mlp({ inDim: d, hidden: hiddenWidths(d, config.depth), outDim: 1, seed: seed + 202 });
  // OTS's solution does not depend on the cost's scale, so it gets the textbook ½|x − y|², whose potential has
  // the scale of the networks' initialisation. The GAN's λ multiplies ½·MSE (the mean over coordinates), the
  // convention of the paper's code (F.mse_loss): λ here is d times the λ of ½|x − y|².
  const cost = new QuadraticCost({ reduction: solverKind === 'ots' ? 'sum' : 'mean' });
  const problem: OtProblem = { source: pair.source(seed + 303), target: pair.target(seed + 404), cost };
  const common = { batchSize: config.batchSize, seed: seed + 505, mapLr: config.lr, potentialLr: config.lr };
  const solver: OtSolver =
    solverKind === 'ots'
      ? new NeuralOT(problem, { map, potential }, { ...common, mapSteps: config.mapSteps, betas: config.otsBetas, potentialPenalty: config.potentialPenalty })
      : new RegularizedGAN(problem, { map, potential }, {
          ...common,
          lambda: lambda ?? 0,
          criticSteps: config.criticSteps,
          betas: config.ganBetas,
        });
  try {
    const t0 = performance.now();
    await solver.fit({ steps: config.steps, signal });
    const seconds = (performance.now() - t0) / 1000;
    const scores = await evaluateMap((x) => map.apply(x), pair, evalOptions(config));
    return { solver: solverKind, lambda: solverKind === 'ots' ? null : lambda, pair: pair.name, dim: d, ...scores, seconds };
  } finally {
    solver.dispose();
    map.dispose();
    potential.dispose();
  }
}

function fmt(v: number, digits: number): string {
  if (!Number.isFinite(v)) return String(v);
  return v.toFixed(digits);
}

/** The rows as a markdown table (with the identity map's scores as reference rows when given). */
export function formatOtTable(rows: OtBenchRow[], baselines: OtBenchBaseline[] = []): string {
  const lines = [
    '| solver | λ | pair | d | L2-UVP % ↓ | cosine ↑ | BW2²-UVP of T#P % ↓ | seconds |',
    '|---|---:|---|---:|---:|---:|---:|---:|',
  ];
  const keys = [...new Set(rows.map((r) => `${r.pair}:${r.dim}`))];
  for (const key of keys) {
    const base = baselines.find((b) => `${b.pair}:${b.dim}` === key);
    if (base) {
      lines.push(`| (identity) | | ${base.pair} | ${base.dim} | ${fmt(base.l2uvp, 1)} | – | ${fmt(base.pushforward, 1)} | |`);
    }
    for (const r of rows.filter((x) => `${x.pair}:${x.dim}` === key)) {
      lines.push(
        `| ${r.solver === 'ots' ? 'OTS' : 'GAN'} | ${r.lambda ?? '–'} | ${r.pair} | ${r.dim} | ${fmt(r.l2uvp, 2)} | ${fmt(r.cosine, 3)} | ${fmt(r.pushforward, 2)} | ${fmt(r.seconds, 1)} |`,
      );
    }
  }
  return lines.join('\n');
}
