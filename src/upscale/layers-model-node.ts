/**
 * Node side of TF.js layers models as upscalers: finding the model.json of an installed UpscalerJS model package
 * (e.g. `@upscalerjs/esrgan-slim`) and reading a model.json and its weight shards from disk, without network.
 */
import { promises as fs } from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import type * as tf from '@tensorflow/tfjs-core';
import { InputError, UsageError } from '../errors.js';
import { pathInside } from '../util/inside.js';

/** An npm package name with an optional subpath: `@scope/name`, `name`, `@scope/name/4x`. */
const PACKAGE_SPEC = /^((?:@[a-z0-9][\w.-]*\/)?[a-z0-9][\w.-]*)(?:\/(.+))?$/i;

/** Splits `@upscalerjs/esrgan-slim/4x` into the package name and subpath; undefined if not package-like. */
export function parsePackageSpec(spec: string): { name: string; subpath?: string } | undefined {
  if (spec.startsWith('.') || path.isAbsolute(spec)) return undefined;
  const m = PACKAGE_SPEC.exec(spec);
  if (!m) return undefined;
  return m[2] === undefined ? { name: m[1]! } : { name: m[1]!, subpath: m[2] };
}

/**
 * The root folder of an installed npm package, looked up in the node_modules folders above the working
 * directory, then above otsr itself (so that the packages otsr depends on are found from anywhere).
 */
export async function findPackageRoot(name: string): Promise<string | undefined> {
  const bases = [path.join(process.cwd(), 'noop.js'), import.meta.url];
  for (const base of bases) {
    for (const dir of createRequire(base).resolve.paths(name) ?? []) {
      const root = path.join(dir, name);
      if (await exists(path.join(root, 'package.json'))) return root;
    }
  }
  return undefined;
}

async function exists(p: string): Promise<boolean> {
  return (await fs.stat(p).catch(() => undefined)) !== undefined;
}

/** The factor in a package subpath, as UpscalerJS names its entry points: `4x` (or `x4`, `4`) -> 4. */
export function parseScaleSubpath(subpath: string, name: string): number {
  const m = /^(?:x(\d+)|(\d+)x?)$/i.exec(subpath);
  if (!m) throw new UsageError(`${name}/${subpath}: expected a factor after the package name, such as ${name}/4x`);
  return Number(m[1] ?? m[2]);
}

/**
 * The model.json inside an UpscalerJS model package folder: `models/x{scale}/model.json` (esrgan-slim, -medium,
 * -thick ship x2, x3, x4, x8) or `models/model.json` (one-model packages). Without a scale, x4 when there is one,
 * else the only one.
 */
export async function packageModelFile(root: string, scale?: number): Promise<string> {
  const models = path.join(root, 'models');
  const entries = await fs.readdir(models).catch(() => undefined);
  if (!entries) throw new InputError(root, 'is not an UpscalerJS model package (it has no models/ folder)');
  const scales: number[] = [];
  for (const e of entries) {
    const m = /^x(\d+)$/.exec(e);
    if (m && (await exists(path.join(models, e, 'model.json')))) scales.push(Number(m[1]));
  }
  scales.sort((a, b) => a - b);
  if (scales.length === 0) {
    const single = path.join(models, 'model.json');
    if (await exists(single)) return single;
    throw new InputError(models, 'holds no model.json (neither models/model.json nor models/xN/model.json)');
  }
  const chosen = scale ?? (scales.includes(4) ? 4 : scales.length === 1 ? scales[0]! : undefined);
  if (chosen === undefined || !scales.includes(chosen)) {
    const have = scales.map((s) => `x${s}`).join(', ');
    throw new UsageError(`${root} has models for ${have}${scale !== undefined ? `, not x${scale}` : ''}: choose one with --scale`);
  }
  return path.join(models, `x${chosen}`, 'model.json');
}

/**
 * An IOHandler reading a TF.js model.json (layers format) and its weight shards from disk: all shards named
 * in the weights manifest, concatenated in manifest order. Errors name the file.
 */
export function layersModelFromFile(file: string): tf.io.IOHandler {
  return {
    async load(): Promise<tf.io.ModelArtifacts> {
      const text = await fs.readFile(file, 'utf8').catch((err: NodeJS.ErrnoException) => {
        throw new InputError(file, `cannot be read (${err.code ?? err.message})`, { cause: err });
      });
      let json: tf.io.ModelJSON;
      try {
        json = JSON.parse(text) as tf.io.ModelJSON;
      } catch (err) {
        throw new InputError(file, `is not valid JSON (${(err as Error).message})`, { cause: err });
      }
      if (!json || typeof json !== 'object' || !json.modelTopology || !Array.isArray(json.weightsManifest)) {
        throw new InputError(file, 'is not a TF.js model.json (no modelTopology or weightsManifest)');
      }
      if (json.format !== undefined && json.format !== 'layers-model') {
        throw new InputError(file, `is a TF.js '${json.format}' model; only layers models (Keras exports) are supported`);
      }
      const dir = path.dirname(file);
      const weightSpecs: tf.io.WeightsManifestEntry[] = [];
      const buffers: Buffer[] = [];
      for (const group of json.weightsManifest) {
        weightSpecs.push(...group.weights);
        for (const rel of group.paths) {
          // Checked before anything is opened, and nothing said about what is there: a crafted model.json must not
          // read, or probe, files outside its folder.
          const shard = typeof rel === 'string' ? await pathInside(dir, rel) : undefined;
          if (shard === undefined) throw new InputError(file, `weightsManifest: shard path ${JSON.stringify(rel)} leaves the model folder; refused`);
          buffers.push(
            await fs.readFile(shard).catch((err: NodeJS.ErrnoException) => {
              throw new InputError(shard, `weight shard of ${file} cannot be read (${err.code ?? err.message})`, { cause: err });
            }),
          );
        }
      }
      const all = Buffer.concat(buffers);
      const weightData = all.buffer.slice(all.byteOffset, all.byteOffset + all.byteLength) as ArrayBuffer;
      const expected = weightSpecs.reduce((s, w) => s + w.shape.reduce((a, b) => a * b, 1) * bytesPer(w.dtype, w.quantization), 0);
      if (expected !== weightData.byteLength) {
        throw new InputError(file, `its weight shards hold ${weightData.byteLength} bytes, but the manifest needs ${expected}`);
      }
      return {
        modelTopology: json.modelTopology,
        format: json.format,
        generatedBy: json.generatedBy,
        convertedBy: json.convertedBy,
        weightSpecs,
        weightData,
      };
    },
  };
}

function bytesPer(dtype: string, quantization?: { dtype?: string }): number {
  const q = quantization?.dtype;
  if (q === 'uint8') return 1;
  if (q === 'uint16' || q === 'float16') return 2;
  return dtype === 'bool' ? 1 : 4;
}
