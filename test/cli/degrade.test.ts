import assert from 'node:assert/strict';
import { mkdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { after, test } from 'node:test';
import { readImageInfo } from '../../src/image/io.js';
import { runCli } from '../helpers/cli.js';
import { unpairedX4 } from '../helpers/data.js';
import { tempDir, writeBytes, writePng } from '../helpers/images.js';

const tmp = tempDir();
after(tmp.cleanup);

test('otsr degrade: the README degradation on real photos, reproducible with --seed', async () => {
  const out = path.join(tmp.dir, 'lr');
  const args = ['--scale', '4', '--blur', '1.2', '--noise', '8', '--jpeg', '60', '--seed', '1'];
  const r = runCli(['degrade', path.join(unpairedX4, 'val', 'hr'), out, ...args]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /degraded 6 images -> /);
  // Not a terminal: a plain progress line (at least the final one), no bar.
  assert.match(r.stderr, /^degrade 6\/6 \| [\d.]+ images\/s/m);
  // Same sizes as the data set's own LR images, made with the same recipe.
  for (const name of ['eagle', 'fruits']) {
    const mine = await readImageInfo(path.join(out, `${name}.jpg`));
    const theirs = await readImageInfo(path.join(unpairedX4, 'val', 'lr', `${name}.jpg`));
    assert.deepEqual([mine.format, mine.width, mine.height], ['jpeg', theirs.width, theirs.height]);
  }
  const again = path.join(tmp.dir, 'lr-again');
  assert.equal(runCli(['degrade', path.join(unpairedX4, 'val', 'hr', 'eagle.png'), path.join(again + '.jpg'), ...args]).code, 0);
  assert.deepEqual(readFileSync(again + '.jpg'), readFileSync(path.join(out, 'eagle.jpg')), 'same seed and name, same bytes');
});

test('otsr degrade: bad input gives one line naming the file, never a stack trace', async () => {
  const missing = path.join(tmp.dir, 'missing');
  let r = runCli(['degrade', missing, path.join(tmp.dir, 'o'), '--scale', '4']);
  assert.equal(r.code, 1);
  assert.equal(r.stderr, `otsr: ${missing}: no such file or folder\n`);

  r = runCli(['degrade', missing, path.join(tmp.dir, 'o'), '--scale', '2.5']);
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /--scale must be an integer/);
  r = runCli(['degrade', missing, path.join(tmp.dir, 'o')]);
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /required option '-s, --scale <n>' not specified/);

  const input = path.join(tmp.dir, 'mixed');
  mkdirSync(input);
  await writePng(path.join(input, 'good.png'), 32, 32);
  const bad = writeBytes(path.join(input, 'bad.png'), 'hello');
  r = runCli(['degrade', input, path.join(tmp.dir, 'mixed-out'), '--scale', '2', '--quiet']);
  assert.equal(r.code, 1);
  assert.equal(
    r.stderr,
    `otsr: warning: skipping ${bad}: not an image (or a format sharp cannot read)\notsr: 1 of 2 images could not be degraded (see the warnings above)\n`,
  );
  assert.deepEqual((await readImageInfo(path.join(tmp.dir, 'mixed-out', 'good.png'))).width, 16);
  for (const x of [r.stderr]) assert.doesNotMatch(x, /\n\s+at /);
});
