import { randomBytes } from 'node:crypto';
import { constants as fsConstants, promises as fs } from 'node:fs';
import path from 'node:path';
import { OtsrError, UsageError } from '../errors.js';

/**
 * Writes `data` to `file` so that readers (and a crash at any moment) only ever see the old file or the
 * whole new one: write a temp file in the same folder, fsync it, rename it over, fsync the folder.
 * Failures are an OtsrError naming the file and the problem (folder missing, not writable, disk full).
 */
export async function writeFileAtomic(file: string, data: Uint8Array | string): Promise<void> {
  await writeStreamAtomic(file, (write) => write(typeof data === 'string' ? Buffer.from(data) : data));
}

/**
 * {@link writeFileAtomic} for a file made piece by piece: `produce` hands its bytes, in order, to `write`. The file
 * appears whole when `produce` is done, or not at all: if it throws, the temp file is removed and its error rethrown
 * as it is (only the file system's own errors become an OtsrError naming the file).
 */
export async function writeStreamAtomic(file: string, produce: (write: (bytes: Uint8Array) => Promise<void>) => Promise<void>): Promise<void> {
  const dir = path.dirname(file);
  const tmp = path.join(dir, `.${path.basename(file)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  let handle: fs.FileHandle | undefined;
  const fsStep = <T>(p: Promise<T>) => p.catch((err: unknown) => Promise.reject(writeError(file, err)));
  try {
    handle = await fsStep(fs.open(tmp, 'wx'));
    const h = handle;
    await produce(async (bytes) => {
      await fsStep(h.write(bytes));
    });
    await fsStep(handle.sync());
    await fsStep(handle.close());
    handle = undefined;
    await fsStep(fs.rename(tmp, file));
  } catch (err) {
    if (handle) await handle.close().catch(() => undefined);
    await fs.rm(tmp, { force: true }).catch(() => undefined);
    throw err;
  }
  await fsyncDir(dir);
}

/** Turns a failed write into one line naming the file and what is wrong. */
export function writeError(file: string, err: unknown): OtsrError {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  const problem =
    code === 'ENOENT'
      ? 'the output folder does not exist'
      : code === 'EROFS'
        ? 'the output folder is on a read-only file system'
        : code === 'EACCES' || code === 'EPERM'
        ? 'the output folder is not writable (permission denied)'
        : code === 'ENOSPC'
          ? 'no space left on the device'
          : code === 'EISDIR'
            ? 'is a folder'
            : code === 'ENOTDIR'
              ? 'a part of the output path is a file, not a folder'
              : `cannot write (${code ?? (err instanceof Error ? err.message : String(err))})`;
  return new OtsrError(`${file}: ${problem}`, { cause: err });
}

/** `dir` itself, or its closest ancestor that exists: where `mkdir -p dir` will create the first folder. */
export async function nearestExisting(dir: string): Promise<string> {
  let d = path.resolve(dir);
  while (!(await fs.stat(d).catch(() => undefined)) && path.dirname(d) !== d) d = path.dirname(d);
  return d;
}

/**
 * The folder that will receive `output` exists, is a folder and is writable (not read-only, not another user's);
 * else one line naming `output`. Commands call it before any work, so that the failure is not found at the end.
 */
export async function checkWritableFolder(dir: string, output: string): Promise<void> {
  const s = await fs.stat(dir).catch((err: unknown) => err as NodeJS.ErrnoException);
  if (s instanceof Error) throw writeError(output, s);
  if (!s.isDirectory()) throw writeError(output, Object.assign(new Error('not a folder'), { code: 'ENOTDIR' }));
  await fs.access(dir, fsConstants.W_OK).catch((err: unknown) => {
    throw writeError(output, err);
  });
}

async function fsyncDir(dir: string): Promise<void> {
  // Makes the rename itself durable; some platforms cannot fsync a folder, where skipping is harmless.
  let handle: fs.FileHandle | undefined;
  try {
    handle = await fs.open(dir, 'r');
    await handle.sync();
  } catch {
    /* not supported here */
  } finally {
    await handle?.close();
  }
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
  const target = path.resolve(dir);
  const parent = path.dirname(target);
  for (const name of files.keys()) {
    if (name === '' || /[/\\]/.test(name) || name === '.' || name === '..') throw new Error(`writeFolderAtomic: bad file name ${name}`);
  }
  const existing = await fs.stat(target).catch(() => undefined);
  if (existing !== undefined) {
    if (!existing.isDirectory()) throw new UsageError(`${dir} exists and is not a folder; refusing to replace it`);
    const names = await fs.readdir(target);
    if (names.length > 0 && !(options.replace ?? (() => false))(names)) {
      throw new UsageError(`${dir} exists and holds other files; refusing to replace it (choose another folder)`);
    }
  }
  await fs.mkdir(parent, { recursive: true });
  const tag = `${process.pid}-${randomBytes(4).toString('hex')}`;
  const tmp = `${target}.tmp-${tag}`;
  await fs.mkdir(tmp);
  try {
    for (const [name, data] of files) {
      const fh = await fs.open(path.join(tmp, name), 'w');
      try {
        await fh.writeFile(data);
        await fh.sync();
      } finally {
        await fh.close();
      }
    }
    await fsyncDir(tmp);
  } catch (err) {
    await fs.rm(tmp, { recursive: true, force: true });
    throw err;
  }
  if (existing !== undefined) {
    const old = `${target}.old-${tag}`;
    await fs.rename(target, old);
    try {
      await fs.rename(tmp, target);
    } catch (err) {
      await fs.rename(old, target).catch(() => undefined);
      await fs.rm(tmp, { recursive: true, force: true });
      throw err;
    }
    await fsyncDir(parent);
    await fs.rm(old, { recursive: true, force: true });
  } else {
    await fs.rename(tmp, target);
    await fsyncDir(parent);
  }
}

const TEMP_FILE = /^\.(.+)\.(\d+)\.[0-9a-f]{8}\.tmp$/;
const TEMP_FOLDER = /^(.+)\.(tmp|old)-(\d+)-[0-9a-f]{8}$/;

/** Whether process `pid` is running (signal 0 probes without sending anything). */
function alive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Cleans up after writers of this module that were killed (kill -9, power loss) in `dir`: their temp files
 * and temp folders are removed, and a folder left renamed aside (`NAME.old-*`) between the two renames of
 * {@link writeFolderAtomic} is put back when NAME is missing, else removed. Entries of live processes are
 * left alone. Returns the names it removed or restored.
 */
export async function removeStaleTemps(dir: string): Promise<string[]> {
  const names = await fs.readdir(dir).catch(() => [] as string[]);
  const done: string[] = [];
  for (const name of names) {
    const file = TEMP_FILE.exec(name);
    const folder = TEMP_FOLDER.exec(name);
    const pid = Number(file?.[2] ?? folder?.[3]);
    if ((!file && !folder) || alive(pid)) continue;
    const full = path.join(dir, name);
    if (folder?.[2] === 'old') {
      const target = path.join(dir, folder[1]!);
      if (!(await fs.stat(target).catch(() => undefined))) {
        await fs.rename(full, target).catch(() => undefined);
        done.push(name);
        continue;
      }
    }
    await fs.rm(full, { recursive: true, force: true }).catch(() => undefined);
    done.push(name);
  }
  return done;
}
