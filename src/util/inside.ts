import { promises as fs } from 'node:fs';
import path from 'node:path';

/**
 * `name` resolved in folder `dir` if it stays inside it, else undefined: by its spelling (`..`, an absolute path) and,
 * once symbolic links are resolved, by where it really is (a link in the folder may point anywhere). A path that does
 * not exist is judged by its spelling and the real path of its folder, so the caller reports it as missing. Readers
 * of files named by untrusted data (a model.json's shards, a URL) call this before they open anything.
 */
export async function pathInside(dir: string, name: string): Promise<string | undefined> {
  const base = path.resolve(dir);
  const file = path.resolve(base, name);
  if (!within(base, file)) return undefined;
  const root = await fs.realpath(base).catch(() => base);
  let real = await fs.realpath(file).catch(() => undefined);
  // Missing: what matters is where its folder really is.
  real ??= path.join(await fs.realpath(path.dirname(file)).catch(() => path.dirname(file)), path.basename(file));
  return within(root, real) ? file : undefined;
}

function within(root: string, file: string): boolean {
  const rel = path.relative(root, file);
  return rel === '' || (!rel.startsWith(`..${path.sep}`) && rel !== '..' && !path.isAbsolute(rel));
}
