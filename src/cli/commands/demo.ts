import { Command } from 'commander';
import { OtsrError } from '../../errors.js';

export function demoCommand(): Command {
  return new Command('demo')
    .description('Train a small OT super-resolution model on bundled photos and write a before/after report')
    .action(() => {
      throw new OtsrError('the demo is not built yet (see the README and the open issues)');
    });
}
