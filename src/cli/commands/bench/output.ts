import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

/** The output options every `otsr bench` command shares. */
export interface BenchOutputOptions {
  json?: boolean;
  save: boolean;
  out: string;
}

/**
 * Writes a benchmark result to `<out>/<kind>-<date>.json` (unless `--no-save`) and prints it: the JSON with
 * `--json`, else the text report.
 */
export function emitBenchResult<R extends { date: string }>(kind: string, result: R, opts: BenchOutputOptions, format: (r: R) => string): void {
  const json = JSON.stringify(result, null, 2);
  if (opts.save) {
    const dir = resolve(opts.out);
    mkdirSync(dir, { recursive: true });
    const file = join(dir, `${kind}-${result.date.replace(/:/g, '-').replace(/\.\d+Z$/, 'Z')}.json`);
    writeFileSync(file, `${json}\n`);
    process.stderr.write(`wrote ${file}\n`);
  }
  process.stdout.write(opts.json ? `${json}\n` : `${format(result)}\n`);
}
