import { Command } from 'commander';
import { benchEngineCommand } from './engine.js';
import { benchOtCommand } from './ot.js';
import { benchTrainCommand } from './train.js';
import { benchUpscaleCommand } from './upscale.js';

/**
 * `otsr bench <what>`: measurements whose results go to bench/results/ and bench/RESULTS.md.
 * Each subcommand lives in its own module in this folder; add new ones to this list.
 */
const SUBCOMMANDS: (() => Command)[] = [benchEngineCommand, benchOtCommand, benchTrainCommand, benchUpscaleCommand];

export function benchCommand(): Command {
  const bench = new Command('bench').description('Run a benchmark and record its results (see bench/RESULTS.md)');
  for (const make of SUBCOMMANDS) bench.addCommand(make());
  return bench;
}
