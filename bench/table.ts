/**
 * A results table from `otsr eval --json` files, so that RESULTS.md's numbers are read from measurements, never
 * typed in. Each argument is `LABEL::FILE[::TRAINING[::COMMAND]]`; one Markdown row per argument, in order:
 *
 *     node --import tsx bench/table.ts "bicubic::bench/results/eval-….json::–::--model bicubic" …
 *
 * Columns: PSNR, SSIM, perceptual (otsr features), FID and KID (otsr, ± their bootstrap spread when the file has
 * one), then the TRAINING and COMMAND text given.
 */
import { readFileSync } from 'node:fs';

interface Evaluation {
  psnr: number;
  ssim: number;
  perceptual: number;
  fid?: number;
  kid?: number;
  fidStd?: number | null;
  kidStd?: number | null;
}

const spread = (value: number | null | undefined, std: number | null | undefined, digits: number) =>
  value == null ? '–' : std == null ? value.toFixed(digits) : `${value.toFixed(digits)} ± ${std.toFixed(digits)}`;

const rows = process.argv.slice(2).map((arg) => {
  const [label, file, training = '', command = ''] = arg.split('::');
  if (!label || !file) throw new Error(`'${arg}': expected LABEL::FILE[::TRAINING[::COMMAND]]`);
  const e = JSON.parse(readFileSync(file, 'utf8')) as Evaluation;
  const cells = [label, e.psnr.toFixed(3), e.ssim.toFixed(4), e.perceptual.toFixed(4), spread(e.fid, e.fidStd, 2), spread(e.kid, e.kidStd, 4), training, command];
  return `| ${cells.join(' | ')} |`;
});
process.stdout.write(
  `| model | PSNR (dB) | SSIM | perceptual | FID (otsr) | KID (otsr) | training | command |\n| --- | ---: | ---: | ---: | ---: | ---: | --- | --- |\n${rows.join('\n')}\n`,
);
