import { Command } from 'commander';
import { benchTrain, formatTrainBench } from '../../../bench/train.js';
import { defaultWorkers } from '../../../engine/parallel/index.js';
import { intOption } from '../../options.js';
import { emitBenchResult } from './output.js';

interface BenchTrainOptions {
  json?: boolean;
  workers: number;
  steps: number;
  warmup: number;
  iters: number;
  ots: boolean;
  out: string;
  save: boolean;
  quick?: boolean;
}

/** `otsr bench train`: data-parallel training with 1 and N worker threads (reference step, OTS iteration). */
export function benchTrainCommand(): Command {
  return new Command('train')
    .description(
      'Time data-parallel training on wasm worker threads with 1 and N workers: the reference EDSR step ' +
        '(8x64, x4, LR 24 -> HR 96, batch 8, L1, Adam) and one OTS iteration (10 map + 1 potential step, ResNet ' +
        'critic at 96x96); writes bench/results/train-<date>.json',
    )
    .option('--json', 'print only the JSON result on stdout')
    .option('--workers <n>', 'N, the worker count compared with 1 (default: cores, at most 8)', intOption('--workers', 1, 64), defaultWorkers())
    .option('--steps <n>', 'timed reference steps (median)', intOption('--steps', 1, 1000), 5)
    .option('--warmup <n>', 'untimed reference steps before them', intOption('--warmup', 0, 1000), 5)
    .option('--iters <n>', 'timed OTS iterations (median)', intOption('--iters', 1, 100), 1)
    .option('--no-ots', 'skip the OTS iteration (about a minute per worker count on 2 cores)')
    .option('--out <dir>', 'folder for the JSON result', 'bench/results')
    .option('--no-save', 'do not write the JSON file')
    .option('--quick', 'tiny models: a smoke run of a few seconds, not a measurement')
    .action(async (opts: BenchTrainOptions) => {
      const controller = new AbortController();
      const onSigint = () => controller.abort();
      process.once('SIGINT', onSigint);
      try {
        const result = await benchTrain({
          workers: opts.workers,
          steps: opts.steps,
          warmup: opts.warmup,
          iters: opts.iters,
          skipOts: !opts.ots,
          quick: opts.quick ?? false,
          signal: controller.signal,
          onProgress: (e) => process.stderr.write(`${e.label}\n`),
        });
        emitBenchResult('train', result, opts, formatTrainBench);
      } finally {
        process.off('SIGINT', onSigint);
      }
    });
}
