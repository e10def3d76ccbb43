/**
 * The validation trajectories of training runs, read from their log.jsonl, as JSON (for bench/results) and as a
 * Markdown table (for RESULTS.md), so that the numbers there are read from the runs, never typed in:
 *
 *     node --import tsx bench/val-log.ts OUT.json "LABEL::RUN_DIR::COMMAND" …
 *
 * Per run: val PSNR/SSIM at every validated step (for runs with --ema-decay, the average's and the training
 * weights' own, `raw`), and the transport cost's median and max over the solver's steps.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

interface Record_ {
  type: string;
  step: number;
  seconds: number;
  losses?: Record<string, number>;
  metrics?: Record<string, number>;
  raw?: Record<string, number>;
}

const [out, ...args] = process.argv.slice(2);
if (!out || args.length === 0) throw new Error('usage: bench/val-log.ts OUT.json "LABEL::RUN_DIR::COMMAND" ...');

const median = (v: number[]) => {
  const s = [...v].sort((a, b) => a - b);
  return s.length === 0 ? null : s[Math.floor(s.length / 2)]!;
};

const runs = args.map((arg) => {
  const [label, dir, command = ''] = arg.split('::');
  if (!label || !dir) throw new Error(`'${arg}': expected LABEL::RUN_DIR[::COMMAND]`);
  const log = readFileSync(path.join(dir, 'log.jsonl'), 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as Record_);
  const costs = log.flatMap((r) => (r.type === 'train' && r.losses?.cost !== undefined ? [r.losses.cost] : []));
  const last = log.filter((r) => r.type === 'train').at(-1);
  const val = log
    .filter((r) => r.type === 'val')
    .map((r) => ({
      step: r.step,
      psnr: r.metrics!.psnr!,
      ssim: r.metrics!.ssim!,
      ...(r.raw ? { raw: { psnr: r.raw.psnr!, ssim: r.raw.ssim! } } : {}),
    }));
  return { label, run: dir, command, val, costMedian: median(costs), costMax: costs.length ? Math.max(...costs) : null, steps: last?.step ?? 0, seconds: last?.seconds ?? 0 };
});

writeFileSync(out, `${JSON.stringify({ date: new Date().toISOString(), machine: `${os.cpus().length} x ${os.cpus()[0]?.model ?? '?'}`, load: os.loadavg(), runs }, null, 1)}\n`);

const pair = (p: number, s: number) => `${p.toFixed(3)}/${s.toFixed(4)}`;
for (const r of runs) {
  process.stdout.write(`\n**${r.label}** (${r.steps} steps, ${(r.seconds / 60).toFixed(1)} min; cost median ${r.costMedian?.toExponential(1)}, max ${r.costMax?.toExponential(1)})\n\n`);
  const hasRaw = r.val.some((v) => v.raw);
  process.stdout.write(hasRaw ? '| step | average PSNR/SSIM | training weights PSNR/SSIM |\n| ---: | --- | --- |\n' : '| step | PSNR/SSIM |\n| ---: | --- |\n');
  for (const v of r.val) {
    const cells = [String(v.step), pair(v.psnr, v.ssim), ...(hasRaw ? [v.raw ? pair(v.raw.psnr, v.raw.ssim) : '(the same)'] : [])];
    process.stdout.write(`| ${cells.join(' | ')} |\n`);
  }
  const both = r.val.filter((v) => v.raw);
  if (both.length > 0) {
    const above = (k: 'psnr' | 'ssim') => both.filter((v) => v[k] > v.raw![k]).length;
    const worst = (values: number[]) => Math.min(...values).toFixed(3);
    process.stdout.write(
      `\nThe average is above the training weights at ${above('psnr')} of ${both.length} points on PSNR, ${above('ssim')} on SSIM; its worst PSNR ${worst(both.map((v) => v.psnr))} dB, theirs ${worst(both.map((v) => v.raw!.psnr))} dB.\n`,
    );
  }
}
