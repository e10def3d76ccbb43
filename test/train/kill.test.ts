import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import * as path from 'node:path';
import { after, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../../src/engine/backend.js';
import { readImage } from '../../src/image/io.js';
import { upsampleBicubic } from '../../src/image/resize-tensor.js';
import { loadModel } from '../../src/nn/serialize-node.js';
import { loadCheckpoint } from '../../src/train/checkpoint.js';
import type { TrainConfig } from '../../src/train/config.js';
import { readLog } from '../../src/train/log.js';
import { runPaths } from '../../src/train/run-dir.js';
import { train } from '../../src/train/train.js';
import { Rng } from '../../src/util/rng.js';
import { cliCommand, repoRoot } from '../helpers/cli.js';
import { tempDir } from '../helpers/images.js';

// kill -9 at random moments, several times over one run, each time resumed with --resume: the checkpoint
// is always whole and loadable, no visible file is ever half-written, and the run ends with exactly the
// weights of a run that was never interrupted (same seed). The CLI as a user runs it, default (wasm)
// backend: faster than cpu for these tiny networks (about 0.1 s a step here against 1-2 s on cpu).

const tmp = tempDir('otsr-kill-');
after(tmp.cleanup);
const demo = path.join(repoRoot, 'assets/demo');
const STEPS = 16;
const args = (out: string, resume: boolean) => [
  'train', '--lr', path.join(demo, 'lr'), '--hr', path.join(demo, 'hr'), '--out', out, '--steps', String(STEPS),
  '--scale', '4', '--crop', '16', '--batch', '2', '--arch', 'tiny', '--potential', 'tiny', '--k-map', '2',
  '--checkpoint-every', '1', '--sample-every', '3', '--seed', '11', '--pretrain-steps', '0', ...(resume ? ['--resume'] : []),
];

/** The highest training step in the run's log (0 if none yet); tolerant of a torn last line. */
async function loggedStep(run: string): Promise<number> {
  const records = await readLog(runPaths(run).log).catch(() => []);
  return Math.max(0, ...records.filter((r) => r.type === 'train').map((r) => r.step));
}

function exited(child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve({ code: child.exitCode, signal: child.signalCode });
    else child.once('exit', (code, signal) => resolve({ code, signal }));
  });
}

/** Everything a user can see in the run folder is whole: checkpoint, config, log, sample PNGs, model. */
async function assertWhole(run: string): Promise<number> {
  const p = runPaths(run);
  const ckpt = await loadCheckpoint(p.checkpoint);
  const step = (ckpt.state as { step: number }).step;
  for (const [name, t] of ckpt.tensors) assert.ok((await t.data()).every(Number.isFinite), `${name} is finite`);
  tf.dispose([...ckpt.tensors.values()]);
  JSON.parse(readFileSync(p.config, 'utf8'));
  await readLog(p.log);
  for (const f of readdirSync(p.samples).filter((n) => !n.startsWith('.'))) await readImage(path.join(p.samples, f));
  if (existsSync(p.model)) (await loadModel(p.model, { upsampler: upsampleBicubic })).module.dispose();
  return step;
}

test('kill -9 at random moments, resumed each time: whole checkpoints, and the weights of an uninterrupted run', { timeout: 300_000 }, async (t) => {
  await initBackend('wasm');
  const run = path.join(tmp.dir, 'killed run é');
  const rng = new Rng(7);
  let kills = 0;
  let lastStep = -1;
  for (let attempt = 0; attempt < 12 && kills < 4; attempt++) {
    const resume = existsSync(runPaths(run).checkpoint);
    const child = spawn(cliCommand.node, [...cliCommand.args, ...args(run, resume)], { cwd: repoRoot, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const done = exited(child);
    // A random step a little ahead of where the run is, then a random moment within that step (or the
    // checkpoint, sample grid or log write after it).
    const target = (await loggedStep(run)) + 1 + rng.int(3);
    const extraMs = rng.int(400);
    let finished = false;
    while (!finished && (await loggedStep(run)) < target) {
      finished = await Promise.race([done.then(() => true), sleep(20).then(() => false)]);
    }
    let killedAt = -1;
    if (!finished) {
      await sleep(extraMs);
      killedAt = await loggedStep(run);
      if (child.kill('SIGKILL')) kills++;
    }
    const { code, signal } = await done;
    assert.ok(signal === 'SIGKILL' || code === 0, `attempt ${attempt}: exit ${code} ${signal}\n${stderr}`);
    const step = await assertWhole(run);
    assert.ok(step >= lastStep, `the checkpoint went back from step ${lastStep} to ${step}`);
    lastStep = step;
    const temps = [run, runPaths(run).samples].flatMap((d) => readdirSync(d).filter((n) => n.endsWith('.tmp') || /\.(tmp|old)-/.test(n)));
    t.diagnostic(
      `attempt ${attempt}: ${signal ?? `exit ${code}`} ${extraMs} ms after step ${target} (log at ${killedAt}); checkpoint at step ${step}` +
        (temps.length ? `; left ${temps.join(', ')}` : ''),
    );
    if (code === 0) break;
  }
  assert.ok(kills >= 3, `only ${kills} kills landed during training`);

  // Finish the run.
  const child = spawn(cliCommand.node, [...cliCommand.args, ...args(run, true)], { cwd: repoRoot, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  assert.equal((await exited(child)).code, 0, stderr);
  assert.equal(await assertWhole(run), STEPS);
  const log = await readLog(runPaths(run).log);
  assert.deepEqual(log.filter((r) => r.type === 'train').map((r) => r.step), Array.from({ length: STEPS }, (_, i) => i + 1));
  // The temp files of the killed writers were cleaned up when the run resumed.
  assert.deepEqual(readdirSync(run).sort(), ['checkpoint.otsr', 'config.json', 'log.jsonl', 'model', 'report.html', 'samples']);
  assert.ok(readdirSync(runPaths(run).samples).every((n) => /^step-\d{7}\.png$/.test(n)), readdirSync(runPaths(run).samples).join(' '));

  // The same config, never interrupted, in this process.
  const reference = path.join(tmp.dir, 'reference');
  const config = JSON.parse(readFileSync(runPaths(run).config, 'utf8')) as TrainConfig;
  await train(config, reference);
  const [a, b] = [await loadCheckpoint(runPaths(reference).checkpoint), await loadCheckpoint(runPaths(run).checkpoint)];
  assert.deepEqual([...b.tensors.keys()], [...a.tensors.keys()]);
  for (const [name, t] of a.tensors) assert.deepEqual(await b.tensors.get(name)!.data(), await t.data(), `${name} differs from the uninterrupted run`);
  tf.dispose([...a.tensors.values(), ...b.tensors.values()]);
  const shard = (dir: string) => readFileSync(path.join(runPaths(dir).model, 'group1-shard1of1.bin'));
  assert.ok(shard(run).equals(shard(reference)), 'the exported models differ');
});
