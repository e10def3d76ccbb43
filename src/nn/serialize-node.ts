/**
 * Node side of otsr's model format: save a module to a folder atomically, load one from a folder.
 * The browser uses serialize.ts only (this module imports node:fs).
 */
import { readFile, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { InputError, UsageError } from '../errors.js';
import { writeFolderAtomic } from '../util/atomic-write.js';
import { pathInside } from '../util/inside.js';
import type { Module } from './module.js';
import type { BuildOptions } from './registry.js';
import type { ArchSpec } from './module.js';
import { type LoadedModel, MODEL_JSON, type OtsrManifestInput, decodeModel, encodeModel, parseModelJson } from './serialize.js';

/** Files otsr itself writes into a model folder; anything else there makes saving refuse to replace it. */
const OWN_FILE = /^(model\.json|group\d+-shard\d+of\d+\.bin)$/;

/**
 * Saves `module` as a model folder at `dir` (model.json + weight shards), atomically: the files are written
 * and fsynced in a temporary sibling folder that is then renamed into place, so a crash leaves either the
 * old model or the new one, never a mix. An existing model folder at `dir` is replaced; a folder holding
 * anything else is left alone (UsageError).
 */
export async function saveModel(dir: string, module: Module, manifest: OtsrManifestInput = {}): Promise<void> {
  const files = await encodeModel(module, manifest);
  await writeFolderAtomic(dir, files, { replace: (names) => names.every((n) => OWN_FILE.test(n)) });
}

/** Loads a model folder written by {@link saveModel} (or by the browser's encoder). */
export async function loadModel(dir: string, options: BuildOptions = {}): Promise<LoadedModel> {
  let folder = dir;
  // Accept the model.json path as well as its folder.
  if (basename(dir) === MODEL_JSON) folder = dirname(dir);
  else {
    const s = await stat(dir).catch(() => undefined);
    if (s === undefined) throw new InputError(dir, 'no such model folder');
    if (!s.isDirectory()) throw new InputError(dir, `is not a model folder (expected a folder with ${MODEL_JSON})`);
  }
  return decodeModel(
    {
      where: (name) => join(folder, name),
      async read(name) {
        // The names are plain file names (checked in serialize.ts), but one may be a link out of the folder.
        const file = await pathInside(folder, name);
        if (file === undefined) throw new InputError(join(folder, name), 'is a link to a file outside the model folder; refused');
        try {
          return await readFile(file);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
          throw new InputError(join(folder, name), `cannot be read: ${(err as Error).message}`, { cause: err });
        }
      },
    },
    options,
  );
}

/** The architecture that a model folder's model.json declares (its weights are not read). */
export async function readModelArch(dir: string): Promise<ArchSpec> {
  const file = basename(dir) === MODEL_JSON ? dir : join(dir, MODEL_JSON);
  let raw: Uint8Array;
  try {
    raw = await readFile(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new InputError(file, code === 'ENOENT' ? 'missing: not an otsr model folder (no model.json)' : `cannot be read: ${(err as Error).message}`, { cause: err });
  }
  return parseModelJson(raw, file).arch;
}
