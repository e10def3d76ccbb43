/**
 * One before/after picture for bench/RESULTS.md: the same crop of several upscaled versions of an image,
 * side by side, each labelled (LR is shown with nearest-neighbour enlargement so its pixels stay visible).
 *
 *     node --import tsx scripts/before-after.ts --crop X,Y,W,H --out docs/x.png LABEL=FILE [LABEL=FILE ...]
 *
 * X, Y, W, H are in the coordinates of the largest input (the HR size); smaller inputs (the LR image) are
 * enlarged to that size first. Crops are shown at `--zoom` (default 2, nearest-neighbour).
 */
import { parseArgs } from 'node:util';
import sharp from 'sharp';

const { values, positionals } = parseArgs({
  options: { crop: { type: 'string' }, out: { type: 'string' }, zoom: { type: 'string', default: '2' } },
  allowPositionals: true,
});
if (!values.crop || !values.out || positionals.length === 0) {
  process.stderr.write('usage: before-after.ts --crop X,Y,W,H --out FILE.png LABEL=FILE...\n');
  process.exit(2);
}
const [x, y, w, h] = values.crop.split(',').map(Number) as [number, number, number, number];
const zoom = Number(values.zoom);
const panels = positionals.map((p) => {
  const eq = p.indexOf('=');
  if (eq < 1) throw new Error(`'${p}' is not LABEL=FILE`);
  return { label: p.slice(0, eq), file: p.slice(eq + 1) };
});

const sizes = await Promise.all(panels.map(async (p) => (await sharp(p.file).metadata()).width ?? 0));
const fullWidth = Math.max(...sizes);
const LABEL_HEIGHT = 28;
const GAP = 6;
const tiles = await Promise.all(
  panels.map(async (p, i) => {
    const factor = fullWidth / sizes[i]!;
    let img = sharp(p.file).removeAlpha();
    if (factor !== 1) {
      const meta = await sharp(p.file).metadata();
      img = sharp(await img.resize(Math.round(meta.width! * factor), Math.round(meta.height! * factor), { kernel: 'nearest' }).toBuffer());
    }
    return img
      .extract({ left: x, top: y, width: w, height: h })
      .resize(w * zoom, h * zoom, { kernel: 'nearest' })
      .png()
      .toBuffer();
  }),
);
const escape = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;');
const width = panels.length * w * zoom + (panels.length - 1) * GAP;
const height = h * zoom + LABEL_HEIGHT;
const labels = panels
  .map((p, i) => `<text x="${i * (w * zoom + GAP) + (w * zoom) / 2}" y="20" font-family="sans-serif" font-size="16" text-anchor="middle">${escape(p.label)}</text>`)
  .join('');
await sharp({ create: { width, height, channels: 3, background: '#ffffff' } })
  .composite([
    { input: Buffer.from(`<svg width="${width}" height="${LABEL_HEIGHT}">${labels}</svg>`), left: 0, top: 0 },
    ...tiles.map((input, i) => ({ input, left: i * (w * zoom + GAP), top: LABEL_HEIGHT })),
  ])
  .png()
  .toFile(values.out);
process.stdout.write(`${values.out}\n`);
