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
import {
  decodeImage,
  encodeImage,
  formatForPath,
  fromFloat,
  readImage,
  toFloat,

  type FloatImage,
  type ReadOptions,
  type RgbImage,
} from './io.js';
import { resizeBicubic } from './resize.js';

export interface DegradeOptions {
  /** Integer downscaling factor s >= 1. */
  scale: number;
  /** Gaussian blur sigma in HR pixels before downscaling; 0 or absent: none. */
  blur?: number;
  /** Additive Gaussian noise sigma in 8-bit levels (8 means 8/255); 0 or absent: none. */
  noise?: number;
  /** JPEG quality 1-100 as the last step; absent: none. */
  jpeg?: number;
  /** Seed of the noise (default 1). Each file gets its own stream, derived from the seed and its name. */
  seed?: number;
}

/** Checks the option values; UsageError naming the bad one. */
export function checkDegradeOptions(o: DegradeOptions): void {
  if (!Number.isInteger(o.scale) || o.scale < 1) throw new UsageError(`scale must be an integer >= 1, got ${o.scale}`);
  if (o.blur !== undefined && !(o.blur >= 0 && Number.isFinite(o.blur))) throw new UsageError(`blur sigma must be >= 0, got ${o.blur}`);
  if (o.noise !== undefined && !(o.noise >= 0 && Number.isFinite(o.noise))) throw new UsageError(`noise sigma must be >= 0, got ${o.noise}`);
  if (o.jpeg !== undefined && !(Number.isInteger(o.jpeg) && o.jpeg >= 1 && o.jpeg <= 100)) {
    throw new UsageError(`JPEG quality must be an integer in [1, 100], got ${o.jpeg}`);
  }
}

/** Normalised 1-D Gaussian taps for `sigma`, radius ceil(4 sigma) (as scipy's default truncation). */
export function gaussianKernel(sigma: number): Float64Array {
  const r = Math.max(1, Math.ceil(4 * sigma));
  const k = new Float64Array(2 * r + 1);
  let sum = 0;
  for (let i = -r; i <= r; i++) sum += k[i + r] = Math.exp((-0.5 * i * i) / (sigma * sigma));
  for (let i = 0; i < k.length; i++) k[i]! /= sum;
  return k;
}

/** Mirrored index with the edge sample repeated (d c b a | a b c d | d c b a), scipy's 'reflect' mode. */
function reflect(i: number, n: number): number {
  const period = 2 * n;
  let m = i % period;
  if (m < 0) m += period;
  return m < n ? m : period - 1 - m;
}

/** Separable Gaussian blur of a float HWC image, borders reflected (scipy.ndimage 'reflect'). */
export function gaussianBlur(img: FloatImage, sigma: number): FloatImage {
  if (!(sigma > 0)) return { ...img, data: Float32Array.from(img.data) };
  const k = gaussianKernel(sigma);
  const r = (k.length - 1) / 2;
  const { width: w, height: h, channels: C } = img;
  const tmp = new Float32Array(img.data.length);
  const out = new Float32Array(img.data.length);
  const src = img.data;
  // Offsets of the reflected columns, so the inner loop has no branches or calls.
  const col = new Int32Array(w + 2 * r);
  for (let i = 0; i < col.length; i++) col[i] = reflect(i - r, w) * C;
  const taps = 2 * r + 1;
  for (let y = 0; y < h; y++) {
    const row = y * w * C;
    for (let x = 0; x < w; x++) {
      for (let c = 0; c < C; c++) {
        let s = 0;
        for (let t = 0; t < taps; t++) s += k[t]! * src[row + col[x + t]! + c]!;
        tmp[row + x * C + c] = s;
      }
    }
  }
  for (let y = 0; y < h; y++) {
    for (let t = -r; t <= r; t++) {
      const wt = k[t + r]!;
      const row = reflect(y + t, h) * w * C;
      const dst = y * w * C;
      for (let i = 0; i < w * C; i++) out[dst + i]! += wt * tmp[row + i]!;
    }
  }
  return { width: w, height: h, channels: C, data: out };
}

/** The top-left part of a float image (a copy). */
function cropFloat(img: FloatImage, width: number, height: number): FloatImage {
  if (width === img.width && height === img.height) return img;
  const C = img.channels;
  const out = new Float32Array(width * height * C);
  for (let y = 0; y < height; y++) out.set(img.data.subarray(y * img.width * C, (y * img.width + width) * C), y * width * C);
  return { width, height, channels: C, data: out };
}

/**
 * Blur, mod-crop, bicubic 1/s and noise on a float image in [-1, 1] (no quantisation, no JPEG).
 * `rng` draws the noise; it is not used when there is none.
 */
export function degradeFloat(img: FloatImage, options: DegradeOptions, rng: Rng): FloatImage {
  checkDegradeOptions(options);
  const s = options.scale;
  const lw = Math.floor(img.width / s);
  const lh = Math.floor(img.height / s);
  if (lw < 1 || lh < 1) throw new RangeError(`a ${img.width}x${img.height} image is smaller than the scale ${s}`);
  let x = options.blur ? gaussianBlur(img, options.blur) : img;
  x = cropFloat(x, lw * s, lh * s);
  x = resizeBicubic(x, lw, lh, { kernel: 'pil' });
  if (options.noise) {
    const std = (2 * options.noise) / 255; // 8-bit levels -> [-1, 1] units
    const d = x.data; // resizeBicubic returned a fresh array: safe to add in place
    for (let i = 0; i < d.length; i++) d[i]! += std * rng.normal();
  }
  return x;
}

/** The degraded image as 8-bit RGB, plus the JPEG bytes when `jpeg` is set (the image is their decoding). */
export async function degradeImage(img: RgbImage, options: DegradeOptions, rng: Rng): Promise<{ image: RgbImage; jpeg?: Buffer }> {
  const lr = fromFloat(degradeFloat(toFloat(img), options, rng));
  if (options.jpeg === undefined) return { image: lr };
  const jpeg = await sharp(lr.data, { raw: { width: lr.width, height: lr.height, channels: 3 } })
    .jpeg({ quality: options.jpeg, chromaSubsampling: '4:2:0' })
    .toBuffer();
  return { image: await decodeImage(jpeg, 'JPEG round trip'), jpeg };
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
