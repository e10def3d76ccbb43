/**
 * The options that choose an upscaler and its tiled inference, shared by the commands that run one
 * (`otsr upscale`, `otsr eval`), so both spell and explain them the same way.
 */
import { Option } from 'commander';
import { intOption } from '../options.js';

/** `--model <spec>` (required): what `loadUpscaler` accepts. */
export function modelOption(): Option {
  return new Option(
    '--model <spec>',
    "otsr model folder (from 'otsr train'), 'bicubic', 'bicubic+blur' (then a sigma-1 Gaussian), an UpscalerJS package (@upscalerjs/esrgan-slim) or a layers model.json",
  ).makeOptionMandatory();
}

/** `--scale <s>`: only for models that do not know their own factor (undefined when not given). */
export function scaleOption(): Option {
  return new Option('--scale <s>', "factor for 'bicubic'/'bicubic+blur' or a package's model (a model folder knows its own)").argParser(intOption('--scale', 2, 16));
}

/** `--tile <px>` (default 256): tile side of the tiled inference. */
export function tileOption(): Option {
  return new Option('--tile <px>', 'tile side in input (LR) pixels (bounds memory)').argParser(intOption('--tile', 16)).default(256);
}

/** `--overlap <px>` (default 16): how far neighbouring tiles overlap. */
export function overlapOption(): Option {
  return new Option('--overlap <px>', 'input (LR) pixels shared by neighbouring tiles (blended, no seams)')
    .argParser(intOption('--overlap', 0))
    .default(16);
}
