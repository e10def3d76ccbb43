import type { Command } from 'commander';
import { benchCommand } from './bench/index.js';
import { degradeCommand } from './degrade.js';
import { demoCommand } from './demo.js';
import { evalCommand } from './eval.js';
import { exportCommand } from './export.js';
import { reportCommand, trainCommand } from './train.js';
import { upscaleCommand } from './upscale.js';
import { serveCommand } from './serve.js';

/** Every subcommand lives in its own module; add new ones here. */
export function registerCommands(program: Command): void {
  program.addCommand(demoCommand());
  program.addCommand(trainCommand());
  program.addCommand(reportCommand());
  program.addCommand(upscaleCommand());
  program.addCommand(evalCommand());
  program.addCommand(exportCommand());
  program.addCommand(degradeCommand());
  program.addCommand(benchCommand());
  program.addCommand(serveCommand());
}
