/**
 * How strong a map's sub-pixel grid is: the pattern at the upsampler's period that a pixel shuffle can paint on
 * smooth areas (bench/RESULTS.md, "An average of the map's weights"). For each output, D = its luma minus the
 * reference's (bicubic's) in 8-bit levels, the map's correction. In every PERIOD·4-pixel block where the
 * reference is smooth (luma std below --smooth levels), the block's PERIOD² phase means of D (pixels whose
 * (y mod PERIOD, x mod PERIOD) agree) are taken about their mean: their RMS is that block's grid amplitude.
 * Content with no period averages out of phase means (their RMS falls as 1/√(pixels per phase)); a grid does not.
 * Prints, per output, the median and 90th percentile over smooth blocks, as JSON.
 *
 *     node --import tsx bench/grid.ts --reference BICUBIC.png [--period 4] [--smooth 2] LABEL=OUT.png ...
 */
import { parseArgs } from 'node:util';
import sharp from 'sharp';

const { values, positionals } = parseArgs({
  options: { reference: { type: 'string' }, period: { type: 'string', default: '4' }, smooth: { type: 'string', default: '2' } },
  allowPositionals: true,
});
if (!values.reference || positionals.length === 0) {
  process.stderr.write('usage: grid.ts --reference BICUBIC.png [--period 4] [--smooth 2] LABEL=OUT.png ...\n');
  process.exit(2);
}
const period = Number(values.period);
const smoothLevels = Number(values.smooth);

async function luma(file: string): Promise<{ y: Float64Array; width: number; height: number }> {
  const { data, info } = await sharp(file).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  const y = new Float64Array(info.width * info.height);
  for (let i = 0; i < y.length; i++) y[i] = 0.299 * data[3 * i]! + 0.587 * data[3 * i + 1]! + 0.114 * data[3 * i + 2]!;
  return { y, width: info.width, height: info.height };
}

const reference = await luma(values.reference);
const block = period * 4;
const { width, height } = reference;

/** Top-left corners of the blocks where the reference is smooth. */
const smoothBlocks: [number, number][] = [];
for (let by = 0; by + block <= height; by += block) {
  for (let bx = 0; bx + block <= width; bx += block) {
    let s = 0;
    let s2 = 0;
    for (let y = by; y < by + block; y++) {
      for (let x = bx; x < bx + block; x++) {
        const v = reference.y[y * width + x]!;
        s += v;
        s2 += v * v;
      }
    }
    const n = block * block;
    if (Math.sqrt(Math.max(0, s2 / n - (s / n) ** 2)) < smoothLevels) smoothBlocks.push([by, bx]);
  }
}

const quantile = (sorted: number[], q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
const result: Record<string, { median: number; p90: number }> = {};
for (const arg of positionals) {
  const eq = arg.indexOf('=');
  if (eq < 1) throw new Error(`'${arg}' is not LABEL=FILE`);
  const out = await luma(arg.slice(eq + 1));
  if (out.width !== width || out.height !== height) throw new Error(`${arg.slice(eq + 1)}: ${out.width}x${out.height}, the reference is ${width}x${height}`);
  const amplitudes = smoothBlocks.map(([by, bx]) => {
    const phase = new Float64Array(period * period);
    for (let y = by; y < by + block; y++) {
      for (let x = bx; x < bx + block; x++) phase[(y % period) * period + (x % period)]! += out.y[y * width + x]! - reference.y[y * width + x]!;
    }
    const perPhase = (block / period) ** 2;
    const means = Array.from(phase, (v) => v / perPhase);
    const mean = means.reduce((a, b) => a + b, 0) / means.length;
    return Math.sqrt(means.reduce((a, m) => a + (m - mean) ** 2, 0) / means.length);
  });
  amplitudes.sort((a, b) => a - b);
  result[arg.slice(0, eq)] = { median: quantile(amplitudes, 0.5), p90: quantile(amplitudes, 0.9) };
}
process.stdout.write(`${JSON.stringify({ reference: values.reference, period, smoothLevels, smoothBlocks: smoothBlocks.length, result }, null, 2)}\n`);
