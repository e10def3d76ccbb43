import { Command } from 'commander';
import { runDemo } from '../../demo/demo.js';
import { initBackend, parseBackendName } from '../../engine/backend.js';
import { floatOption, intOption } from '../options.js';
import { formatDuration, progressRenderer } from '../progress-bar.js';
import { interruptSignal } from '../signals.js';

export function demoCommand(): Command {
  return new Command('demo')
    .description('Train a small OT super-resolution model on bundled photos for a few minutes and write a before/after report')
    .option('--out <dir>', 'output folder', 'otsr-demo')
    .option('--minutes <m>', 'training time budget', floatOption('--minutes', 0.05, 600), 3)
    .option('--seed <s>', 'random seed', intOption('--seed', 0), 1)
    .option('--backend <name>', 'TF.js backend: wasm (default) or cpu', parseBackendName)
    .option('--json', 'print one JSON object on stdout ({ metrics, steps, seconds, report, ... }) instead of the summary')
    .action(async (o) => {
      const backend = await initBackend(o.backend);
      process.stderr.write(`otsr demo: training an x4 map on bundled unpaired photos for up to ${o.minutes} min (backend ${backend}); Ctrl-C stops early\n`);
      const bar = progressRenderer('train', { unit: 'steps' });
      const interrupt = interruptSignal(() => process.stderr.write('\nstopping after this step...\n'));
      const started = Date.now();
      const budget = o.minutes * 60;
      try {
        const r = await runDemo({
          out: o.out,
          minutes: o.minutes,
          seed: o.seed,
          signal: interrupt.signal,
          // The run is time-limited, so show time (not steps) as the bar's total and ETA.
          onProgress: (e) => {
            const elapsed = (Date.now() - started) / 1000;
            bar.update({ ...e, total: Math.max(e.done, Math.round(e.done + e.rate * Math.max(0, budget - elapsed))), etaSeconds: Math.max(0, budget - elapsed) });
          },
          onMessage: (m) => process.stderr.write(`${m}\n`),
        });
        bar.stop();
        if (o.json) {
          const { steps, seconds, modelDir } = r.train;
          process.stdout.write(`${JSON.stringify({ metrics: r.metrics, steps, seconds, report: r.report, model: modelDir, images: r.images })}\n`);
          return;
        }
        const { bicubic, otsr } = r.metrics;
        const scores = (m: typeof bicubic) => `PSNR ${m.psnr.toFixed(2)} dB / SSIM ${m.ssim.toFixed(4)} / perceptual ${m.perceptual.toFixed(4)}`;
        process.stdout.write(
          [
            `trained ${r.train.steps} steps in ${formatDuration(r.train.seconds)}`,
            `held-out photo x4 (perceptual: otsr features, lower is better): bicubic ${scores(bicubic)}; otsr ${scores(otsr)}`,
            `upscaled: ${r.images.otsr}`,
            `model:    ${r.train.modelDir}`,
            `report:   ${r.report}`,
            '',
          ].join('\n'),
        );
      } finally {
        bar.stop();
        interrupt.dispose();
      }
    });
}
