/**
 * Node side of otsr's model format: save a module to a folder atomically, load one from a folder.
 * The browser uses serialize.ts only (this module imports node:fs).
 */
import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { mkdir, open, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { InputError, UsageError } from '../errors.js';
import type { Module } from './module.js';
import type { BuildOptions } from './registry.js';
import { type LoadedModel, MODEL_JSON, type OtsrManifestInput, decodeModel, encodeModel } from './serialize.js';

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
        try {
          return await readFile(join(folder, name));
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
          throw new InputError(join(folder, name), `cannot be read: ${(err as Error).message}`, { cause: err });
        }
      },
    },
    options,
  );
}

/**
 * Writes `files` (name -> bytes, written in the map's order) as the folder `dir`, atomically: into a
 * temporary sibling folder, each file fsynced, the folder fsynced, then renamed to `dir`. If `dir` exists
 * it is first renamed aside and removed after the swap, but only if `replace(names in dir)` agrees; a
 * crash between the two renames leaves the complete old folder at `dir.old-*`.
 * Usable for any folder that must appear whole (models, checkpoints).
 */
export async function writeFolderAtomic(
  dir: string,
  files: ReadonlyMap<string, Uint8Array | string>,
  options: { replace?: (existingNames: string[]) => boolean } = {},
): Promise<void> {
  const target = resolve(dir);
  const parent = dirname(target);
  for (const name of files.keys()) {
    if (name === '' || /[/\\]/.test(name) || name === '.' || name === '..') throw new Error(`writeFolderAtomic: bad file name ${name}`);
  }
  const existing = await stat(target).catch(() => undefined);
  if (existing !== undefined) {
    if (!existing.isDirectory()) throw new UsageError(`${dir} exists and is not a folder; refusing to replace it`);
    const names = await readdir(target);
    if (names.length > 0 && !(options.replace ?? (() => false))(names)) {
      throw new UsageError(`${dir} exists and holds other files; refusing to replace it (choose another folder)`);
    }
  }
  await mkdir(parent, { recursive: true });
  const tag = `${process.pid}-${randomBytes(4).toString('hex')}`;
  const tmp = `${target}.tmp-${tag}`;
  await mkdir(tmp);
  try {
    for (const [name, data] of files) {
      const fh = await open(join(tmp, name), 'w');
      try {
        await fh.writeFile(data);
        await fh.sync();
      } finally {
        await fh.close();
      }
    }
    await fsyncDir(tmp);
  } catch (err) {
    await rm(tmp, { recursive: true, force: true });
    throw err;
  }
  if (existing !== undefined) {
    const old = `${target}.old-${tag}`;
    await rename(target, old);
    try {
      await rename(tmp, target);
    } catch (err) {
      await rename(old, target).catch(() => undefined);
      await rm(tmp, { recursive: true, force: true });
      throw err;
    }
    await fsyncDir(parent);
    await rm(old, { recursive: true, force: true });
  } else {
    await rename(tmp, target);
    await fsyncDir(parent);
  }
}

/** fsync a directory so that renames and new entries in it survive a power cut (no-op where unsupported). */
async function fsyncDir(path: string): Promise<void> {
  let fh;
  try {
    fh = await open(path, constants.O_RDONLY);
    await fh.sync();
  } catch {
    // Some platforms (Windows) cannot open or fsync directories; the rename is still atomic there.
  } finally {
    await fh?.close();
  }
}
