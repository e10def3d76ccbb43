import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { OtsrError } from '../errors.js';

/**
 * Writes `data` to `file` so that readers (and a crash at any moment) only ever see the old file or the
 * whole new one: write a temp file in the same folder, fsync it, rename it over, fsync the folder.
 * Failures are an OtsrError naming the file and the problem (folder missing, not writable, disk full).
 */
export async function writeFileAtomic(file: string, data: Uint8Array | string): Promise<void> {
  const dir = path.dirname(file);
  const tmp = path.join(dir, `.${path.basename(file)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  let handle: fs.FileHandle | undefined;
  try {
    handle = await fs.open(tmp, 'wx');
    await handle.writeFile(data);
    await handle.sync();
    await handle.close();
    handle = undefined;
    await fs.rename(tmp, file);
  } catch (err) {
    if (handle) await handle.close().catch(() => undefined);
    await fs.rm(tmp, { force: true }).catch(() => undefined);
    throw writeError(file, err);
  }
  await fsyncDir(dir);
}

/** Turns a failed write into one line naming the file and what is wrong. */
export function writeError(file: string, err: unknown): OtsrError {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  const problem =
    code === 'ENOENT'
      ? 'the output folder does not exist'
      : code === 'EACCES' || code === 'EPERM' || code === 'EROFS'
        ? 'the output folder is not writable (permission denied)'
        : code === 'ENOSPC'
          ? 'no space left on the device'
          : code === 'EISDIR'
            ? 'is a folder'
            : `cannot write (${code ?? (err instanceof Error ? err.message : String(err))})`;
  return new OtsrError(`${file}: ${problem}`, { cause: err });
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
