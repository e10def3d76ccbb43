import { Command } from 'commander';
import { OtsrError } from '../../errors.js';
import { DEFAULT_MAX_PIXELS } from '../../image/io.js';
import { degradePaths } from '../../image/degrade.js';
import { RateMeter } from '../../util/progress.js';
import { floatOption, intOption } from '../options.js';
import { progressRenderer } from '../progress-bar.js';

interface DegradeCliOptions {
  scale: number;
  blur?: number;
  noise?: number;
  jpeg?: number;
  seed: number;
  maxPixels: number;
  quiet?: boolean;
}

export function degradeCommand(): Command {
  return new Command('degrade')
    .description(
      'Make LR images from HR ones: Gaussian blur -> bicubic 1/scale -> Gaussian noise -> JPEG (each step optional except the downscale)',
    )
    .argument('<in>', 'an image file or a folder of images (searched recursively)')
    .argument('<out>', 'output file (format from its extension), or folder (NAME.jpg with --jpeg, else NAME.png)')
    .requiredOption('-s, --scale <n>', 'integer downscaling factor', intOption('--scale', 1, 64))
    .option('--blur <sigma>', 'Gaussian blur sigma in HR pixels, before downscaling (default: none)', floatOption('--blur', 0, 100))
    .option('--noise <sigma>', 'additive Gaussian noise sigma in 8-bit levels, e.g. 8 for 8/255 (default: none)', floatOption('--noise', 0, 255))
    .option('--jpeg <quality>', 'JPEG compression quality 1-100 as the last step (default: none)', intOption('--jpeg', 1, 100))
    .option('--seed <n>', 'seed of the noise (each file gets its own stream from the seed and its name)', intOption('--seed', 0, 2 ** 32 - 1), 1)
    .option('--max-pixels <n>', 'refuse input images with more pixels than this', intOption('--max-pixels', 1), DEFAULT_MAX_PIXELS)
    .option('-q, --quiet', 'no progress and no summary line')
    .action(async (input: string, output: string, opts: DegradeCliOptions) => {
      const bar = opts.quiet ? undefined : progressRenderer('degrade', { unit: 'images' });
      let meter: RateMeter | undefined;
      let result;
      try {
        result = await degradePaths(input, output, {
          scale: opts.scale,
          blur: opts.blur,
          noise: opts.noise,
          jpeg: opts.jpeg,
          seed: opts.seed,
          maxPixels: opts.maxPixels,
          onWarning: (m) => process.stderr.write(`otsr: warning: ${m}\n`),
          onProgress: (done, total) => {
            meter ??= new RateMeter(total);
            bar?.update(meter.update(done));
          },
        });
      } finally {
        bar?.stop();
      }
      if (!opts.quiet) process.stdout.write(`degraded ${result.written.length} image${result.written.length === 1 ? '' : 's'} -> ${output}\n`);
      if (result.failed.length > 0) {
        const total = result.failed.length + result.written.length;
        throw new OtsrError(`${result.failed.length} of ${total} images could not be degraded (see the warnings above)`);
      }
    });
}
