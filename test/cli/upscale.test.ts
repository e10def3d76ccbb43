import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import sharp from 'sharp';
import { initBackend } from '../../src/engine/backend.js';
import { Edsr } from '../../src/nn/edsr.js';
import { saveModel } from '../../src/nn/serialize-node.js';
import { upsampleBicubic } from '../../src/image/resize-tensor.js';
import { runCliAsync } from '../helpers/cli.js';
import { tempDir, writePng } from '../helpers/images.js';
import { STACK_TRACE, type BadFile, type OddFile, writeBadFiles, writeOddFiles } from '../helpers/odd-files.js';

// What a user of `otsr upscale` sees for bad inputs, odd images, broken model folders and outputs that
// cannot be written: one line naming the file and the problem, a non-zero exit, no stack trace, and no
// output file for anything that failed.

const tmp = tempDir('otsr-upscale-cli-');
after(tmp.cleanup);
const at = (...p: string[]) => path.join(tmp.dir, ...p);
// Spaces and non-ASCII characters in every path the CLI is given.
const inputs = at('photos à traiter');
const model = at('modèle x2');
let bad: BadFile[];
let odd: OddFile[];

before(async () => {
  mkdirSync(inputs);
  bad = await writeBadFiles(inputs);
  odd = await writeOddFiles(inputs);
  await initBackend('cpu');
  const edsr = new Edsr({ nResBlocks: 1, nFeats: 4, scale: 2, skip: 'upsample', upsampler: upsampleBicubic, seed: 1 });
  await saveModel(model, edsr, { scale: 2 });
  edsr.dispose();
});

// The default backend (wasm), as a user runs it.
const common = ['--tile', '16', '--overlap', '4'];

/** The run failed with exactly one line on stderr, starting `otsr: <file>: ` and matching `problem`. */
function assertOneLineError(r: { code: number | null; stdout: string; stderr: string }, file: string, problem: RegExp): void {
  assert.equal(r.code, 1, r.stderr);
  assert.doesNotMatch(r.stderr, STACK_TRACE);
  const lines = r.stderr.split('\n').filter((l) => l.startsWith('otsr: '));
  assert.equal(lines.length, 1, r.stderr);
  assert.ok(lines[0]!.startsWith(`otsr: ${file}: `), `${lines[0]} should name ${file}`);
  assert.match(lines[0]!, problem);
}

test('a folder of odd and broken images: each good one upscaled right, each broken one skipped with one line', async () => {
  const out = at('résultats x2 — 写真');
  const r = await runCliAsync(['upscale', inputs, '-o', out, '--model', model, ...common]);
  assert.equal(r.code, 1, `some inputs were skipped: the exit code says so\n${r.stderr}`);
  assert.doesNotMatch(r.stderr, STACK_TRACE);
  assert.match(r.stdout, new RegExp(`^${odd.length} image\\(s\\) upscaled x2, ${bad.length} skipped -> `));
  for (const b of bad) {
    const lines = r.stderr.split('\n').filter((l) => l.includes(path.join(inputs, b.name)) && l.startsWith('warning: '));
    assert.equal(lines.length, 1, `${b.name}: ${r.stderr}`);
    assert.match(lines[0]!, new RegExp(`^warning: skipped ${escape(path.join(inputs, b.name))}: `));
    assert.match(lines[0]!, b.problem);
  }
  // Outputs for the good images only, with the right size and channels; no temp or partial files.
  const expected = odd.map((o) => `${path.parse(o.name).name}.png`).sort();
  assert.deepEqual(readdirSync(out).sort(), expected);
  for (const o of odd) {
    const meta = await sharp(path.join(out, `${path.parse(o.name).name}.png`)).metadata();
    // Grey stays grey.
    assert.deepEqual([meta.width, meta.height, meta.channels], [2 * o.width, 2 * o.height, (o.name === 'grey.png' ? 1 : 3) + (o.alpha ? 1 : 0)], o.name);
  }
});

test('a single broken input is an error: one line naming it, no output written', async () => {
  const out = at('single');
  mkdirSync(out);
  const cases = bad.filter((b) => ['truncated.jpg', 'bomb.png', 'zero.png'].includes(b.name));
  const runs = await Promise.all(
    cases.map((b) => runCliAsync(['upscale', path.join(inputs, b.name), '-o', path.join(out, `${b.name}.png`), '--model', model, ...common])),
  );
  runs.forEach((r, k) => assertOneLineError(r, path.join(inputs, cases[k]!.name), cases[k]!.problem));
  // The pixel limit is the user's to set: a lower one refuses an ordinary image, by name.
  const photo = path.join(inputs, 'grey.png');
  const r = await runCliAsync(['upscale', photo, '-o', path.join(out, 'grey.png'), '--model', 'bicubic', '--scale', '2', '--max-pixels', '1000', ...common]);
  assertOneLineError(r, photo, /40x32 \(0\.0013 MP\), above the limit of 0\.0010 MP/);
  assert.deepEqual(readdirSync(out), []);
});

test('a model folder with a file missing or from another format version: one line naming the file', async () => {
  const photo = path.join(inputs, 'grey.png');
  const variants: { name: string; damage: (dir: string) => void; file: string; problem: RegExp }[] = [
    { name: 'no json', damage: (d) => unlinkSync(path.join(d, 'model.json')), file: 'model.json', problem: /missing: not an otsr model/ },
    { name: 'no shard', damage: (d) => unlinkSync(path.join(d, 'group1-shard1of1.bin')), file: 'group1-shard1of1.bin', problem: /missing weight shard/ },
    {
      name: 'version 2',
      damage: (d) => {
        const json = JSON.parse(readFileSync(path.join(d, 'model.json'), 'utf8'));
        json.formatVersion = 2;
        writeFileSync(path.join(d, 'model.json'), JSON.stringify(json));
      },
      file: 'model.json',
      problem: /formatVersion 2, newer than this otsr .* upgrade otsr/,
    },
  ];
  const runs = await Promise.all(
    variants.map(async (v) => {
      const dir = at(`modèle ${v.name}`);
      mkdirSync(dir);
      for (const f of readdirSync(model)) writeFileSync(path.join(dir, f), readFileSync(path.join(model, f)));
      v.damage(dir);
      return runCliAsync(['upscale', photo, '-o', at(`out ${v.name}`, 'x.png'), '--model', dir, ...common]);
    }),
  );
  runs.forEach((r, k) => assertOneLineError(r, at(`modèle ${variants[k]!.name}`, variants[k]!.file), variants[k]!.problem));
  // The model is loaded before anything is written: not even the output folder was created.
  for (const v of variants) assert.throws(() => readdirSync(at(`out ${v.name}`)), /ENOENT/);
});

test('an output that cannot be written (a path under a regular file, even as root): one line, before any work', async () => {
  const file = at('not a folder.txt');
  writeFileSync(file, 'just a file\n');
  const photo = path.join(inputs, 'grey.png');
  const [intoFolder, single] = await Promise.all([
    runCliAsync(['upscale', photo, path.join(inputs, 'palette.png'), '-o', path.join(file, 'out'), '--model', model, ...common]),
    runCliAsync(['upscale', photo, '-o', path.join(file, 'out.png'), '--model', model, ...common]),
  ]);
  assertOneLineError(intoFolder, path.join(file, 'out'), /a part of the output path is a file, not a folder/);
  assertOneLineError(single, path.join(file, 'out.png'), /a part of the output path is a file, not a folder/);
  // Refused before decoding or upscaling anything.
  for (const r of [intoFolder, single]) assert.doesNotMatch(r.stderr, /\[1\/\d+\]/);
  assert.equal(readFileSync(file, 'utf8'), 'just a file\n');
});

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

test('--workers 1 and --workers 3 write the same bytes for every odd image (alpha, grey, 1x1, several tiles)', async () => {
  const outs = [at('workers 1'), at('workers 3')];
  const runs = await Promise.all(outs.map((out, k) => runCliAsync(['upscale', inputs, '-o', out, '--model', model, ...common, '--workers', k ? '3' : '1'])));
  for (const r of runs) assert.match(r.stdout, new RegExp(`^${odd.length} image\\(s\\) upscaled x2`), r.stderr);
  const files = readdirSync(outs[0]!).sort();
  assert.equal(files.length, odd.length);
  assert.deepEqual(readdirSync(outs[1]!).sort(), files);
  for (const f of files) assert.ok(readFileSync(path.join(outs[0]!, f)).equals(readFileSync(path.join(outs[1]!, f))), `${f} differs`);
  const zero = await runCliAsync(['upscale', inputs, '-o', at('workers 0'), '--model', model, '--workers', '0']);
  assert.equal(zero.code, 2, 'a usage error');
  assert.match(zero.stderr, /--workers must be an integer/);
  assert.doesNotMatch(zero.stderr, STACK_TRACE);
});
