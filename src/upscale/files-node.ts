import { constants as bufferConstants } from 'node:buffer';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { isImageFile, listImages } from '../data/folder.js';
import { InputError, OtsrError, UsageError } from '../errors.js';
import { type ImageInfo, type OutputFormat, type RgbImage, encodeRaw, formatForPath, readImageInfo } from '../image/io.js';
import { PngRowWriter } from '../image/png-stream.js';
import { SourceFile } from '../image/source-file.js';
import { checkWritableFolder, nearestExisting, writeError, writeFileAtomic, writeStreamAtomic } from '../util/atomic-write.js';
import { refuseOverwritingInputs } from '../util/same-file.js';
import { TilePool, currentBackend } from './tile-pool-node.js';
import { RowWindow } from './row-window.js';
import { type BandsResult, type RowSink, type TileSource, checkTileOptions, pixelSource, tileCount, tilePlan, upscaleBands } from './tiles.js';
import type { Upscaler } from './upscaler-node.js';

export interface UpscaleFilesOptions {
  tile?: number;
  overlap?: number;
  /** Called per image with (images done, images in all) and per tile within it. */
  onImage?: (done: number, total: number, file: string) => void;
  onTile?: (done: number, total: number) => void;
  onWarning?: (message: string) => void;
  /** Inputs with more pixels are refused (decompression bombs); default the loader's DEFAULT_MAX_PIXELS. */
  maxPixels?: number;
  signal?: AbortSignal;
  /**
   * Worker threads running the model on tiles (default 1: this thread). The output is bit-identical for any
   * count. The workers start with the first image of more than one tile (they each load the model, which
   * takes a moment) and serve all later ones; they need an upscaler from `loadUpscaler`. Upscalers on ONNX Runtime
   * ignore it: they run on the threads they were loaded with (`loadUpscaler(spec, { threads })`).
   */
  workers?: number;
}

/** Starts a {@link TilePool} on first need: for images of more than one tile when more than one worker is asked. */
class LazyPool {
  private pool: Promise<TilePool> | undefined;
  constructor(
    private readonly upscaler: Upscaler,
    private readonly workers: number,
  ) {}
  async for(width: number, height: number, options: UpscaleFilesOptions): Promise<TilePool | undefined> {
    // ONNX Runtime spreads each tile over its own threads instead.
    if (this.workers <= 1 || this.upscaler.engine === 'onnx' || tileCount(width, height, options) <= 1) return undefined;
    this.pool ??= TilePool.start(this.upscaler, { workers: this.workers, backend: currentBackend() });
    return this.pool;
  }
  async close(): Promise<void> {
    const pool = this.pool;
    this.pool = undefined;
    await (await pool?.catch(() => undefined))?.close();
  }
}

/**
 * Input files -> output paths: one file to a file (or into a folder), many files or folders into a folder (PNG, the
 * inputs' names). Everything a user can get wrong about the output is refused here, before a model is loaded or an
 * image decoded: an output that is an input, a file name for several inputs, an unknown format, a folder that cannot
 * be written. Nothing is created (upscaleFiles makes the folder when it writes the first image).
 */
export async function planOutputs(inputs: string[], out: string): Promise<{ input: string; output: string }[]> {
  const files: string[] = [];
  let folders = 0;
  for (const input of inputs) {
    const s = await fs.stat(input).catch(() => undefined);
    if (!s) throw new UsageError(`${input}: no such file or folder`);
    if (s.isDirectory()) {
      folders++;
      files.push(...(await listImages(input)));
    } else files.push(input);
  }
  if (files.length === 0) throw new UsageError(`no images found in ${inputs.join(', ')}`);
  const outStat = await fs.stat(out).catch(() => undefined);
  const single = inputs.length === 1 && folders === 0;
  const intoFolder = !single || outStat?.isDirectory() === true || out.endsWith('/') || out.endsWith(path.sep);
  let jobs: { input: string; output: string }[];
  if (!intoFolder) {
    formatForPath(out);
    await checkWritableFolder(await nearestExisting(path.dirname(out)), out);
    jobs = [{ input: files[0]!, output: out }];
  } else {
    if (outStat && !outStat.isDirectory()) throw new UsageError(`${out}: is a file; ${single ? 'the output' : 'several inputs need an output folder'}`);
    // `-o result.png` for several inputs would make a folder named result.png: surely not what was meant.
    if (!outStat && isImageFile(out) && !out.endsWith('/') && !out.endsWith(path.sep)) {
      throw new UsageError(`${out}: looks like a file name, but ${inputs.length > 1 ? 'several inputs' : 'a folder input'} need an output folder`);
    }
    await checkWritableFolder(await nearestExisting(out), out);
    // Case-insensitive names: A.png and a.png are one file on macOS and Windows.
    const seen = new Set<string>();
    jobs = files.map((input) => {
      const base = path.parse(input).name;
      let name = `${base}.png`;
      for (let k = 2; seen.has(name.toLowerCase()); k++) name = `${base}-${k}.png`;
      seen.add(name.toLowerCase());
      return { input, output: path.join(out, name) };
    });
  }
  await refuseOverwritingInputs(jobs, files);
  return jobs;
}

/**
 * Upscales image files with tiled inference; outputs are written atomically (never half-written). A bad
 * input file is skipped with a warning; returns the number of images written and skipped.
 *
 * What comes out is what went in, upscaled: grey stays grey, alpha is kept (not in JPEG), 16-bit PNGs and TIFFs give
 * 16-bit PNGs (a warning where the output format holds 8 bits only); an animated or multi-page file is cut to its
 * first frame, with a warning. Inputs are read a band of rows at a time (source-file.ts), and PNG outputs encoded band
 * by band as the tiles finish, so memory is bounded by a row of tiles (at most {@link bandBudget}) whatever the image;
 * JPEG and WebP are encoded by sharp, which needs the whole 8-bit output.
 */
export async function upscaleFiles(
  jobs: { input: string; output: string }[],
  upscaler: Upscaler,
  options: UpscaleFilesOptions = {},
): Promise<{ written: number; skipped: number }> {
  let written = 0, skipped = 0;
  const pools = new LazyPool(upscaler, options.workers ?? 1);
  const warn = options.onWarning ?? (() => {});
  const read = options.maxPixels !== undefined ? { maxPixels: options.maxPixels } : {};
  try {
    for (const [k, job] of jobs.entries()) {
      options.onImage?.(k, jobs.length, job.input);
      const format = formatForPath(job.output);
      let img: SourceFile;
      try {
        // Sizes are checked on the header, before any pixel is decoded.
        const info = await readImageInfo(job.input, read);
        checkOutputSize(job.input, info, upscaler.scale, format, options);
        img = await SourceFile.open(job.input, read);
      } catch (err) {
        if (!(err instanceof OtsrError) || jobs.length === 1) throw err;
        warn(`skipped ${err.message}`);
        skipped++;
        continue;
      }
      if (img.framesLeft > 0) warn(`${job.input}: has ${img.framesLeft + 1} frames (animated or multi-page); only the first is upscaled`);
      if (img.depth === 16 && format !== 'png') warn(`${job.input}: 16 bits per channel written as 8 (${format} holds no more; a .png output keeps 16)`);
      try {
        const pool = await pools.for(img.width, img.height, options);
        await fs.mkdir(path.dirname(job.output), { recursive: true }).catch((err: unknown) => {
          throw writeError(job.output, err);
        });
        await writeUpscaled(job.output, format, img, upscaler, { ...options, workers: 1, ...(pool ? { pool } : {}) });
      } finally {
        await img.close();
      }
      written++;
    }
  } finally {
    await pools.close();
  }
  options.onImage?.(jobs.length, jobs.length, '');
  return { written, skipped };
}

/** JPEG and WebP sides that their encoders accept. */
const MAX_SIDE: Record<OutputFormat, number> = { png: 2 ** 31 - 1, jpeg: 65535, webp: 16383 };

/**
 * Bytes the blend may hold for a row of tiles (see band.ts): at least 40 MB, and 4 tiles of output in float (the
 * model's own memory for a tile is at least one, and usually several). Outputs so wide that a row of `--tile`-high
 * tiles would need more get shorter tiles, so that memory stays flat across image sizes for a given tile (within 20%
 * from 1 to 48 MP: bench/RESULTS.md; at 48 MP, tiles 128 wide are then 72 high, 13% more work on the overlaps).
 */
export function bandBudget(tile: number, scale: number, channels: number): number {
  return Math.max(40 * 2 ** 20, 4 * (tile * scale) ** 2 * channels * 4);
}

/** Refuses (InputError naming the input) an output that `format` cannot hold, or that would not fit in memory. */
function checkOutputSize(input: string, info: ImageInfo, scale: number, format: OutputFormat, options: UpscaleFilesOptions): void {
  const [width, height, channels] = [info.width * scale, info.height * scale, info.hasAlpha ? 4 : 3];
  const size = `upscaled x${scale} it would be ${width}x${height} (${Math.round((width * height) / 1e6)} MP)`;
  // The blend's buffers (16 bits: the most a PNG keeps), tiles as short as the budget makes them.
  const tile = checkTileOptions(options).tile;
  const plan = tilePlan(info.width, info.height, channels, scale, { ...options, depth: 16, maxBandBytes: bandBudget(tile, scale, channels) });
  if (plan.bandBytes > bufferConstants.MAX_LENGTH) {
    throw new InputError(input, `${size}; a row of ${tile}-pixel tiles of it would need up to ${(plan.bandBytes / 2 ** 30).toFixed(1)} GB: use a smaller --tile`);
  }
  if (width > MAX_SIDE[format] || height > MAX_SIDE[format]) {
    throw new InputError(input, `${size}, larger than ${format.toUpperCase()} allows (${MAX_SIDE[format]} pixels a side); write a .png`);
  }
  // Only PNG is streamed; the others hold the whole 8-bit output in one buffer.
  if (format !== 'png' && width * height * channels > bufferConstants.MAX_LENGTH) {
    throw new InputError(input, `${size}, too large to encode as ${format.toUpperCase()} in memory; write a .png (encoded as it is made)`);
  }
}

type TiledOptions = Omit<UpscaleFilesOptions, 'onImage'> & { pool?: TilePool };

/** Runs the tiler on `source` (with a pool of workers when asked) and hands the output rows, in `depth`, to `sink`. */
async function runTiles(source: TileSource, upscaler: Upscaler, options: TiledOptions, depth: 8 | 16, sink: RowSink): Promise<BandsResult> {
  const own = options.pool ? undefined : new LazyPool(upscaler, options.workers ?? 1);
  try {
    const pool = options.pool ?? (await own!.for(source.width, source.height, options));
    const bandOptions = { depth, maxBandBytes: bandBudget(checkTileOptions(options).tile, upscaler.scale, source.channels) };
    return await upscaleBands(
      source,
      {
        scale: upscaler.scale,
        ...bandOptions,
        ...(options.tile !== undefined ? { tile: options.tile } : {}),
        ...(options.overlap !== undefined ? { overlap: options.overlap } : {}),
        ...(options.onTile ? { progress: options.onTile } : {}),
        ...(options.signal ? { signal: options.signal } : {}),
      },
      pool ?? upscaler.runner,
      sink,
    );
  } finally {
    await own?.close();
  }
}

/** Upscales `img` into the file `output`, atomically: PNG streamed band by band, JPEG and WebP through sharp. */
async function writeUpscaled(output: string, format: OutputFormat, img: SourceFile, upscaler: Upscaler, options: TiledOptions): Promise<void> {
  const source = new RowWindow(img.width, img.height, img.channels, img.depth, (y0, count, into) => img.read(y0, count, into));
  if (format === 'png') {
    await writeStreamAtomic(output, async (write) => {
      let png: PngRowWriter | undefined;
      await runTiles(source, upscaler, options, img.depth, async (values, _y0, rows, out) => {
        if (!png) {
          png = new PngRowWriter(out.width, out.height, out.channels, img.depth, write);
          await png.start();
        }
        await png.addRows(values as Uint8Array | Uint16Array, rows);
      });
      await png!.finish();
    });
    return;
  }
  // JPEG holds no alpha: dropped, as sharp would.
  const keep = (format === 'jpeg' && (img.channels === 2 || img.channels === 4) ? img.channels - 1 : img.channels) as 1 | 2 | 3 | 4;
  let bytes: Uint8Array | undefined;
  const out = await runTiles(source, upscaler, options, 8, (values, y0, rows, o) => {
    bytes ??= new Uint8Array(o.width * o.height * keep);
    const first = y0 * o.width;
    for (let i = 0; i < rows * o.width; i++) {
      for (let c = 0; c < keep; c++) bytes[(first + i) * keep + c] = values[i * o.channels + c]!;
    }
  });
  await writeFileAtomic(output, await encodeRaw(bytes!, out.width, out.height, keep, format));
}

/**
 * One 8-bit image through the tiled upscaler (alpha, when present, is upscaled too). With `workers` > 1 the tiles
 * are spread over that many worker threads started for this image (bit-identical output), or over `pool`.
 */
export async function upscaleRgb(img: RgbImage, upscaler: Upscaler, options: TiledOptions = {}): Promise<RgbImage> {
  const n = img.width * img.height;
  let data: Uint8Array = img.data;
  if (img.alpha) {
    data = new Uint8Array(n * 4);
    for (let i = 0; i < n; i++) {
      data.set(img.data.subarray(3 * i, 3 * i + 3), 4 * i);
      data[4 * i + 3] = img.alpha[i]!;
    }
  }
  const channels = img.alpha ? 4 : 3;
  let rgb: Uint8Array | undefined, alpha: Uint8Array | undefined;
  const out = await runTiles(pixelSource(data, img.width, img.height, channels, 127.5), upscaler, options, 8, (values, y0, rows, o) => {
    rgb ??= new Uint8Array(o.width * o.height * 3);
    if (img.alpha) alpha ??= new Uint8Array(o.width * o.height);
    const first = y0 * o.width;
    for (let i = 0; i < rows * o.width; i++) {
      for (let c = 0; c < 3; c++) rgb[3 * (first + i) + c] = values[i * channels + c]!;
      if (alpha) alpha[first + i] = values[i * 4 + 3]!;
    }
  });
  return { width: out.width, height: out.height, data: rgb!, ...(alpha ? { alpha } : {}) };
}
