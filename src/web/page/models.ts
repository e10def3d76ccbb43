/**
 * The models the page can upscale with: bicubic (no weights), the model the server offers, or a model
 * folder the user picks (model.json + weight shards, as `otsr train` writes them).
 */
import type * as tf from '@tensorflow/tfjs-core';
import { InputError } from '../../errors.js';
import { upsampleBicubic } from '../../image/resize-tensor.js';
import type { Module } from '../../nn/module.js';
import { type LoadedModel, loadModelFromFiles, loadModelFromUrl } from '../../nn/serialize.js';

/** Something that maps an NHWC batch in [-1, 1] to the same batch `scale` times larger. */
export interface PageModel {
  /** What the page shows in the model list. */
  readonly label: string;
  readonly scale: number;
  /** The network, or undefined for bicubic. */
  readonly module?: Module;
  /** Frees the weights. */
  dispose(): void;
}

/** What the server says about itself in config.json (absent on a plain static host). */
export interface ServerConfig {
  version?: string;
  /** The served model folder, relative to the page. */
  model?: { url: string; name: string; scale?: number } | null;
}

export function bicubicModel(scale: number): PageModel {
  return { label: `bicubic x${scale}`, scale, dispose() {} };
}

/** Wraps a loaded model folder; only super-resolution maps (with a scale) are accepted. */
export function fromLoaded(loaded: LoadedModel, name: string): PageModel {
  const scale = loaded.manifest.scale ?? (typeof loaded.arch.scale === 'number' ? loaded.arch.scale : undefined);
  if (scale === undefined || !Number.isInteger(scale) || scale < 1) {
    loaded.module.dispose();
    throw new InputError(name, `is a ${String(loaded.arch.kind)} model without an upscaling factor, not a super-resolution map`);
  }
  return {
    label: `${name} (${String(loaded.arch.kind)} x${scale})`,
    scale,
    module: loaded.module,
    dispose: () => loaded.module.dispose(),
  };
}

/** Reads the server's config.json; undefined when the page is served statically without one. */
export async function fetchServerConfig(): Promise<ServerConfig | undefined> {
  try {
    const res = await fetch('config.json', { cache: 'no-store' });
    if (!res.ok) return undefined;
    return (await res.json()) as ServerConfig;
  } catch {
    return undefined;
  }
}

/** Loads the model the server offers. */
export async function loadServedModel(config: NonNullable<ServerConfig['model']>): Promise<PageModel> {
  const url = new URL(config.url, document.baseURI);
  return fromLoaded(await loadModelFromUrl(url, { upsampler: upsampleBicubic }), config.name);
}

/** Loads a model folder from files the user picked or dropped (model.json and its shards). */
export async function loadPickedModel(files: Iterable<File>): Promise<PageModel> {
  const map = new Map<string, ArrayBuffer>();
  let folder = '';
  for (const f of files) {
    const key = f.webkitRelativePath || f.name;
    if (f.name === 'model.json') folder = key.includes('/') ? key.slice(0, key.lastIndexOf('/')) : '';
    map.set(key, await f.arrayBuffer());
  }
  const name = folder.split('/').pop() || 'picked model';
  return fromLoaded(await loadModelFromFiles(map, { upsampler: upsampleBicubic }), name);
}

/** The model's forward pass (or bicubic): NHWC in [-1, 1] -> NHWC `scale` times larger. */
export function forward(model: PageModel, x: tf.Tensor4D): tf.Tensor4D {
  return model.module ? (model.module.apply(x) as tf.Tensor4D) : upsampleBicubic(x, model.scale);
}

/** Wraps a network already in memory (e.g. trained in the Train tab). */
export function fromModule(module: Module, scale: number, label: string): PageModel {
  return { label, scale, module, dispose: () => module.dispose() };
}
