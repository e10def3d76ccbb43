import { mkdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Command, InvalidArgumentError } from 'commander';
import { DEFAULT_OT_BENCH, type OtBenchConfig, formatOtTable, runOtBenchmark } from '../../../bench/ot-bench.js';
import { PAIR_NAMES, type PairName } from '../../../bench/ot-pairs.js';
import { initBackend, parseBackendName } from '../../../engine/backend.js';
import { UsageError } from '../../../errors.js';
import { floatOption, intOption, listOption } from '../../options.js';

function pairOption(value: string): PairName {
  if ((PAIR_NAMES as readonly string[]).includes(value)) return value as PairName;
  throw new InvalidArgumentError(`unknown pair '${value}'; choose from: ${PAIR_NAMES.join(', ')}`);
}

function runName(r: { pair: string; dim: number; solver: string; lambda: number | null }): string {
  return `${r.pair} d=${r.dim} ${r.solver}${r.lambda === null ? '' : ` λ=${r.lambda}`}`;
}

interface BenchOtOptions {
  pairs: PairName[];
  dims: number[];
  lambdas: number[];
  steps: number;
  seed: number;
  batch: number;
  lr: number;
  potentialPenalty: number;
  backend: string;
  workers: number;
  out: string;
  json?: boolean;
}

/** `otsr bench ot`: the neural OT benchmark with known OT maps (OTS vs the regularized GAN at several λ). */
export function benchOtCommand(): Command {
  const d = DEFAULT_OT_BENCH;
  return new Command('ot')
    .description(
      'Train OTS and the regularized GAN (at each λ) on pairs with a known OT map; print L2-UVP, cosine and the ' +
        'pushforward bias as a markdown table and write JSON + table under --out',
    )
    .option('--pairs <list>', `pairs: ${PAIR_NAMES.join(', ')}`, listOption(pairOption), [...d.pairs])
    .option('--dims <list>', 'dimensions', listOption(intOption('--dims', 1, 512)), [...d.dims])
    .option('--lambdas <list>', 'λ values of the regularized GAN', listOption(floatOption('--lambdas', 0)), [...d.lambdas])
    .option('--steps <n>', 'outer steps per solver', intOption('--steps', 1, 1_000_000), d.steps)
    .option('--seed <n>', 'seed of pairs, networks and samplers', intOption('--seed', 0, 2 ** 31 - 1), d.seed)
    .option('--batch <n>', 'batch size', intOption('--batch', 1, 65536), d.batchSize)
    .option('--lr <x>', 'Adam learning rate of all networks', floatOption('--lr', 0), d.lr)
    .option('--potential-penalty <g>', "OTS: R1 penalty g/2 E|grad f(y)|^2 on the potential (0: none, the paper's)", floatOption('--potential-penalty', 0), d.potentialPenalty)
    .option('--workers <n>', 'runs trained in parallel (worker threads)', intOption('--workers', 1, 64), d.workers)
    .option('--backend <name>', 'TF.js backend (wasm or cpu)', 'wasm')
    .option('--out <dir>', 'folder for ot-benchmark.json and ot-benchmark.md', 'bench/results')
    .option('--json', 'print one JSON object { rows: [...] } instead of the table')
    .action(async (opts: BenchOtOptions) => {
      const requested = parseBackendName(opts.backend);
      if (requested !== 'wasm' && requested !== 'cpu') throw new UsageError(`--backend must be wasm or cpu, got '${requested}'`);
      const backend = await initBackend(requested);
      const config: OtBenchConfig = {
        ...d,
        pairs: opts.pairs,
        dims: opts.dims,
        lambdas: opts.lambdas,
        steps: opts.steps,
        seed: opts.seed,
        batchSize: opts.batch,
        lr: opts.lr,
        potentialPenalty: opts.potentialPenalty,
        workers: opts.workers,
        backend: requested,
      };
      const controller = new AbortController();
      const onSigint = () => controller.abort();
      process.once('SIGINT', onSigint);
      const started = Date.now();
      const cpu0 = process.cpuUsage();
      try {
        const { rows, baselines } = await runOtBenchmark(config, {
          signal: controller.signal,
          onRunStart: (r) => process.stderr.write(`bench ot: ${runName(r)} …\n`),
          onRow: (r) =>
            process.stderr.write(
              `bench ot: ${runName(r)}: L2-UVP ${r.l2uvp.toFixed(2)}%, cosine ${r.cosine.toFixed(3)}, ` +
                `BW2²-UVP ${r.pushforward.toFixed(2)}% (${r.seconds.toFixed(1)} s)\n`,
            ),
        });
        const table = formatOtTable(rows, baselines);
        const cpus = os.cpus();
        const report = {
          date: new Date().toISOString(),
          machine: `${cpus.length}× ${cpus[0]?.model ?? 'unknown CPU'}, ${os.platform()} ${os.arch()}, Node ${process.version}`,
          backend,
          totalSeconds: (Date.now() - started) / 1000,
          // CPU time of all threads (workers included): unlike wall time, not inflated by other jobs' load.
          cpuSeconds: (process.cpuUsage(cpu0).user + process.cpuUsage(cpu0).system) / 1e6,
          loadAverage: os.loadavg(),
          config,
          baselines,
          rows,
        };
        await mkdir(opts.out, { recursive: true });
        await writeFile(path.join(opts.out, 'ot-benchmark.json'), `${JSON.stringify(report, null, 2)}\n`);
        await writeFile(path.join(opts.out, 'ot-benchmark.md'), `${table}\n`);
        process.stdout.write(opts.json ? `${JSON.stringify({ rows, baselines, config })}\n` : `${table}\n`);
      } finally {
        process.off('SIGINT', onSigint);
      }
    });
}
