import { promises as fs } from 'node:fs';
import { InputError } from '../errors.js';
import { writeFileAtomic } from '../util/atomic-write.js';
import type { LogRecord } from './run-dir.js';

/** Appends records to a JSONL log, one `appendFile` per record so a crash loses at most the last line. */
export class JsonlLog {
  constructor(readonly file: string) {}

  async append(record: LogRecord): Promise<void> {
    await fs.appendFile(this.file, `${JSON.stringify(record)}\n`);
  }

  /**
   * On resume: drops records written after the checkpoint's step (they would otherwise be repeated)
   * and any torn last line from a kill.
   */
  async truncateAfter(step: number): Promise<void> {
    const records = await readLog(this.file);
    const kept = records.filter((r) => r.step <= step);
    // Atomic: a kill while rewriting must not leave an empty or half-written log behind.
    await writeFileAtomic(this.file, kept.map((r) => `${JSON.stringify(r)}\n`).join(''));
  }
}

/** Reads a JSONL log; a torn (half-written) last line is ignored, other bad lines are an error. */
export async function readLog(file: string): Promise<LogRecord[]> {
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  const lines = text.split('\n');
  const out: LogRecord[] = [];
  lines.forEach((line, i) => {
    if (line.trim() === '') return;
    try {
      out.push(JSON.parse(line) as LogRecord);
    } catch {
      const isLast = lines.slice(i + 1).every((l) => l.trim() === '');
      if (!isLast) throw new InputError(file, `line ${i + 1} is not valid JSON`);
    }
  });
  return out;
}
