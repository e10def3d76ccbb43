import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import sharp from 'sharp';
import { initBackend } from '../../src/engine/backend.js';
import { loadCheckpoint } from '../../src/train/checkpoint.js';
import { repoRoot, runCliAsync } from '../helpers/cli.js';
import { tempDir, writePng } from '../helpers/images.js';
import { STACK_TRACE, type BadFile, writeBadFiles, writeOddFiles } from '../helpers/odd-files.js';

// What a user of `otsr train` sees for folders holding bad files, folders with nothing usable, a run
// folder that cannot be written, a damaged run and a diverging run: one line naming the file and the
// problem, a non-zero exit, no stack trace. Tiny networks on tiny crops, the default (wasm) backend.

const tmp = tempDir('otsr-train-cli-');
after(tmp.cleanup);
const at = (...p: string[]) => path.join(tmp.dir, ...p);
// Spaces and non-ASCII characters in every path.
const lr = at('basse résolution');
const hr = at('haute résolution 写真');
let bad: BadFile[];

before(async () => {
  mkdirSync(lr);
  mkdirSync(hr);
  // Both folders: the odd-but-valid images (40x32 and one 1x1, too small for any crop) and the broken ones.
  await writeOddFiles(lr);
  await writeOddFiles(hr);
  bad = await writeBadFiles(lr);
  await writeBadFiles(hr);
});

// No pretraining: these runs are about the solver's path through odd folders (pretraining has its own case below).
const tiny = ['--scale', '4', '--crop', '16', '--batch', '2', '--arch', 'tiny', '--potential', 'tiny', '--k-map', '1', '--sample-every', '100', '--seed', '5', '--pretrain-steps', '0'];

function assertOneLineError(r: { code: number | null; stderr: string }, start: string, problem: RegExp): string {
  assert.equal(r.code, 1, r.stderr);
  assert.doesNotMatch(r.stderr, STACK_TRACE);
  const lines = r.stderr.split('\n').filter((l) => l.startsWith('otsr: '));
  assert.equal(lines.length, 1, r.stderr);
  assert.ok(lines[0]!.startsWith(`otsr: ${start}`), `${lines[0]} should start with ${start}`);
  assert.match(lines[0]!, problem);
  return lines[0]!;
}

test('bad files in the training folders are skipped with one warning each; non-ASCII paths end to end', async () => {
  const run = at('run ü 1');
  const r = await runCliAsync(['train', '--lr', lr, '--hr', hr, '--out', run, '--steps', '2', ...tiny]);
  assert.equal(r.code, 0, r.stderr);
  assert.doesNotMatch(r.stderr, STACK_TRACE);
  assert.match(r.stdout, /^trained 2 steps in /);
  for (const folder of [lr, hr]) {
    for (const b of bad) {
      const file = path.join(folder, b.name);
      const lines = r.stderr.split('\n').filter((l) => l.startsWith(`skipping ${file}: `));
      // Broken headers are found when the folder is opened; damaged data when a crop is first cut from it
      // (so a file never drawn may go unmentioned, but never twice for one folder).
      if (!b.headerOk) assert.equal(lines.length, 1, `${file}\n${r.stderr}`);
      else assert.ok(lines.length <= 1, r.stderr);
      for (const l of lines) assert.match(l, b.problem);
    }
  }
  const dot = r.stderr.split('\n').filter((l) => l.includes(`${path.join(hr, 'dot.png')}: 1x1 is smaller than the 16x16 crop`));
  assert.equal(dot.length, 1, r.stderr);

  // The exported model upscales a file with a non-ASCII name into a folder with spaces.
  const out = at('sorties é', 'x4 写真.png');
  mkdirSync(path.dirname(out));
  const up = await runCliAsync(['upscale', path.join(lr, 'été photo — 写真 1.png'), '-o', out, '--model', path.join(run, 'model')]);
  assert.equal(up.code, 0, up.stderr);
  const meta = await sharp(out).metadata();
  assert.deepEqual([meta.width, meta.height], [160, 128]);
  assert.deepEqual(readdirSync(path.dirname(out)), ['x4 写真.png']);

  // A run whose config.json was lost cannot be resumed: one line naming the file.
  writeFileSync(path.join(run, 'config.json'), '{"lr": [');
  const resumed = await runCliAsync(['train', '--lr', lr, '--hr', hr, '--out', run, '--steps', '3', '--resume', ...tiny]);
  assertOneLineError(resumed, path.join(run, 'config.json'), /is not a valid run config/);
});

test('folders with nothing usable, or a run folder that cannot be written: a clear error before training', async () => {
  const allBad = at('tout cassé');
  const damagedOnly = at('données abîmées');
  const empty = at('vide');
  const notAFolder = at('fichier.txt');
  for (const d of [allBad, damagedOnly, empty]) mkdirSync(d);
  // Broken headers and an image too small for the crop: nothing usable, found from the headers alone.
  for (const b of await writeBadFiles(allBad)) if (b.headerOk) unlinkSync(path.join(allBad, b.name));
  await writePng(path.join(allBad, 'dot.png'), 1, 1);
  // Headers that read fine over damaged data: found only by decoding, still before the first step.
  for (const b of await writeBadFiles(damagedOnly)) if (!b.headerOk) unlinkSync(path.join(damagedOnly, b.name));
  writeFileSync(notAFolder, 'a file\n');
  const cases = [
    { hr: allBad, out: at('run bad'), start: `${allBad}: `, problem: /none of the 4 image files is usable \(3 unreadable, 1 smaller than the 16x16 crop\)/ },
    { hr: damagedOnly, out: at('run damaged'), start: `${damagedOnly}: `, problem: /none of the 2 images could be decoded/ },
    { hr: empty, out: at('run empty'), start: `${empty}: `, problem: /no image files in the folder/ },
    { hr: hr, out: path.join(notAFolder, 'run'), start: `${path.join(notAFolder, 'run')}: `, problem: /cannot create the run folder \(ENOTDIR\)/ },
    // The pixel limit is the user's: set below these 40x32 images, it leaves nothing to train on.
    { hr: hr, out: at('run limit'), start: `${lr}: `, problem: /none of the \d+ image files is usable/, extra: ['--max-pixels', '1000'] },
  ];
  const runs = await Promise.all(
    cases.map((c) => runCliAsync(['train', '--lr', lr, '--hr', c.hr, '--out', c.out, '--steps', '2', ...tiny, ...(c.extra ?? [])])),
  );
  assert.match(runs[4]!.stderr, new RegExp(`skipping ${escape(path.join(lr, 'grey.png'))}: image is 40x32 \\(0\\.0013 MP\\), above the limit of 0\\.0010 MP`));
  runs.forEach((r, k) => {
    assertOneLineError(r, cases[k]!.start, cases[k]!.problem);
    // Before training: no step was taken, no checkpoint written.
    assert.doesNotMatch(r.stderr, /train \d+\/2/);
    assert.ok(!existsSync(path.join(cases[k]!.out, 'checkpoint.otsr')), cases[k]!.out);
  });
});

test('a diverging run stops with one line and keeps its last good checkpoint', async () => {
  await initBackend('wasm');
  const run = at('run nan');
  const r = await runCliAsync(['train', '--lr', lr, '--hr', hr, '--out', run, '--steps', '20', '--learning-rate', '1e12', '--checkpoint-every', '1', ...tiny]);
  const line = assertOneLineError(r, 'training diverged at step', /\((map|potential|cost) = (NaN|-?Infinity)\); the last good checkpoint \(step \d+\) is kept in /);
  assert.ok(line.includes(path.join(run, 'checkpoint.otsr')), line);
  const ckpt = await loadCheckpoint(path.join(run, 'checkpoint.otsr'));
  const step = (ckpt.state as { step: number }).step;
  assert.equal(Number(/step (\d+)\) is kept/.exec(line)![1]), step);
  for (const [name, t] of ckpt.tensors) assert.ok((await t.data()).every(Number.isFinite), `checkpoint tensor ${name}`);
  tf.dispose([...ckpt.tensors.values()]);
  // No model was exported from the diverged weights.
  assert.ok(!existsSync(path.join(run, 'model')));
});

test('pretraining through the CLI: paired steps first, then the solver; HR images too small for its pairs are one clear line', async () => {
  const demo = path.join(repoRoot, 'assets/demo');
  const run = at('run pretrain');
  const pre = tiny.filter((a, i) => a !== '--pretrain-steps' && tiny[i - 1] !== '--pretrain-steps');
  const r = await runCliAsync(['train', '--lr', path.join(demo, 'lr'), '--hr', path.join(demo, 'hr'), '--out', run, '--steps', '3', '--pretrain-steps', '2', ...pre]);
  assert.equal(r.code, 0, r.stderr);
  const losses = readFileSync(path.join(run, 'log.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { type: string; losses?: Record<string, number> })
    .filter((l) => l.type === 'train')
    .map((l) => Object.keys(l.losses!).sort().join(','));
  assert.deepEqual(losses, ['paired', 'paired', 'cost,map,potential']);
  // Without --steps the run is its pretraining, however long, and no OT stage.
  const only = at('run pretrain only');
  const p = await runCliAsync(['train', '--lr', path.join(demo, 'lr'), '--hr', path.join(demo, 'hr'), '--out', only, '--pretrain-steps', '2', ...pre]);
  assert.equal(p.code, 0, p.stderr);
  assert.equal(JSON.parse(readFileSync(path.join(only, 'config.json'), 'utf8')).steps, 2);
  // The odd-files folders hold 40x32 images: enough for 16 px crops, too small for 16 + 2 x 12 px pair crops.
  const small = await runCliAsync(['train', '--lr', lr, '--hr', hr, '--out', at('run pretrain small'), '--steps', '2', '--pretrain-steps', '1', ...pre]);
  assert.equal(small.code, 2, small.stderr);
  assert.match(small.stderr, /otsr: pretraining makes its pairs from 40x40 HR crops .* lower --crop, or train without pretraining \(--pretrain-steps 0\)/);
  assert.doesNotMatch(small.stderr, STACK_TRACE);
});

test('--init MODEL through the CLI: the architecture comes from the model and no pretraining unless asked; a missing model is one clear line', async () => {
  const demo = path.join(repoRoot, 'assets/demo');
  const source = at('run init source');
  const base = ['--lr', path.join(demo, 'lr'), '--hr', path.join(demo, 'hr'), '--steps', '1', ...tiny];
  assert.equal((await runCliAsync(['train', ...base, '--out', source])).code, 0);
  // No --arch, no --pretrain-steps: the tiny model's architecture, and solver steps from the first.
  const noArch = base.filter((a, i) => !['--arch', '--pretrain-steps'].includes(a) && !['--arch', '--pretrain-steps'].includes(base[i - 1]!));
  const run = at('run init');
  const r = await runCliAsync(['train', ...noArch, '--out', run, '--init', path.join(source, 'model')]);
  assert.equal(r.code, 0, r.stderr);
  const config = JSON.parse(readFileSync(path.join(run, 'config.json'), 'utf8')) as { map: { nFeats: number }; pretrainSteps: number; init: string };
  assert.equal(config.map.nFeats, 16, 'the tiny preset of the model, not the default small one');
  assert.equal(config.pretrainSteps, 0);
  assert.equal(config.init, path.join(source, 'model'));
  const missing = await runCliAsync(['train', ...noArch, '--out', at('run init missing'), '--init', at('no such model')]);
  assertOneLineError(missing, at('no such model', 'model.json'), /not an otsr model folder/);
  assert.ok(!existsSync(at('run init missing')));
});

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

test('--ema-decay through the CLI: recorded, fixed on resume, a bad value is one clear line', async () => {
  const demo = path.join(repoRoot, 'assets/demo');
  const base = ['train', '--lr', path.join(demo, 'lr'), '--hr', path.join(demo, 'hr'), ...tiny];
  const run = at('run ema');
  const r = await runCliAsync([...base, '--out', run, '--steps', '2', '--ema-decay', '0.9', '--sample-every', '1']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(JSON.parse(readFileSync(path.join(run, 'config.json'), 'utf8')).emaDecay, 0.9);
  const resumed = await runCliAsync([...base, '--out', run, '--steps', '3', '--ema-decay', '0.5', '--resume']);
  assert.equal(resumed.code, 2, resumed.stderr);
  assert.match(resumed.stderr, /cannot resume .*--ema-decay was 0\.9 when the run started, now 0\.5/);
  const bad = await runCliAsync([...base, '--out', at('run ema bad'), '--ema-decay', '1']);
  assert.equal(bad.code, 2, bad.stderr);
  assert.match(bad.stderr, /otsr: --ema-decay must be in \[0, 1\), got 1/);
  assert.doesNotMatch(bad.stderr, STACK_TRACE);
});
