import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { repoRoot } from './cli.js';

/** The shared real-photo benchmark (read-only), beside the checkout as in CI. */
export const unpairedX4 = path.join(repoRoot, '..', 'shared', 'data', 'unpaired-x4');

if (!existsSync(unpairedX4)) {
  throw new Error(`test data not found at ${unpairedX4}: the shared/ folder must sit beside the repository`);
}
