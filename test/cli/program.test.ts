import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runCli } from '../helpers/cli.js';

test('otsr --help lists the commands', () => {
  const r = runCli(['--help']);
  assert.equal(r.code, 0);
  assert.match(r.stdout, /Usage: otsr/);
  assert.match(r.stdout, /demo/);
});

test('an unknown command is a one-line error with a non-zero exit code, no stack trace', () => {
  const r = runCli(['no-such-command']);
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /unknown command 'no-such-command'/);
  assert.doesNotMatch(r.stderr, /\n\s+at /);
});
