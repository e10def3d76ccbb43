/** Listing image files in folders: recursive, sorted the same way on every machine. */
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { InputError } from '../errors.js';

/** Extensions of the image files otsr reads (what sharp decodes that photos come in), lower case. */
export const IMAGE_EXTENSIONS: readonly string[] = ['.png', '.jpg', '.jpeg', '.jpe', '.jfif', '.webp', '.tif', '.tiff', '.gif', '.avif'];

export function isImageFile(name: string): boolean {
  return IMAGE_EXTENSIONS.includes(path.extname(name).toLowerCase());
}

export interface ListOptions {
  /** Descend into subfolders (default true). */
  recursive?: boolean;
}

/** Code-unit order, not the locale's: the same list (and so the same seeded order) on every machine. */
function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * The image files in `folder` (by extension), sorted by their path relative to `folder`. Hidden entries
 * (names starting with '.', such as temp files of atomic writes) are skipped; symbolic links are followed.
 * Throws InputError if the folder is missing, is a file or cannot be read. An empty list is not an error here.
 */
export async function listImages(folder: string, options: ListOptions = {}): Promise<string[]> {
  const recursive = options.recursive ?? true;
  let st;
  try {
    st = await fsp.stat(folder);
  } catch (err) {
    throw folderError(folder, err);
  }
  if (!st.isDirectory()) throw new InputError(folder, 'is a file, not a folder');
  const found: string[] = [];
  const seen = new Set<string>();
  async function walk(dir: string): Promise<void> {
    const real = await fsp.realpath(dir).catch(() => dir);
    if (seen.has(real)) return; // a symlink loop
    seen.add(real);
    let entries;
    try {
      entries = await fsp.readdir(dir, { withFileTypes: true });
    } catch (err) {
      throw folderError(dir, err);
    }
    for (const e of entries) {
      if (e.name.startsWith('.')) continue;
      const full = path.join(dir, e.name);
      let isDir = e.isDirectory();
      let isFile = e.isFile();
      if (e.isSymbolicLink()) {
        const target = await fsp.stat(full).catch(() => undefined);
        isDir = target?.isDirectory() ?? false;
        isFile = target?.isFile() ?? false;
      }
      if (isDir && recursive) await walk(full);
      else if (isFile && isImageFile(e.name)) found.push(full);
    }
  }
  await walk(folder);
  // One order on every OS: relative paths with '/' separators, compared by code unit.
  const relOf = (p: string) => path.relative(folder, p).split(path.sep).join('/');
  return found.sort((a, b) => compare(relOf(a), relOf(b)));
}

/** Lists several folders, in the order given (each sorted); a file reached twice (even via links) is listed once. */
export async function listImageFolders(folders: readonly string[], options: ListOptions = {}): Promise<string[]> {
  const out: string[] = [];
  const seen = new Set<string>();
  for (const folder of folders) {
    for (const file of await listImages(folder, options)) {
      const key = await fsp.realpath(file).catch(() => path.resolve(file));
      if (!seen.has(key)) {
        seen.add(key);
        out.push(file);
      }
    }
  }
  return out;
}

function folderError(folder: string, err: unknown): InputError {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  const problem =
    code === 'ENOENT'
      ? 'folder not found'
      : code === 'ENOTDIR'
        ? 'is a file, not a folder'
        : code === 'EACCES' || code === 'EPERM'
          ? 'cannot read the folder (permission denied)'
          : `cannot read the folder (${code ?? String(err)})`;
  return new InputError(folder, problem, { cause: err });
}
