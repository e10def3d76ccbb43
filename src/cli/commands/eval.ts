import { Command, InvalidArgumentError } from 'commander';
import { initBackend, parseBackendName } from '../../engine/backend.js';
import { evaluate, type EvaluationResult } from '../../eval/evaluate.js';
import type { FeatureMode } from '../../metrics/features.js';
import { PERCEPTUAL_LABEL } from '../../metrics/perceptual.js';
import { intOption } from '../options.js';
import { loadUpscaler } from '../../upscale/upscaler-node.js';
import { RateMeter } from '../../util/progress.js';
import { progressRenderer } from '../progress-bar.js';
import { interruptSignal } from '../signals.js';
import { modelOption, onnxRangeOption, overlapOption, scaleOption, tileOption } from './upscaler-options.js';

function resamples(value: string): number {
  const n = intOption('--bootstrap', 0)(value);
  if (n === 1) throw new InvalidArgumentError('--bootstrap needs 0 (none) or at least 2 resamples, got 1');
  return n;
}

function featureMode(value: string): FeatureMode {
  if (value !== 'dense' && value !== 'crops' && value !== 'resize') {
    throw new InvalidArgumentError(`--features must be dense, crops or resize, got '${value}'`);
  }
  return value;
}

export function evalCommand(): Command {
  return new Command('eval')
    .description('Evaluate an upscaler on paired LR/HR folders: PSNR, SSIM, perceptual, FID and KID (otsr features)')
    .addOption(modelOption())
    .addOption(onnxRangeOption())
    .requiredOption('--lr <dir>', 'LR images')
    .requiredOption('--hr <dir>', 'their HR ground truth, same names (scale x the LR size)')
    .addOption(scaleOption())
    .addOption(tileOption())
    .addOption(overlapOption())
    .option(
      '--features <mode>',
      'Inception inputs: dense (299x299 crops every <= 64 px), crops (fewest 299x299 crops covering the image) or resize (whole image to 299x299)',
      featureMode,
      'dense',
    )
    .option('--no-fid', 'skip FID and KID (no Inception run)')
    .option('--bootstrap <n>', 'bootstrap resamples of the images for the spread of FID/KID (0: none)', resamples, 100)
    .option('--no-perceptual', 'skip the perceptual distance (no MobileNetV2 run)')
    .option('--json', 'print one JSON object on stdout instead of the table')
    .option('--backend <name>', 'TF.js backend: wasm (default) or cpu', parseBackendName)
    .action(async (o) => {
      await initBackend(o.backend);
      const upscaler = await loadUpscaler(o.model, {
        ...(o.scale !== undefined ? { scale: o.scale } : {}),
        ...(o.onnxRange !== undefined ? { onnxRange: o.onnxRange } : {}),
      });
      const bar = progressRenderer('eval', { unit: 'images' });
      const interrupt = interruptSignal();
      let meter: RateMeter | undefined;
      let result: EvaluationResult;
      try {
        result = await evaluate(upscaler, {
          lr: o.lr,
          hr: o.hr,
          tile: o.tile,
          overlap: o.overlap,
          featureMode: o.features,
          skipFeatures: !o.fid,
          skipPerceptual: !o.perceptual,
          bootstrap: o.bootstrap > 0 ? { resamples: o.bootstrap } : false,
          signal: interrupt.signal,
          onImage: (done, total, _image, running) => {
            meter ??= new RateMeter(total);
            bar.update(meter.update(done, running));
          },
          onWarning: (m) => process.stderr.write(`otsr: warning: ${m}\n`),
        });
      } finally {
        bar.stop();
        interrupt.dispose();
        upscaler.dispose();
      }
      process.stdout.write(o.json ? `${JSON.stringify(result)}\n` : formatTable(result));
    });
}

/** The human-readable report: one row per image, then the means and the set-level distances. */
export function formatTable(r: EvaluationResult): string {
  const nameWidth = Math.max(5, ...r.perImage.map((s) => s.name.length));
  const row = (name: string, size: string, p: string, s: string, d: string) =>
    `${name.padEnd(nameWidth)}  ${size.padStart(9)}  ${p.padStart(7)}  ${s.padStart(6)}  ${d.padStart(10)}\n`;
  const perceptual = (v: number) => (Number.isFinite(v) ? v.toFixed(4) : '-');
  let out = `model ${r.model} (x${r.scale}), ${r.images} image${r.images === 1 ? '' : 's'}\n\n`;
  out += row('image', 'size', 'PSNR', 'SSIM', 'perceptual');
  for (const s of r.perImage) out += row(s.name, `${s.width}x${s.height}`, s.psnr.toFixed(2), s.ssim.toFixed(4), perceptual(s.perceptual));
  out += row('mean', '', r.psnr.toFixed(2), r.ssim.toFixed(4), perceptual(r.perceptual));
  out += '\n';
  if (Number.isFinite(r.fid)) {
    const spread = (std: number, digits: number) => (Number.isFinite(std) ? ` ± ${std.toFixed(digits)}` : '');
    const unit = { dense: '299x299 crops every <= 64 px', crops: '299x299 crops', resize: 'images' }[r.features.mode];
    out += `FID (otsr features) ${r.fid.toFixed(2)}${spread(r.fidStd, 2)}   KID (otsr features) ${r.kid.toFixed(4)}${spread(r.kidStd, 4)}`;
    out += `   (${r.features.vectors} ${unit} per set`;
    out += r.bootstrap ? `; ± = std over ${r.bootstrap.resamples} bootstrap resamples of the images)\n` : ')\n';
  } else if (r.features.vectors === 0) {
    out += 'FID/KID not computed\n';
  } else {
    out += `FID/KID not computed: only ${r.features.vectors} feature vector per set\n`;
  }
  out += `PSNR/SSIM: RGB, 8-bit outputs, ${r.scale}-pixel border cropped; perceptual = ${PERCEPTUAL_LABEL}, lower is better`;
  out += ` (not LPIPS); ${r.seconds.toFixed(1)} s\n`;
  return out;
}
