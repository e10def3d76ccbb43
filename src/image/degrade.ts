/**
 * Synthetic degradations that turn HR photos into LR ones, for users who build their own unpaired or
 * paired experiments (as the AIM 2019 challenge did):
 *
 *     Gaussian blur (sigma, HR pixels) -> bicubic 1/s (Pillow's antialiased kernel) ->
 *     additive Gaussian noise (sigma in 8-bit levels, seeded) -> 8-bit -> JPEG (quality q, 4:2:0)
 *
 * An HR image whose size is not a multiple of s is first cut to its top-left s * floor(W / s) x
 * s * floor(H / s) part, so the LR image is exactly 1/s of that part (the pairing `PairedFolders` assumes).
 */
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import sharp from 'sharp';
import { CancelledError, InputError, OtsrError, UsageError } from '../errors.js';
import { Rng } from '../util/rng.js';
import { writeFileAtomic } from '../util/atomic-write.js';
import { refuseOverwritingInputs, sameFile } from '../util/same-file.js';
import { listImages } from '../data/folder.js';
import { type DegradeOptions, type JpegRoundTrip, checkDegradeOptions, degradeRgb } from './degrade-float.js';
import { type ReadOptions, type RgbImage, decodeImage, encodeImage, formatForPath, readImage } from './io.js';

/** JPEG bytes of an 8-bit RGB image at `quality`, 4:2:0 (libjpeg-turbo through sharp). */
function encodeJpeg(img: RgbImage, quality: number): Promise<Buffer> {
  return sharp(img.data, { raw: { width: img.width, height: img.height, channels: 3 } }).jpeg({ quality, chromaSubsampling: '4:2:0' }).toBuffer();
}

/** Node's {@link JpegRoundTrip}: sharp's encoder and decoder. */
export const sharpJpegRoundTrip: JpegRoundTrip = async (img, quality) => decodeImage(await encodeJpeg(img, quality), 'JPEG round trip');

/** The degraded image as 8-bit RGB, plus the JPEG bytes when `jpeg` is set (the image is their decoding). */
export async function degradeImage(img: RgbImage, options: DegradeOptions, rng: Rng): Promise<{ image: RgbImage; jpeg?: Buffer }> {
  let jpeg: Buffer | undefined;
  const image = await degradeRgb(img, options, rng, async (lr, quality) => {
    jpeg = await encodeJpeg(lr, quality);
    return decodeImage(jpeg, 'JPEG round trip');
  });
  return jpeg ? { image, jpeg } : { image };
}

/** The noise stream of one file: a function of the seed and the file's name only (not of other files). */
export function rngForFile(seed: number, name: string): Rng {
  // FNV-1a of the name, mixed with the seed through the Rng's own seeding.
  let h = 0x811c9dc5;
  for (const ch of Buffer.from(name, 'utf8')) h = Math.imul(h ^ ch, 0x01000193) >>> 0;
  const base = new Rng(seed >>> 0);
  return new Rng([base.nextUint32() ^ h, base.nextUint32(), base.nextUint32() ^ Math.imul(h, 0x9e3779b1), base.nextUint32()]);
}

/** Degrades one file into another; the output format comes from `outFile`'s extension. */
export async function degradeFile(inFile: string, outFile: string, options: DegradeOptions & ReadOptions, name = path.basename(inFile)): Promise<void> {
  checkDegradeOptions(options);
  const format = formatForPath(outFile);
  const img = await readImage(inFile, options);
  if (img.width < options.scale || img.height < options.scale) {
    throw new InputError(inFile, `is ${img.width}x${img.height}, smaller than the scale ${options.scale}`);
  }
  const { image, jpeg } = await degradeImage(img, options, rngForFile(options.seed ?? 1, name));
  // A JPEG output of a JPEG degradation is the degradation's own bytes: no second compression.
  const bytes = jpeg && format === 'jpeg' ? jpeg : await encodeImage(image, format, { quality: 95 });
  await writeFileAtomic(outFile, bytes);
}

export interface DegradePathsOptions extends DegradeOptions, ReadOptions {
  /** (done, total, current input file) after each file. */
  onProgress?: (done: number, total: number, file: string) => void;
  /** A file that cannot be degraded in folder mode (default console.warn); the run goes on. */
  onWarning?: (message: string) => void;
  signal?: AbortSignal;
}

export interface DegradeResult {
  /** Files written. */
  written: string[];
  /** Input files that failed (folder mode), with their one-line reasons. */
  failed: { file: string; message: string }[];
}

/**
 * `otsr degrade IN OUT`: IN a file -> OUT a file (or into OUT if it is an existing folder); IN a folder ->
 * OUT a folder (created) with the same subfolders, each image as NAME.jpg when `jpeg` is set, else NAME.png.
 * In folder mode bad files are reported through `onWarning` and skipped.
 */
export async function degradePaths(input: string, output: string, options: DegradePathsOptions): Promise<DegradeResult> {
  checkDegradeOptions(options);
  const inStat = await fsp.stat(input).catch(() => undefined);
  if (!inStat) throw new InputError(input, 'no such file or folder');
  const warn = options.onWarning ?? ((m: string) => console.warn(m));
  const ext = options.jpeg !== undefined ? '.jpg' : '.png';
  if (!inStat.isDirectory()) {
    const outStat = await fsp.stat(output).catch(() => undefined);
    const outFile = outStat?.isDirectory() ? path.join(output, path.parse(input).name + ext) : output;
    await refuseOverwritingInputs([{ input, output: outFile }], [input]);
    formatForPath(outFile);
    await degradeFile(input, outFile, options);
    options.onProgress?.(1, 1, input);
    return { written: [outFile], failed: [] };
  }
  const files = await listImages(input);
  if (files.length === 0) throw new InputError(input, 'no image files in the folder');
  const outRoot = path.resolve(output);
  if (await sameFile(output, input)) throw new UsageError(`${output}: the output folder must differ from the input folder`);
  try {
    await fsp.mkdir(output, { recursive: true });
  } catch (err) {
    throw new OtsrError(`${output}: cannot create the output folder (${(err as NodeJS.ErrnoException).code ?? String(err)})`, { cause: err });
  }
  const result: DegradeResult = { written: [], failed: [] };
  for (const [k, file] of files.entries()) {
    if (options.signal?.aborted) throw new CancelledError();
    const rel = path.relative(input, file);
    // Inputs inside the output folder (OUT within IN) are earlier outputs, not inputs.
    if (path.resolve(file).startsWith(outRoot + path.sep)) continue;
    const relOut = path.join(path.dirname(rel), path.parse(rel).name + ext);
    const outFile = path.join(output, relOut);
    try {
      await fsp.mkdir(path.dirname(outFile), { recursive: true });
      await degradeFile(file, outFile, options, rel.split(path.sep).join('/'));
      result.written.push(outFile);
    } catch (err) {
      if (!(err instanceof OtsrError)) throw err;
      result.failed.push({ file, message: err.message });
      warn(`skipping ${err.message}`);
    }
    options.onProgress?.(k + 1, files.length, file);
  }
  return result;
}
