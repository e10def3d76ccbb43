import { Command } from 'commander';
import { benchEngine, formatEngineBench } from '../../../bench/engine.js';
import { intOption } from '../../options.js';
import { emitBenchResult } from './output.js';

/** `otsr bench engine`: wasm kernels (stock vs otsr) and the reference EDSR training step. */
export function benchEngineCommand(): Command {
  return new Command('engine')
    .description(
      'Time the wasm training kernels (stock tfjs vs otsr) on EDSR layer shapes and the reference EDSR step ' +
        '(8 blocks x 64 features, x4, LR 24x24, batch 8, L1, Adam); writes bench/results/engine-<date>.json',
    )
    .option('--json', 'print only the JSON result on stdout')
    .option('--steps <n>', 'timed EDSR steps after 2 warm-up steps (the median is reported)', intOption('--steps', 1, 1000), 5)
    .option('--reps <n>', 'timed runs per kernel and layer (median)', intOption('--reps', 1, 100), 3)
    .option('--out <dir>', 'folder for the JSON result', 'bench/results')
    .option('--no-save', 'do not write the JSON file')
    .option('--quick', 'tiny shapes and model: a smoke run of a few seconds, not a measurement')
    .action(async (opts: { json?: boolean; steps: number; reps: number; out: string; save: boolean; quick?: boolean }) => {
      const controller = new AbortController();
      const onSigint = () => controller.abort();
      process.once('SIGINT', onSigint);
      try {
        const result = await benchEngine({
          quick: opts.quick ?? false,
          steps: opts.steps,
          reps: opts.reps,
          signal: controller.signal,
          onProgress: (e) => process.stderr.write(`[${e.done}/${e.total}] ${e.label}\n`),
        });
        emitBenchResult('engine', result, opts, formatEngineBench);
      } finally {
        process.off('SIGINT', onSigint);
      }
    });
}
