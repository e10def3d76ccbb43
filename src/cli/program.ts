import { createRequire } from 'node:module';
import { Command, CommanderError } from 'commander';
import { OtsrError, UsageError } from '../errors.js';
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
  // Added commands do not inherit it: without it, their option errors would exit the process from inside commander.
  const override = (c: Command): void => {
    c.exitOverride();
    c.commands.forEach(override);
  };
  override(program);
  return program;
}

/** Runs the CLI: expected errors become one line on stderr and a non-zero exit code. */
export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv, { from: 'user' });
    return 0;
  } catch (err) {
    // commander has already printed its one-line message (or the help / version text). A bad option is a usage
    // error like any other: one exit code for them all.
    if (err instanceof CommanderError) return err.exitCode === 0 ? 0 : new UsageError(err.message).exitCode;
    if (err instanceof OtsrError) {
      process.stderr.write(`otsr: ${err.message}\n`);
      return err.exitCode;
    }
    throw err;
  }
}
