/**
 * Steps per second of `otsr train`'s default recipe, phase by phase (pretraining steps, then OTS steps), for one or
 * more builds of the CLI run one after the other on the same machine (issue 15: "otsr train's default recipe:
 * report steps/s before and after"). Each build trains the defaults on unpaired-x4 for a fixed number of steps
 * (no validation, no sample grids); the per-step times come from the run's log.jsonl.
 *
 *     node --import tsx bench/recipe-speed.ts [--pretrain 20] [--ots 10] LABEL=path/to/dist/cli/main.js ...
 *
 * Prints one JSON object: per build, the median seconds per pretraining step and per OTS step (the first step of
 * each phase left out: it includes start-up and the switch), and the machine's load before and after.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import path from 'node:path';
import { benchMachine } from '../src/bench/machine.js';
import { takeNumberOption } from './args.js';

const argv = process.argv.slice(2);
const option = (name: string, fallback: number) => takeNumberOption(argv, name, fallback);
const pretrain = option('--pretrain', 20);
const ots = option('--ots', 10);
const data = path.resolve('../shared/data/unpaired-x4/train');

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

const loadStart = os.loadavg();
const results: Record<string, unknown> = {};
for (const arg of argv) {
  const [label, cli] = arg.split('=');
  if (!label || !cli) throw new Error(`'${arg}': expected LABEL=path/to/main.js`);
  const out = path.join(mkdtempSync(path.join(os.tmpdir(), 'otsr-recipe-speed-')), 'run');
  const load = os.loadavg()[0];
  execFileSync(process.execPath, [cli, 'train', '--lr', `${data}/lr`, '--hr', `${data}/hr`, '--out', out, '--pretrain-steps', String(pretrain), '--steps', String(pretrain + ots), '--sample-every', '100000', '--checkpoint-every', '100000'], { stdio: ['ignore', 'ignore', 'inherit'] });
  const log = readFileSync(path.join(out, 'log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { type: string; step: number; seconds: number });
  const times = log.filter((r) => r.type === 'train').map((r) => r.seconds);
  const perStep = times.map((t, i) => t - (i === 0 ? 0 : times[i - 1]!));
  const pre = perStep.slice(1, pretrain);
  const solver = perStep.slice(pretrain + 1);
  results[label] = { cli, pretrainSecondsPerStep: median(pre), otsSecondsPerStep: median(solver), pretrainSteps: pretrain, otsSteps: ots, loadBefore: load, loadAfter: os.loadavg()[0] };
  process.stderr.write(`${label}: pretraining ${median(pre).toFixed(3)} s/step, OTS ${median(solver).toFixed(3)} s/step\n`);
  rmSync(path.dirname(out), { recursive: true, force: true });
}
process.stdout.write(`${JSON.stringify({ date: new Date().toISOString(), machine: benchMachine(loadStart), results }, null, 2)}\n`);
