import { Command } from 'commander';
import { initBackend, parseBackendName } from '../../engine/backend.js';
import { defaultWorkers } from '../../engine/parallel/index.js';
import { DEFAULT_MAX_PIXELS } from '../../image/io.js';
import { planOutputs, upscaleFiles } from '../../upscale/files-node.js';
import { checkTileOptions } from '../../upscale/tiles.js';
import { loadUpscaler } from '../../upscale/upscaler-node.js';
import { RateMeter } from '../../util/progress.js';
import { intOption } from '../options.js';
import { progressRenderer } from '../progress-bar.js';
import { interruptSignal } from '../signals.js';
import { engineOption, modelOption, onnxRangeOption, overlapOption, scaleOption, tileOption } from './upscaler-options.js';

export function upscaleCommand(): Command {
  return new Command('upscale')
    .description('Super-resolve images of any size with a trained model (tiled, seamless; inputs read and PNG outputs written a band of rows at a time, so memory is bounded by the tile whatever the image; JPEG/WebP outputs are held whole in 8 bits for their encoder)')
    .argument('<inputs...>', 'image files or folders')
    .requiredOption('-o, --out <path>', 'output file (one input) or folder (PNG files, same names)')
    .addOption(modelOption())
    .addOption(engineOption())
    .addOption(onnxRangeOption())
    .addOption(scaleOption())
    .addOption(tileOption())
    .addOption(overlapOption())
    .option('--max-pixels <n>', 'refuse input images with more pixels than this (decompression bombs)', intOption('--max-pixels', 1), DEFAULT_MAX_PIXELS)
    .option('--workers <n>', 'worker threads sharing the tiles of each image (same output for any count; images of one tile stay in this thread), or ONNX Runtime\'s threads; default: the number of cores, at most 8', intOption('--workers', 1, 64), defaultWorkers())
    .option('--backend <name>', 'TF.js backend: wasm (default) or cpu', parseBackendName)
    .action(async (inputs: string[], o) => {
      // Every mistake in the options or the output is found before the model loads and any image is decoded.
      checkTileOptions({ tile: o.tile, overlap: o.overlap });
      const jobs = await planOutputs(inputs, o.out);
      await initBackend(o.backend, { gradients: false });
      const upscaler = await loadUpscaler(o.model, {
        ...(o.scale !== undefined ? { scale: o.scale } : {}),
        ...(o.engine !== undefined ? { engine: o.engine } : {}),
        ...(o.onnxRange !== undefined ? { onnxRange: o.onnxRange } : {}),
        threads: o.workers,
      });
      const bar = progressRenderer('upscale', { unit: 'tiles' });
      const interrupt = interruptSignal();
      let meter: RateMeter | undefined;
      try {
        const { written, skipped } = await upscaleFiles(jobs, upscaler, {
          tile: o.tile,
          overlap: o.overlap,
          maxPixels: o.maxPixels,
          workers: o.workers,
          signal: interrupt.signal,
          onImage: (done, total, file) => {
            if (file) process.stderr.write(`[${done + 1}/${total}] ${file}\n`);
            meter = undefined;
          },
          onTile: (done, total) => {
            meter ??= new RateMeter(total);
            bar.update(meter.update(done));
          },
          onWarning: (m) => process.stderr.write(`warning: ${m}\n`),
        });
        bar.stop();
        process.stdout.write(`${written} image(s) upscaled x${upscaler.scale}${skipped ? `, ${skipped} skipped` : ''} -> ${o.out}\n`);
        if (skipped > 0) process.exitCode = 1;
      } finally {
        bar.stop();
        interrupt.dispose();
        upscaler.dispose();
      }
    });
}
