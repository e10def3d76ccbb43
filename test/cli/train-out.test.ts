import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { runCliAsync } from '../helpers/cli.js';
import { tempDir, writePng } from '../helpers/images.js';
import { STACK_TRACE } from '../helpers/odd-files.js';

// `otsr train --out` never writes into a folder that is not its own, and a start or resume that is refused (or
// fails before training) changes nothing on disk.

const tmp = tempDir('otsr-train-out-');
after(tmp.cleanup);
const at = (...p: string[]) => path.join(tmp.dir, ...p);
const lr = at('lr');
const hr = at('hr');
const otherLr = at('other lr');
const tiny = ['--scale', '4', '--crop', '16', '--batch', '2', '--arch', 'tiny', '--potential', 'tiny', '--k-map', '1', '--sample-every', '100', '--seed', '5', '--workers', '1'];

before(async () => {
  for (const d of [lr, hr, otherLr]) mkdirSync(d);
  for (let k = 0; k < 2; k++) {
    await writePng(path.join(lr, `l${k}.png`), 24, 24, k);
    await writePng(path.join(hr, `h${k}.png`), 64, 64, 10 + k);
    await writePng(path.join(otherLr, `o${k}.png`), 24, 24, 20 + k);
  }
});

/** Every file under `dir` with its bytes and modification time: what "nothing changed" compares. */
function snapshot(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const name of readdirSync(dir, { recursive: true }) as string[]) {
    const full = path.join(dir, name);
    const s = statSync(full);
    out.set(name, s.isDirectory() ? 'dir' : `${s.mtimeMs} ${readFileSync(full).toString('base64')}`);
  }
  return out;
}

function assertRefused(r: { code: number | null; stderr: string }, problem: RegExp): void {
  assert.notEqual(r.code, 0, r.stderr);
  assert.doesNotMatch(r.stderr, STACK_TRACE);
  assert.match(r.stderr, problem);
  assert.doesNotMatch(r.stderr, /train \d+\//, 'refused before the first step');
}

test('an unrelated folder as --out is refused before anything is written', async () => {
  const dir = at('my project');
  mkdirSync(path.join(dir, 'model'), { recursive: true });
  writeFileSync(path.join(dir, 'config.json'), '{"mine": true}\n');
  writeFileSync(path.join(dir, 'log.jsonl'), 'my log\n');
  writeFileSync(path.join(dir, 'model', 'model.json'), '{}\n');
  const before = snapshot(dir);
  const r = await runCliAsync(['train', '--lr', lr, '--hr', hr, '--out', dir, '--steps', '2', ...tiny]);
  assertRefused(r, /is not empty and holds no otsr run \(no checkpoint\.otsr\): choose a new or empty folder/);
  assert.equal(r.code, 2);
  assert.deepEqual(snapshot(dir), before);
});

test('a fresh start that fails leaves no folder behind; a refused resume, or one already done, changes nothing', async () => {
  const failed = at('failed run');
  const r0 = await runCliAsync(['train', '--lr', lr, '--hr', at('no such folder'), '--out', failed, '--steps', '2', ...tiny]);
  assertRefused(r0, /no such folder/);
  assert.equal(existsSync(failed), false, 'no config.json, no samples/');

  const run = at('run');
  const r1 = await runCliAsync(['train', '--lr', lr, '--hr', hr, '--out', run, '--steps', '2', ...tiny]);
  assert.equal(r1.code, 0, r1.stderr);
  const before = snapshot(run);
  const other = await runCliAsync(['train', '--lr', otherLr, '--hr', hr, '--out', run, '--steps', '3', '--resume', ...tiny]);
  assertRefused(other, /the usable image files differ from those of the saved run/);
  assert.deepEqual(snapshot(run), before, 'a resume refused for its data leaves config.json as it was');
  for (const steps of ['1', '2']) {
    const done = await runCliAsync(['train', '--lr', lr, '--hr', hr, '--out', run, '--steps', steps, '--resume', ...tiny]);
    assertRefused(done, new RegExp(`is already done: it is at step 2 and --steps is ${steps}`));
    assert.deepEqual(snapshot(run), before);
  }
});
