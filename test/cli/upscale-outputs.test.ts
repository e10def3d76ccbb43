import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, readdirSync } from 'node:fs';
import * as path from 'node:path';
import { after, test } from 'node:test';
import { readImageInfo } from '../../src/image/io.js';
import { runCliAsync } from '../helpers/cli.js';
import { tempDir, writeJpeg, writePng } from '../helpers/images.js';
import { STACK_TRACE } from '../helpers/odd-files.js';

// `otsr upscale` never replaces a file it reads, and refuses every mistake in the options or the output before it
// loads a model or decodes an image (the model here does not exist: a check that came after loading it would say so).

const tmp = tempDir('otsr-upscale-outputs-');
after(tmp.cleanup);
const at = (...p: string[]) => path.join(tmp.dir, ...p);
const bicubic = ['--model', 'bicubic', '--scale', '2', '--tile', '16', '--overlap', '4'];
const noModel = ['--model', at('no such model')];

/** Refused as a usage error (exit 2) with one line matching `problem`. */
function assertUsage(r: { code: number | null; stdout: string; stderr: string }, problem: RegExp): void {
  assert.equal(r.code, 2, r.stderr);
  assert.doesNotMatch(r.stderr, STACK_TRACE);
  assert.equal(r.stderr.split('\n').filter(Boolean).length, 1, r.stderr);
  assert.match(r.stderr, problem);
}

test('an output that is its input, however spelled, is refused and the input kept', async () => {
  const dir = at('same');
  mkdirSync(dir);
  const a = await writePng(path.join(dir, 'a.png'), 20, 20, 1);
  const before = readFileSync(a);
  for (const out of ['a.png', './a.png', path.join(dir, 'a.png'), `${dir}/../same/a.png`]) {
    const r = await runCliAsync(['upscale', 'a.png', '-o', out, ...bicubic], { cwd: dir });
    assertUsage(r, /the output would overwrite the input/);
  }
  // The folder upscaled into itself: a.png would be written over a.png.
  assertUsage(await runCliAsync(['upscale', dir, '-o', dir, ...bicubic]), /would overwrite the input/);
  assertUsage(await runCliAsync(['upscale', '.', '-o', '.', ...bicubic], { cwd: dir }), /would overwrite the input/);
  assert.deepEqual(readFileSync(a), before);
  assert.deepEqual(readdirSync(dir), ['a.png']);
});

test('a.jpg + a.png: into their own folder refused before anything is written; elsewhere both kept apart', async () => {
  const dir = at('pair');
  mkdirSync(dir);
  await writeJpeg(path.join(dir, 'a.jpg'), 20, 20, 2);
  const png = await writePng(path.join(dir, 'a.png'), 24, 24, 3);
  const before = readFileSync(png);
  assertUsage(await runCliAsync(['upscale', dir, '-o', dir, ...bicubic]), /a\.png: the output would overwrite the input .*a\.png/);
  assert.deepEqual(readFileSync(png), before);
  assert.deepEqual(readdirSync(dir).sort(), ['a.jpg', 'a.png']);

  const out = at('pair-out');
  const r = await runCliAsync(['upscale', dir, '-o', out, ...bicubic]);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(readdirSync(out).sort(), ['a-2.png', 'a.png']);
  // Each input upscaled once: the 20x20 JPEG and the 24x24 PNG.
  assert.deepEqual([(await readImageInfo(path.join(out, 'a.png'))).width, (await readImageInfo(path.join(out, 'a-2.png'))).width], [40, 48]);
});

test('several inputs with a file name as output are refused: no folder named result.png', async () => {
  const a = await writePng(at('m1.png'), 8, 8);
  const b = await writePng(at('m2.png'), 8, 8);
  assertUsage(await runCliAsync(['upscale', a, b, '-o', at('result.png'), ...noModel]), /result\.png: looks like a file name, but several inputs need an output folder/);
  assert.equal(existsSync(at('result.png')), false);
});

test('bad output formats and tile options are refused before the model is loaded', async () => {
  const a = await writePng(at('opt.png'), 8, 8);
  for (const out of ['x.bmp', 'x']) {
    assertUsage(await runCliAsync(['upscale', a, '-o', at(out), ...noModel]), /cannot tell the output format from the extension/);
  }
  assertUsage(await runCliAsync(['upscale', a, '-o', at('o.png'), ...noModel, '--tile', '32', '--overlap', '40']), /overlap \(40\) must be smaller than tile \(32\)/);
  // commander's own refusals share the exit code of every other usage error.
  assertUsage(await runCliAsync(['upscale', a, '-o', at('o.png'), ...noModel, '--tile', 'big']), /--tile must be an integer/);
  assert.equal(existsSync(at('o.png')), false);
});
