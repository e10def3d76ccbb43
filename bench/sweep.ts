/**
 * Training pilots for the recipe (issue 14): each pilot is an `otsr train` command line on the unpaired-x4
 * benchmark, followed by `otsr eval` of its model on the val pairs. One line per pilot (config, minutes, steps,
 * val PSNR / SSIM / perceptual, and FID/KID unless --no-fid), appended as JSON to bench/results/sweep.jsonl with
 * the machine and its load (the whole `otsr eval --json` in bench/results/eval-sweep-NAME.json), so that
 * RESULTS.md's pilot table is made from measurements, never typed in.
 *
 *     node --import tsx bench/sweep.ts PILOTS.json [--data ../shared/data/unpaired-x4] [--no-fid]
 *
 * PILOTS.json: [{ "name": "blind-lr5e-4", "args": ["--pretrain-steps", "100", ...] }, ...]. Every pilot runs
 * with --lr/--hr/--val-lr/--val-hr of the data and --out runs/sweep/NAME; runs are never reused (a pilot
 * whose folder exists is evaluated again, not retrained). Run it on an otherwise idle machine when --minutes
 * is among the args: a time budget on a busy machine makes fewer steps.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, promises as fs } from 'node:fs';
import * as os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { benchMachine } from '../src/bench/machine.js';

interface Pilot {
  name: string;
  args: string[];
}

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const cli = path.join(repo, 'dist/cli/main.js');

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const file = argv.find((a) => !a.startsWith('--'));
  if (!file) throw new Error('usage: node --import tsx bench/sweep.ts PILOTS.json [--data DIR] [--no-fid]');
  const dataAt = argv.indexOf('--data');
  const data = path.resolve(dataAt >= 0 ? argv[dataAt + 1]! : path.join(repo, '../shared/data/unpaired-x4'));
  const fid = !argv.includes('--no-fid');
  const pilots = JSON.parse(await fs.readFile(file, 'utf8')) as Pilot[];
  const results = path.join(repo, 'bench/results/sweep.jsonl');
  for (const pilot of pilots) {
    const out = path.join(repo, 'runs/sweep', pilot.name);
    const load = os.loadavg();
    const started = Date.now();
    if (!existsSync(path.join(out, 'model/model.json'))) {
      const args = [cli, 'train', '--lr', `${data}/train/lr`, '--hr', `${data}/train/hr`, '--val-lr', `${data}/val/lr`, '--val-hr', `${data}/val/hr`, '--out', out, ...pilot.args];
      execFileSync(process.execPath, args, { stdio: ['ignore', 'inherit', 'inherit'] });
    }
    const trainSeconds = (Date.now() - started) / 1000;
    const evalArgs = [cli, 'eval', '--model', path.join(out, 'model'), '--lr', `${data}/val/lr`, '--hr', `${data}/val/hr`, '--json', ...(fid ? [] : ['--no-fid'])];
    const evaluation = JSON.parse(execFileSync(process.execPath, evalArgs, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 1 << 26 })) as Record<string, unknown>;
    const model = JSON.parse(await fs.readFile(path.join(out, 'model/model.json'), 'utf8')) as { otsr?: { training?: { steps?: number } } };
    const record = {
      name: pilot.name,
      args: pilot.args,
      date: new Date().toISOString(),
      trainSeconds,
      steps: model.otsr?.training?.steps,
      psnr: evaluation.psnr,
      ssim: evaluation.ssim,
      perceptual: evaluation.perceptual,
      fid: fid ? evaluation.fid : null,
      kid: fid ? evaluation.kid : null,
      machine: benchMachine(load),
    };
    await fs.appendFile(results, `${JSON.stringify(record)}\n`);
    // The whole evaluation (per image, bootstrap resamples) beside the summary line.
    await fs.writeFile(path.join(repo, `bench/results/eval-sweep-${pilot.name}.json`), `${JSON.stringify({ ...evaluation, machine: record.machine }, null, 2)}\n`);
    const f = (x: unknown, d: number) => (typeof x === 'number' ? x.toFixed(d) : '-');
    process.stdout.write(
      `${pilot.name}\t${(trainSeconds / 60).toFixed(1)} min\t${record.steps} steps\tPSNR ${f(record.psnr, 3)}\tSSIM ${f(record.ssim, 4)}\tperceptual ${f(record.perceptual, 4)}\tFID ${f(record.fid, 3)}\tKID ${f(record.kid, 5)}\tload ${load.map((l) => l.toFixed(1)).join(' ')}\n`,
    );
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
