import { spawn, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../', import.meta.url));
// By its file, so that a child started in another folder (a test's `cwd`) finds it too.
const tsx = new URL('../../node_modules/tsx/dist/loader.mjs', import.meta.url).href;

/** Runs the CLI from source in a child process, as a user would (exit code, stdout, stderr). */
export function runCli(args: string[], options: { cwd?: string; timeoutMs?: number } = {}) {
  const r = spawnSync(process.execPath, ['--import', tsx, `${root}src/cli/main.ts`, ...args], {
    cwd: options.cwd ?? root,
    encoding: 'utf8',
    timeout: options.timeoutMs ?? 600_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** The same, without blocking: independent runs can overlap (the machine has two cores). */
export function runCliAsync(
  args: string[],
  options: { cwd?: string; timeoutMs?: number } = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', tsx, `${root}src/cli/main.ts`, ...args], {
      cwd: options.cwd ?? root,
      timeout: options.timeoutMs ?? 600_000,
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** The CLI's command line (node + tsx + main.ts) for tests that manage the child process themselves. */
export const cliCommand = { node: process.execPath, args: ['--import', tsx, `${root}src/cli/main.ts`] };

export const repoRoot = root;
