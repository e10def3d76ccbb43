import { Command, InvalidArgumentError } from 'commander';
import { initBackend, parseBackendName } from '../../engine/backend.js';
import { evaluate, type EvaluationResult } from '../../eval/evaluate.js';
import type { FeatureMode } from '../../metrics/features.js';
import { loadUpscaler } from '../../upscale/upscaler-node.js';
import { RateMeter } from '../../util/progress.js';
import { progressRenderer } from '../progress-bar.js';
import { interruptSignal } from '../signals.js';
import { modelOption, overlapOption, scaleOption, tileOption } from './upscaler-options.js';

function featureMode(value: string): FeatureMode {
  if (value !== 'crops' && value !== 'resize') throw new InvalidArgumentError(`--features must be crops or resize, got '${value}'`);
  return value;
}

export function evalCommand(): Command {
  return new Command('eval')
    .description('Evaluate an upscaler on paired LR/HR folders: PSNR, SSIM, FID and KID (otsr features)')
    .addOption(modelOption())
    .requiredOption('--lr <dir>', 'LR images')
    .requiredOption('--hr <dir>', 'their HR ground truth, same names (scale x the LR size)')
    .addOption(scaleOption())
    .addOption(tileOption())
    .addOption(overlapOption())
    .option('--features <mode>', 'Inception inputs: crops (299x299 crops at full resolution) or resize (whole image to 299x299)', featureMode, 'crops')
    .option('--no-fid', 'skip FID and KID (no Inception run)')
    .option('--json', 'print one JSON object on stdout instead of the table')
    .option('--backend <name>', 'TF.js backend: wasm (default) or cpu', parseBackendName)
    .action(async (o) => {
      await initBackend(o.backend);
      const upscaler = await loadUpscaler(o.model, o.scale !== undefined ? { scale: o.scale } : {});
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
  const row = (name: string, size: string, p: string, s: string) => `${name.padEnd(nameWidth)}  ${size.padStart(9)}  ${p.padStart(7)}  ${s.padStart(6)}\n`;
  let out = `model ${r.model} (x${r.scale}), ${r.images} image${r.images === 1 ? '' : 's'}\n\n`;
  out += row('image', 'size', 'PSNR', 'SSIM');
  for (const s of r.perImage) out += row(s.name, `${s.width}x${s.height}`, s.psnr.toFixed(2), s.ssim.toFixed(4));
  out += row('mean', '', r.psnr.toFixed(2), r.ssim.toFixed(4));
  out += '\n';
  if (Number.isFinite(r.fid)) {
    const spread = r.kidSubsets > 1 ? ` ± ${r.kidStd.toFixed(4)}` : '';
    out += `FID (otsr features) ${r.fid.toFixed(2)}   KID (otsr features) ${r.kid.toFixed(4)}${spread}`;
    out += `   (${r.features.vectors} ${r.features.mode === 'crops' ? '299x299 crops' : 'images'} per set)\n`;
  } else if (r.features.vectors === 0) {
    out += 'FID/KID not computed\n';
  } else {
    out += `FID/KID not computed: only ${r.features.vectors} feature vector per set\n`;
  }
  out += `PSNR/SSIM: RGB, 8-bit outputs, ${r.scale}-pixel border cropped; ${r.seconds.toFixed(1)} s\n`;
  return out;
}
