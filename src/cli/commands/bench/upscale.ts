import { Command, Option } from 'commander';
import { benchUpscaleMemory, formatUpscaleMemory } from '../../../bench/upscale-memory.js';
import { benchUpscale, formatUpscaleBench } from '../../../bench/upscale.js';
import { initBackend } from '../../../engine/backend.js';
import { defaultWorkers } from '../../../engine/parallel/index.js';
import { floatOption, intOption, listOption } from '../../options.js';
import { emitBenchResult } from './output.js';

interface BenchUpscaleOptions {
  json?: boolean;
  workers: number;
  repeats: number;
  tile: number;
  overlap: number;
  image?: string;
  model?: string;
  out: string;
  save: boolean;
  quick?: boolean;
  memory?: boolean;
  sizes: number[];
  tiles: number[];
  memoryModel: 'bicubic' | 'edsr';
}

/** `otsr bench upscale`: tiled x4 inference of a 1024x768 photo with the reference EDSR, 1 and N workers. */
export function benchUpscaleCommand(): Command {
  return new Command('upscale')
    .description(
      'Time tiled x4 upscaling of a real 1024x768 photo with the reference EDSR (8x64, random weights) on wasm, ' +
        'in one thread and on N worker threads, then on ONNX Runtime with 1 and N threads: megapixels per second and peak memory; writes bench/results/upscale-<date>.json. ' +
        'bench/torch_upscale.py times the same workload in PyTorch',
    )
    .option('--json', 'print only the JSON result on stdout')
    .option('--workers <n>', 'N, the worker count compared with 1 (default: cores, at most 8)', intOption('--workers', 1, 64), defaultWorkers())
    .option('--repeats <n>', 'timed runs per worker count (median); with --memory, runs per size and tile (the median peak)', intOption('--repeats', 1, 100), 1)
    .option('--tile <px>', 'tile side in input pixels', intOption('--tile', 16), 256)
    .option('--overlap <px>', 'input pixels shared by neighbouring tiles', intOption('--overlap', 0), 16)
    .option('--image <file>', 'another photo (resized to 1024x768)')
    .option('--model <dir>', 'an x4 otsr model folder (e.g. models/unpaired-x4) instead of the reference EDSR')
    .option('--out <dir>', 'folder for the JSON result', 'bench/results')
    .option('--no-save', 'do not write the JSON file')
    .option('--quick', 'a tiny model on a 128x96 photo (tile 32, overlap 8): a smoke run, not a measurement')
    .option('--memory', 'instead: peak RSS of `otsr upscale` x4 (PNG, 1 thread) by image size and tile, each run in a fresh process; writes upscale-memory-<date>.json')
    .option('--sizes <mp,...>', '--memory: input sizes in megapixels', listOption(floatOption('--sizes', 0.01, 100)), [1, 12, 48])
    .option('--tiles <px,...>', '--memory: tile sides', listOption(intOption('--tiles', 16)), [128, 512])
    .addOption(new Option('--memory-model <name>', '--memory: the model').choices(['bicubic', 'edsr']).default('bicubic'))
    .action(async (opts: BenchUpscaleOptions, cmd: Command) => {
      if (opts.memory) {
        const result = await benchUpscaleMemory({ sizes: opts.sizes, tiles: opts.tiles, repeats: opts.repeats, model: opts.memoryModel, onProgress: (l) => process.stderr.write(`${l}\n`) });
        emitBenchResult('upscale-memory', result, opts, formatUpscaleMemory);
        return;
      }
      const controller = new AbortController();
      const onSigint = () => controller.abort();
      process.once('SIGINT', onSigint);
      try {
        await initBackend('wasm', { gradients: false });
        // --quick picks its own tile and overlap unless they are given.
        const given = (name: string) => cmd.getOptionValueSource(name) === 'cli';
        const result = await benchUpscale({
          workers: opts.workers,
          repeats: opts.repeats,
          ...(!opts.quick || given('tile') ? { tile: opts.tile } : {}),
          ...(!opts.quick || given('overlap') ? { overlap: opts.overlap } : {}),
          ...(opts.image ? { image: opts.image } : {}),
          ...(opts.model ? { model: opts.model } : {}),
          quick: opts.quick ?? false,
          signal: controller.signal,
          onProgress: (e) => process.stderr.write(`${e.label}\n`),
        });
        emitBenchResult('upscale', result, opts, formatUpscaleBench);
      } finally {
        process.off('SIGINT', onSigint);
      }
    });
}
