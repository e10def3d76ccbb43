import { Command } from 'commander';
import { benchOtCommand } from './bench-ot.js';

/** `otsr bench <name>`: slow, seeded measurements whose results go to bench/results/. */
export function benchCommand(): Command {
  return new Command('bench').description('Run a benchmark (results go to bench/results/)').addCommand(benchOtCommand());
}
