import { promises as fs } from 'node:fs';
import { UsageError } from '../errors.js';

/**
 * Which existing file a path names, as device and inode: two spellings of one file (`./a.png`, a symlink, another
 * letter case on a case-insensitive file system, a hard link) get the same id. Undefined when nothing is there.
 */
async function fileId(file: string): Promise<string | undefined> {
  const s = await fs.stat(file, { bigint: true }).catch(() => undefined);
  return s ? `${s.dev}:${s.ino}` : undefined;
}

/**
 * Refuses (UsageError, before anything is written) any output that is one of the inputs: writing it would replace a
 * file that was read, or is still to be read. Shared by the commands that write images from images.
 */
export async function refuseOverwritingInputs(jobs: readonly { input: string; output: string }[], inputs: readonly string[]): Promise<void> {
  const ids = new Map<string, string>();
  for (const input of inputs) {
    const id = await fileId(input);
    if (id !== undefined) ids.set(id, input);
  }
  for (const { output } of jobs) {
    const id = await fileId(output);
    const input = id === undefined ? undefined : ids.get(id);
    if (input !== undefined) {
      throw new UsageError(`${output}: the output would overwrite the input ${input}; choose another output (nothing was written)`);
    }
  }
}

/** Whether `a` and `b` are the same existing file or folder (see {@link refuseOverwritingInputs}). */
export async function sameFile(a: string, b: string): Promise<boolean> {
  const id = await fileId(a);
  return id !== undefined && id === (await fileId(b));
}
