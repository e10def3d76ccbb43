import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { OTSR_VERSION } from '../src/version.js';
import { repoRoot } from './helpers/cli.js';

test('OTSR_VERSION equals the version in package.json', () => {
  const pkg = JSON.parse(readFileSync(`${repoRoot}package.json`, 'utf8')) as { version: string };
  assert.equal(OTSR_VERSION, pkg.version);
});
