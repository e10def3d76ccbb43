/**
 * otsr's model format, browser-safe part (no Node imports): a folder in TF.js's layout, `model.json` plus
 * weight shards `group1-shard{i}of{n}.bin` (4 MiB each, like the TF.js converter writes them).
 *
 * model.json:
 * ```
 * { "format": "otsr-model", "formatVersion": 1, "generatedBy": "otsr 0.1.0",
 *   "arch": { "kind": "edsr", ... },                  // buildModule() input
 *   "otsr": { "scale": 4, "dataRange": [-1, 1], "created": "...", "otsrVersion": "0.1.0", "training": {...} },
 *   "weightsManifest": [ { "paths": ["group1-shard1of1.bin"], "weights": [ { "name", "shape", "dtype" } ] } ] }
 * ```
 * Weight names are the module's parameter names (e.g. `body.3.conv1.w`), values little-endian float32.
 * Node reads and writes folders with serialize-node.ts; this module encodes/decodes from bytes, a base URL
 * (fetch) or files a user picked.
 */
import * as tf from '@tensorflow/tfjs-core';
import { InputError, UsageError } from '../errors.js';
import { brief, clip } from '../util/brief.js';
import { OTSR_VERSION } from '../version.js';
import type { ArchSpec, Module } from './module.js';
import { type BuildOptions, archParamCount, buildModule } from './registry.js';

/** One group of TF.js's weights manifest (tfjs-core does not export the element type by name). */
export type WeightsGroup = tf.io.WeightsManifestConfig[number];

export const MODEL_FORMAT = 'otsr-model';
/** The newest model.json layout this otsr writes and reads. */
export const MODEL_FORMAT_VERSION = 1;
export const MODEL_JSON = 'model.json';
/** Shard size of the weight files (TF.js converter's default). */
export const SHARD_BYTES = 4 * 1024 * 1024;

/** What otsr records about a saved model besides its architecture and weights. */
export interface OtsrManifest {
  /** Upscaling factor of a super-resolution map (absent for potentials and vector models). */
  scale?: number;
  /** The training configuration that produced the weights (solver, steps, crop, ...), free-form JSON. */
  training?: Record<string, unknown>;
  /** Range of the pixel values the model reads and writes. */
  dataRange: [number, number];
  /** ISO 8601 date of saving. */
  created: string;
  /** otsr version that saved the model. */
  otsrVersion: string;
  [key: string]: unknown;
}

/** The caller's part of the manifest; dataRange, created and otsrVersion get defaults. */
export type OtsrManifestInput = Partial<OtsrManifest>;

/** The parsed model.json. */
export interface ModelJson {
  format: typeof MODEL_FORMAT;
  formatVersion: number;
  generatedBy: string;
  arch: ArchSpec;
  otsr: OtsrManifest;
  weightsManifest: tf.io.WeightsManifestConfig;
}

/** A loaded model: the module with its weights, and what model.json says about it. */
export interface LoadedModel {
  module: Module;
  arch: ArchSpec;
  manifest: OtsrManifest;
  formatVersion: number;
}

/** Fills the defaults of an otsr manifest (data range [-1, 1], now, this version). */
export function makeManifest(input: OtsrManifestInput = {}): OtsrManifest {
  return {
    ...input,
    dataRange: input.dataRange ?? [-1, 1],
    created: input.created ?? new Date().toISOString(),
    otsrVersion: input.otsrVersion ?? OTSR_VERSION,
  };
}

/**
 * Encodes a module as the files of a model folder: `model.json` (UTF-8) and the weight shards, in the
 * order they should be written (shards first, model.json last).
 */
export async function encodeModel(module: Module, manifest: OtsrManifestInput = {}): Promise<Map<string, Uint8Array>> {
  const named = [...module.params].map(([name, tensor]) => ({ name, tensor }));
  const { data, specs } = await tf.io.encodeWeights(named);
  const bytes = new Uint8Array(data);
  const n = Math.max(1, Math.ceil(bytes.byteLength / SHARD_BYTES));
  const files = new Map<string, Uint8Array>();
  const paths: string[] = [];
  for (let i = 0; i < n; i++) {
    const name = `group1-shard${i + 1}of${n}.bin`;
    paths.push(name);
    files.set(name, bytes.subarray(i * SHARD_BYTES, Math.min(bytes.byteLength, (i + 1) * SHARD_BYTES)));
  }
  const json: ModelJson = {
    format: MODEL_FORMAT,
    formatVersion: MODEL_FORMAT_VERSION,
    generatedBy: `otsr ${OTSR_VERSION}`,
    arch: module.spec,
    otsr: makeManifest(manifest),
    weightsManifest: [{ paths, weights: specs }],
  };
  files.set(MODEL_JSON, new TextEncoder().encode(`${JSON.stringify(json, null, 1)}\n`));
  return files;
}

/**
 * Where model files come from: `read` resolves to the bytes, or undefined when the file does not exist;
 * `where` names a file for error messages (a path or URL).
 */
export interface ModelSource {
  read(name: string): Promise<Uint8Array | undefined>;
  where(name: string): string;
}

/**
 * Loads a model from any {@link ModelSource}, checking everything a damaged or foreign file can get wrong.
 * @throws InputError naming the file and the problem: missing model.json or shard, invalid JSON, wrong
 *   format, newer formatVersion, invalid architecture, weights that do not match it, truncated shards.
 */
export async function decodeModel(source: ModelSource, options: BuildOptions = {}): Promise<LoadedModel> {
  const jsonPath = source.where(MODEL_JSON);
  const raw = await source.read(MODEL_JSON);
  if (raw === undefined) throw new InputError(jsonPath, 'missing: not an otsr model (no model.json)');
  const json = parseModelJson(raw, jsonPath);
  const groups = checkWeightsManifest(json.weightsManifest, jsonPath);
  const kind = String(json.arch.kind);

  let expected: number;
  try {
    expected = archParamCount(json.arch);
  } catch (err) {
    if (err instanceof UsageError) throw new InputError(jsonPath, `invalid architecture: ${err.message}`, { cause: err });
    throw err;
  }
  if (kind === 'edsr' && json.otsr.scale !== undefined && json.otsr.scale !== json.arch.scale) {
    throw new InputError(jsonPath, `the manifest says scale ${json.otsr.scale}, the edsr architecture upscales x${String(json.arch.scale)}`);
  }
  // The shards are read (and their sizes checked) before anything is built, and an architecture far larger
  // than the weights in the file is refused unbuilt: a damaged or crafted model.json must not make us
  // allocate gigabytes. Small differences are left to checkWeightsMatch, which names the weights.
  const buffers: ArrayBuffer[] = [];
  for (const group of groups) buffers.push(await readGroup(source, group, jsonPath));
  const declared = groups.reduce((n, g) => n + g.weights.reduce((m, w) => m + w.shape.reduce((a, d) => a * d, 1), 0), 0);
  if (expected > 2 * declared + 1_000_000) {
    throw new InputError(
      jsonPath,
      `weights do not match the ${kind} architecture: it has ${expected} parameters, the file holds ${declared}`,
    );
  }
  groups.forEach((group, k) => checkFinite(source, group, buffers[k]!));

  let module: Module;
  try {
    module = buildModule(json.arch, options);
  } catch (err) {
    if (err instanceof UsageError) throw new InputError(jsonPath, `invalid architecture: ${err.message}`, { cause: err });
    throw err;
  }
  try {
    checkWeightsMatch(module, groups, jsonPath);
    const decoded: tf.NamedTensorMap = {};
    try {
      groups.forEach((group, k) => Object.assign(decoded, tf.io.decodeWeights(buffers[k]!, group.weights)));
      for (const [name, v] of module.params) v.assign(decoded[name]!);
    } finally {
      tf.dispose(Object.values(decoded));
    }
  } catch (err) {
    module.dispose();
    throw err;
  }
  return { module, arch: json.arch, manifest: json.otsr, formatVersion: json.formatVersion };
}

/** NaN or Inf weights are damage (training stops before saving them): name the shard that holds one. */
function checkFinite(source: ModelSource, group: WeightsGroup, buffer: ArrayBuffer): void {
  const values = new Float32Array(buffer);
  for (let i = 0; i < values.length; i++) {
    if (!Number.isFinite(values[i]!)) {
      const shard = group.paths[Math.min(group.paths.length - 1, Math.floor((4 * i) / SHARD_BYTES))]!;
      throw new InputError(source.where(shard), `damaged: weight values include ${values[i]} (NaN or infinite)`);
    }
  }
}

/**
 * Loads a model from a base URL with `fetch` (browser, or Node ≥ 18). `url` is the folder (with or without
 * a trailing slash) or its model.json.
 */
export async function loadModelFromUrl(
  url: string | URL,
  options: BuildOptions & { fetch?: typeof fetch; signal?: AbortSignal } = {},
): Promise<LoadedModel> {
  const fetchFn = options.fetch ?? globalThis.fetch;
  let base = String(url);
  if (base.endsWith(`/${MODEL_JSON}`)) base = base.slice(0, -MODEL_JSON.length);
  else if (!base.endsWith('/')) base += '/';
  const where = (name: string) => new URL(name, base).href;
  return decodeModel(
    {
      where,
      async read(name) {
        let res: Response;
        try {
          res = await fetchFn(where(name), { signal: options.signal });
        } catch (err) {
          if (options.signal?.aborted) throw err;
          throw new InputError(where(name), `could not be fetched: ${(err as Error).message}`, { cause: err });
        }
        if (res.status === 404 || res.status === 410) return undefined;
        if (!res.ok) throw new InputError(where(name), `could not be fetched: HTTP ${res.status} ${res.statusText}`);
        return new Uint8Array(await res.arrayBuffer());
      },
    },
    options,
  );
}

/**
 * Loads a model from files the user picked (e.g. an `<input type=file multiple>`), keyed by file name.
 * Keys may carry folders (`edsr/model.json`); files are matched by their base name.
 */
export async function loadModelFromFiles(
  files: ReadonlyMap<string, ArrayBuffer | Uint8Array>,
  options: BuildOptions = {},
): Promise<LoadedModel> {
  const byName = new Map<string, ArrayBuffer | Uint8Array>();
  for (const [key, value] of files) byName.set(key.slice(key.lastIndexOf('/') + 1), value);
  return decodeModel(
    {
      where: (name) => name,
      async read(name) {
        const v = byName.get(name);
        return v === undefined ? undefined : v instanceof Uint8Array ? v : new Uint8Array(v);
      },
    },
    options,
  );
}

export function parseModelJson(raw: Uint8Array, path: string): ModelJson {
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder().decode(raw));
  } catch (err) {
    throw new InputError(path, `is not valid JSON (${(err as Error).message}); the file may be truncated`);
  }
  if (json === null || typeof json !== 'object' || Array.isArray(json)) throw new InputError(path, 'is not a JSON object');
  const j = json as Record<string, unknown>;
  if (j.format !== MODEL_FORMAT) {
    const what = j.format === undefined ? 'has no "format" field' : `has format ${brief(j.format)}`;
    throw new InputError(path, `${what}; expected "${MODEL_FORMAT}" (not an otsr model)`);
  }
  const v = j.formatVersion;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) {
    throw new InputError(path, `has an invalid formatVersion ${brief(v)}`);
  }
  if (v > MODEL_FORMAT_VERSION) {
    throw new InputError(
      path,
      `has formatVersion ${v}, newer than this otsr ${OTSR_VERSION} reads (up to ${MODEL_FORMAT_VERSION}); upgrade otsr`,
    );
  }
  if (j.arch === null || typeof j.arch !== 'object' || Array.isArray(j.arch)) throw new InputError(path, 'has no "arch" object');
  const otsr = j.otsr;
  if (otsr === null || typeof otsr !== 'object' || Array.isArray(otsr)) throw new InputError(path, 'has no "otsr" manifest object');
  const { scale, dataRange } = otsr as Record<string, unknown>;
  if (scale !== undefined && !(typeof scale === 'number' && Number.isInteger(scale) && scale >= 1)) {
    throw new InputError(path, `has an invalid scale ${brief(scale)} (expected an integer >= 1)`);
  }
  if (dataRange !== undefined && !(Array.isArray(dataRange) && dataRange.length === 2 && dataRange.every((v) => typeof v === 'number'))) {
    throw new InputError(path, `has an invalid dataRange ${brief(dataRange)} (expected [min, max])`);
  }
  return j as unknown as ModelJson;
}

/** Checks the TF.js weights manifest's shape; shard paths must be plain file names next to model.json. */
function checkWeightsManifest(manifest: unknown, path: string): WeightsGroup[] {
  if (!Array.isArray(manifest)) throw new InputError(path, 'has no "weightsManifest" array');
  for (const group of manifest as WeightsGroup[]) {
    if (!group || !Array.isArray(group.paths) || !Array.isArray(group.weights)) {
      throw new InputError(path, 'weightsManifest: each group needs "paths" and "weights" arrays');
    }
    for (const p of group.paths) {
      // Refusing folders keeps a crafted model.json from reading files outside the model folder.
      if (typeof p !== 'string' || p === '' || /[/\\]/.test(p) || p === '.' || p === '..') {
        throw new InputError(path, `weightsManifest: shard path ${brief(p)} must be a file name in the model folder`);
      }
    }
    for (const w of group.weights) {
      if (!w || typeof w.name !== 'string' || !Array.isArray(w.shape) || !w.shape.every((d) => Number.isInteger(d) && d >= 0)) {
        throw new InputError(path, `weightsManifest: malformed weight entry ${brief(w)}`);
      }
      if (w.dtype !== 'float32' || w.quantization !== undefined) {
        throw new InputError(path, `weightsManifest: weight ${clip(w.name)} has dtype ${brief(w.dtype)}${w.quantization ? ' (quantized)' : ''}; otsr reads float32 only`);
      }
    }
  }
  return manifest as WeightsGroup[];
}

/** Every parameter of the architecture must be in the file exactly once with its shape, and nothing else. */
function checkWeightsMatch(module: Module, groups: WeightsGroup[], path: string): void {
  const seen = new Set<string>();
  const kind = String(module.spec.kind);
  for (const group of groups) {
    for (const w of group.weights) {
      const v = module.params.get(w.name);
      if (v === undefined) throw new InputError(path, `weights do not match the ${kind} architecture: unexpected weight ${clip(w.name)}`);
      if (seen.has(w.name)) throw new InputError(path, `weights do not match the ${kind} architecture: weight ${clip(w.name)} appears twice`);
      seen.add(w.name);
      if (w.shape.length !== v.shape.length || w.shape.some((d, i) => d !== v.shape[i])) {
        throw new InputError(
          path,
          `weights do not match the ${kind} architecture: ${clip(w.name)} has shape [${clip(w.shape.join(', '))}] in the file, [${v.shape.join(', ')}] in the architecture`,
        );
      }
    }
  }
  const missing = [...module.params.keys()].filter((n) => !seen.has(n));
  if (missing.length > 0) {
    const list = missing.slice(0, 5).join(', ') + (missing.length > 5 ? `, … (${missing.length} in all)` : '');
    throw new InputError(path, `weights do not match the ${kind} architecture: missing weight(s) ${list}`);
  }
}

/** Reads and concatenates a group's shards, checking that they hold exactly the bytes its weights need. */
async function readGroup(source: ModelSource, group: WeightsGroup, jsonPath: string): Promise<ArrayBuffer> {
  const need = group.weights.reduce((acc, w) => acc + 4 * w.shape.reduce((a, d) => a * d, 1), 0);
  if (group.paths.length === 0) {
    if (need === 0) return new ArrayBuffer(0);
    throw new InputError(jsonPath, 'weightsManifest: a group lists weights but no shard files');
  }
  const shards: Uint8Array[] = [];
  for (const p of group.paths) {
    const bytes = await source.read(p);
    if (bytes === undefined) throw new InputError(source.where(p), 'missing weight shard (listed in model.json)');
    shards.push(bytes);
  }
  const have = shards.reduce((acc, s) => acc + s.byteLength, 0);
  if (have !== need) {
    // All shards but the last are full-size: one shorter than that is the damaged one, else the last is.
    let bad = shards.length - 1;
    if (have < need) {
      const full = Math.max(SHARD_BYTES, ...shards.map((s) => s.byteLength));
      const i = shards.findIndex((s, k) => k < shards.length - 1 && s.byteLength < full);
      if (i >= 0) bad = i;
    }
    const problem =
      have < need
        ? `truncated: the weights listed in model.json need ${need} bytes, the shards hold ${have}`
        : `too long: the weights listed in model.json need ${need} bytes, the shards hold ${have}`;
    throw new InputError(source.where(group.paths[bad]!), problem);
  }
  const out = new Uint8Array(need);
  let offset = 0;
  for (const s of shards) {
    out.set(s, offset);
    offset += s.byteLength;
  }
  return out.buffer;
}
