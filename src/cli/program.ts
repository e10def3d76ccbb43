import { createRequire } from 'node:module';
import { Command, CommanderError } from 'commander';
import { OtsrError } from '../errors.js';
import { registerCommands } from './commands/index.js';

const pkg = createRequire(import.meta.url)('../../package.json') as { version: string };

/** Builds the `otsr` program; exported so tests can drive it without spawning a process. */
export function buildProgram(): Command {
  const program = new Command('otsr')
    .description('Unpaired image super-resolution with neural optimal transport (TF.js, Node and browser).')
    .version(pkg.version)
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();
  registerCommands(program);
  return program;
}

/** Runs the CLI: expected errors become one line on stderr and a non-zero exit code. */
export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv, { from: 'user' });
    return 0;
  } catch (err) {
    // commander has already printed its one-line message (or the help / version text).
    if (err instanceof CommanderError) return err.exitCode;
    if (err instanceof OtsrError) {
      process.stderr.write(`otsr: ${err.message}\n`);
      return err.exitCode;
    }
    throw err;
  }
}
