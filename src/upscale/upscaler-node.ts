import { promises as fs } from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { InputError, UsageError } from '../errors.js';
import { gaussianBlurTensor } from '../image/blur-tensor.js';
import { upsampleBicubic } from '../image/resize-tensor.js';
import { exportOnnx } from '../nn/onnx-export.js';
import { MODEL_FORMAT, MODEL_JSON } from '../nn/serialize.js';
import { loadModel } from '../nn/serialize-node.js';
import { loadLayersUpscaleModel } from './layers-model.js';
import { findPackageRoot, layersModelFromFile, packageModelFile, parsePackageSpec, parseScaleSubpath } from './layers-model-node.js';
import { type Engine, type OnnxRange, OnnxRunner } from './onnx-node.js';
import { type TileRunner, type UpscaleModel, modelRunner } from './tiles.js';

/** A ready-to-run super-resolution function and what it is. */
export interface Upscaler {
  /** For tables and logs: `bicubic`, the model folder, or the package as given. */
  name: string;
  scale: number;
  /** What runs the model. */
  engine: Engine;
  /** Runs tile batches in this thread: the TF.js model, or an ONNX Runtime session (on its own threads). */
  runner: TileRunner;
  /** The TF.js model (engine 'tfjs'); ONNX Runtime's models have none. */
  model?: UpscaleModel;
  /**
   * How to load the same model again, e.g. in worker threads (`loadUpscaler(source.spec, source.options)`); set by
   * {@link loadUpscaler}. Upscalers without it run in the calling thread only.
   */
  source?: UpscalerSource;
  dispose(): void;
}

/** The arguments of {@link loadUpscaler} that gave an upscaler (structured-cloneable). */
export interface UpscalerSource {
  spec: string;
  options: LoadUpscalerOptions;
}

export interface LoadUpscalerOptions {
  /** Required factor: bicubic's (default 4), the model to pick from a package, or a check of a model's own. */
  scale?: number;
  /** Pixel range of a TF.js layers model (1 or 255), overriding the inferred one (see layers-model.ts). */
  layersRange?: number;
  /**
   * What runs an otsr model folder: 'onnx' exports it to ONNX in memory and runs it on ONNX Runtime, 'tfjs' on the
   * TF.js backend; default {@link DEFAULT_ENGINE}. `.onnx` files run on ONNX Runtime only, bicubic and TF.js layers
   * models on TF.js only.
   */
  engine?: Engine;
  /** Pixel range of an `.onnx` model, [0, 1] or [0, 255]; default its `input_range` metadata, else 1. */
  onnxRange?: OnnxRange;
  /** ONNX Runtime's intra-op threads (default 1). */
  threads?: number;
}

/** The blur of the `bicubic+blur` baseline, in output pixels. */
export const BASELINE_BLUR_SIGMA = 1;

/**
 * The engine of otsr model folders when none is asked for: TF.js, which since its Winograd convs upscales the
 * shipped map 1.3x (one thread) and 1.6x (two) as fast as ONNX Runtime does, with the same numbers to ~1e-6
 * (`otsr bench upscale --model models/unpaired-x4`, bench/RESULTS.md).
 */
export const DEFAULT_ENGINE: Engine = 'tfjs';

const NOT_FOUND =
  "no such model: give an otsr model folder (from 'otsr train'), 'bicubic', 'bicubic+blur', an installed UpscalerJS model " +
  'package (such as @upscalerjs/esrgan-slim), the path of a TF.js layers model.json or of an .onnx model';

/**
 * Resolves `--model` (Node only):
 * - `bicubic` (factor `scale`, default 4);
 * - `bicubic+blur`: bicubic, then a Gaussian blur of sigma {@link BASELINE_BLUR_SIGMA} = 1 output pixel (the
 *   "just smooth it" baseline, which PSNR/SSIM reward on blurred, noisy inputs and a perceptual distance should not);
 * - an otsr model folder, or its model.json (as written by `otsr train`);
 * - an UpscalerJS model package, by npm name (`@upscalerjs/esrgan-slim`, resolved in node_modules; `/4x` after
 *   the name or `scale` picks the factor, default x4) or by folder;
 * - any TF.js layers model.json (Keras export) mapping [b, h, w, 3] to [b, s h, s w, 3], e.g. a package's
 *   `models/x4/model.json`; its pixel range is inferred (see layers-model.ts) unless `layersRange` is given;
 * - any `.onnx` super-resolution model mapping [N, 3, H, W] float32 RGB to [N, 3, sH, sW] with free H and W (e.g.
 *   exported from PyTorch, or by `otsr export`), in [0, `onnxRange`]; run on ONNX Runtime, its factor found by a probe.
 * Nothing is downloaded: packages must be installed.
 */
export async function loadUpscaler(spec: string, options: LoadUpscalerOptions = {}): Promise<Upscaler> {
  const upscaler = await load(spec, options);
  // The resolved factor too, so that a package loads the same model file wherever it is loaded again.
  return { ...upscaler, source: { spec, options: { ...options, scale: upscaler.scale } } };
}

async function load(spec: string, options: LoadUpscalerOptions): Promise<Upscaler> {
  const stat = await fs.stat(spec).catch(() => undefined);
  const onnx = stat?.isFile() === true && spec.toLowerCase().endsWith('.onnx');
  if (onnx && options.engine === 'tfjs') throw new UsageError(`${spec}: an .onnx model runs on ONNX Runtime only (--engine onnx)`);
  if (!onnx && options.onnxRange !== undefined) throw new UsageError(`--onnx-range is for .onnx models, not ${spec}`);
  if (onnx) return loadOnnxUpscaler(spec, options);
  if (spec === 'bicubic' || spec === 'bicubic+blur') {
    if (options.engine === 'onnx') throw new UsageError(`${spec} runs on TF.js only (drop --engine onnx)`);
    const scale = options.scale ?? 4;
    if (!Number.isInteger(scale) || scale < 2) throw new UsageError(`${spec} needs an integer --scale >= 2, got ${scale}`);
    if (spec === 'bicubic') return tfjsUpscaler(spec, scale, (x) => upsampleBicubic(x, scale), () => {});
    // The blur reaches 4 output pixels (1 LR pixel at x4), well inside the tiles' blend margin (overlap / 4).
    const model = (x: tf.Tensor4D) => tf.tidy(() => gaussianBlurTensor(upsampleBicubic(x, scale), BASELINE_BLUR_SIGMA));
    return tfjsUpscaler(spec, scale, model, () => {});
  }
  if (stat?.isFile()) {
    return (await isOtsrModelJson(spec)) ? loadOtsrUpscaler(spec, options) : loadLayersUpscaler(spec, spec, options);
  }
  if (stat?.isDirectory()) {
    const json = path.join(spec, MODEL_JSON);
    if (await fs.stat(json).catch(() => undefined)) {
      return (await isOtsrModelJson(json)) ? loadOtsrUpscaler(spec, options) : loadLayersUpscaler(spec, json, options);
    }
    if (await fs.stat(path.join(spec, 'package.json')).catch(() => undefined)) {
      return loadLayersUpscaler(spec, await packageModelFile(spec, options.scale), options);
    }
    throw new InputError(json, 'missing: not an otsr model folder (nor a model package: no package.json either)');
  }
  const pkg = parsePackageSpec(spec);
  const root = pkg && (await findPackageRoot(pkg.name));
  if (!pkg || !root) throw new InputError(spec, NOT_FOUND);
  let scale = options.scale;
  if (pkg.subpath !== undefined) {
    const fromPath = parseScaleSubpath(pkg.subpath, pkg.name);
    if (scale !== undefined && scale !== fromPath) throw new UsageError(`${spec} is x${fromPath}, but --scale ${scale} was given`);
    scale = fromPath;
  }
  return loadLayersUpscaler(spec, await packageModelFile(root, scale), { ...options, ...(scale !== undefined ? { scale } : {}) });
}

async function isOtsrModelJson(file: string): Promise<boolean> {
  try {
    return (JSON.parse(await fs.readFile(file, 'utf8')) as { format?: unknown }).format === MODEL_FORMAT;
  } catch {
    return false; // the layers loader reports unreadable or invalid files with their path
  }
}

/** An upscaler running `model` on the TF.js backend in this thread (and on worker threads when it has a `source`). */
export function tfjsUpscaler(name: string, scale: number, model: UpscaleModel, dispose: () => void): Upscaler {
  return { name, scale, engine: 'tfjs', model, runner: modelRunner(model), dispose };
}

function onnxUpscaler(name: string, runner: OnnxRunner): Upscaler {
  return {
    name,
    scale: runner.scale,
    engine: 'onnx',
    runner,
    // Native memory, freed in the background: nothing waits on it.
    dispose: () => void runner.release().catch(() => {}),
  };
}

async function loadOnnxUpscaler(spec: string, options: LoadUpscalerOptions): Promise<Upscaler> {
  let bytes: Uint8Array;
  try {
    bytes = await fs.readFile(spec);
  } catch (err) {
    throw new InputError(spec, `cannot be read: ${(err as Error).message}`, { cause: err });
  }
  const runner = await OnnxRunner.open(bytes, spec, {
    ...(options.onnxRange !== undefined ? { range: options.onnxRange } : {}),
    ...(options.threads !== undefined ? { threads: options.threads } : {}),
  });
  checkScale(runner.scale, options.scale, () => void runner.release());
  return onnxUpscaler(spec, runner);
}

async function loadOtsrUpscaler(spec: string, options: LoadUpscalerOptions): Promise<Upscaler> {
  const loaded = await loadModel(spec, { upsampler: upsampleBicubic });
  const scale = loaded.manifest.scale;
  const where = path.basename(spec) === MODEL_JSON ? spec : path.join(spec, MODEL_JSON);
  if (typeof scale !== 'number') {
    loaded.module.dispose();
    throw new InputError(where, 'is not a super-resolution model (its manifest has no scale)');
  }
  checkScale(scale, options.scale, () => loaded.module.dispose());
  if ((options.engine ?? DEFAULT_ENGINE) === 'onnx') {
    let bytes: Uint8Array;
    try {
      bytes = await exportOnnx(loaded.module, loaded.manifest);
    } finally {
      loaded.module.dispose();
    }
    // The export reads and writes [0, 1] (its metadata says so), whatever the model's own range.
    const runner = await OnnxRunner.open(bytes, where, { range: 1, ...(options.threads !== undefined ? { threads: options.threads } : {}) });
    return onnxUpscaler(spec, runner);
  }
  return tfjsUpscaler(spec, scale, (x: tf.Tensor4D) => loaded.module.apply(x) as tf.Tensor4D, () => loaded.module.dispose());
}

async function loadLayersUpscaler(name: string, file: string, options: LoadUpscalerOptions): Promise<Upscaler> {
  if (options.engine === 'onnx') throw new UsageError(`${name}: TF.js layers models run on TF.js only (drop --engine onnx, or convert the model to ONNX)`);
  const loaded = await loadLayersUpscaleModel(layersModelFromFile(file), file, options.layersRange !== undefined ? { range: options.layersRange } : {});
  checkScale(loaded.scale, options.scale, () => loaded.model.dispose());
  return tfjsUpscaler(name, loaded.scale, loaded.upscale, () => loaded.model.dispose());
}

function checkScale(actual: number, wanted: number | undefined, dispose: () => void): void {
  if (wanted !== undefined && wanted !== actual) {
    dispose();
    throw new UsageError(`the model upscales x${actual}, but --scale ${wanted} was given`);
  }
}
