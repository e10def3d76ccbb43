/**
 * The options that choose an upscaler and its tiled inference, shared by the commands that run one
 * (`otsr upscale`, `otsr eval`), so both spell and explain them the same way.
 */
import { InvalidArgumentError, Option } from 'commander';
import { ENGINES, ONNX_RANGES } from '../../upscale/onnx-node.js';
import { DEFAULT_ENGINE } from '../../upscale/upscaler-node.js';
import { intOption } from '../options.js';

/** `--model <spec>` (required): what `loadUpscaler` accepts. */
export function modelOption(): Option {
  return new Option(
    '--model <spec>',
    "otsr model folder (from 'otsr train'), 'bicubic', 'bicubic+blur' (then a sigma-1 Gaussian), an UpscalerJS package (@upscalerjs/esrgan-slim), a layers model.json or an .onnx model (NCHW RGB, e.g. from PyTorch)",
  ).makeOptionMandatory();
}

/** `--scale <s>`: only for models that do not know their own factor (undefined when not given). */
export function scaleOption(): Option {
  return new Option('--scale <s>', "factor for 'bicubic'/'bicubic+blur' or a package's model (a model folder knows its own)").argParser(intOption('--scale', 2, 16));
}

/** `--tile <px>` (default 256): tile side of the tiled inference. */
export function tileOption(): Option {
  return new Option('--tile <px>', 'largest tile side in input (LR) pixels (bounds memory; tiles are shorter for outputs so wide that a row of them would hold more than 4 tiles of output or 40 MB)').argParser(intOption('--tile', 16)).default(256);
}

/** `--overlap <px>` (default 16): how far neighbouring tiles overlap. */
export function overlapOption(): Option {
  return new Option('--overlap <px>', 'input (LR) pixels shared by neighbouring tiles (blended, no seams)')
    .argParser(intOption('--overlap', 0))
    .default(16);
}

/** `--engine <name>`: what runs an otsr model folder (undefined when not given: the library's default). */
export function engineOption(): Option {
  return new Option('--engine <name>', `what runs an otsr model folder: TF.js (tfjs) or ONNX Runtime's CPU kernels (onnx, exported in memory); default ${DEFAULT_ENGINE}`).choices(ENGINES);
}

/** `--onnx-range <r>`: pixel range of an .onnx model (undefined when not given: its metadata's, else 1). */
export function onnxRangeOption(): Option {
  return new Option('--onnx-range <r>', "pixel range of an .onnx model's input and output: 1 for [0, 1] (PyTorch's convention), 255 for [0, 255]; default its input_range metadata, else 1")
    .argParser((v) => {
      const r = Number(v);
      if (!(ONNX_RANGES as readonly number[]).includes(r)) throw new InvalidArgumentError(`--onnx-range must be ${ONNX_RANGES.join(' or ')}, got '${v}'`);
      return r;
    });
}
