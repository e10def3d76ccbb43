import { promises as fs } from 'node:fs';
import path from 'node:path';
import type * as tf from '@tensorflow/tfjs-core';
import { InputError, UsageError } from '../errors.js';
import { upsampleBicubic } from '../image/resize-tensor.js';
import { loadModel } from '../nn/serialize-node.js';
import type { UpscaleModel } from './tiles.js';

/** A ready-to-run super-resolution function and what it is. */
export interface Upscaler {
  /** For tables and logs: `bicubic`, or the model folder. */
  name: string;
  scale: number;
  model: UpscaleModel;
  dispose(): void;
}

/**
 * Resolves `--model`: `bicubic` (needs `scale`) or an otsr model folder (model.json + shards, as written by
 * `otsr train`). Node only.
 */
export async function loadUpscaler(spec: string, options: { scale?: number } = {}): Promise<Upscaler> {
  if (spec === 'bicubic') {
    const scale = options.scale ?? 4;
    if (!Number.isInteger(scale) || scale < 2) throw new UsageError(`bicubic needs an integer --scale >= 2, got ${scale}`);
    return { name: 'bicubic', scale, model: (x) => upsampleBicubic(x, scale), dispose: () => {} };
  }
  const stat = await fs.stat(spec).catch(() => undefined);
  if (!stat) throw new InputError(spec, "no such model: give an otsr model folder (from 'otsr train') or 'bicubic'");
  const loaded = await loadModel(spec, { upsampler: upsampleBicubic });
  const scale = loaded.manifest.scale;
  if (typeof scale !== 'number') {
    loaded.module.dispose();
    throw new InputError(path.join(spec, 'model.json'), 'is not a super-resolution model (its manifest has no scale)');
  }
  if (options.scale !== undefined && options.scale !== scale) {
    loaded.module.dispose();
    throw new UsageError(`the model upscales x${scale}, but --scale ${options.scale} was given`);
  }
  return {
    name: spec,
    scale,
    model: (x: tf.Tensor4D) => loaded.module.apply(x) as tf.Tensor4D,
    dispose: () => loaded.module.dispose(),
  };
}
