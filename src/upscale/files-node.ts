import { constants as fsConstants, promises as fs } from 'node:fs';
import path from 'node:path';
import { listImages } from '../data/folder.js';
import { OtsrError, UsageError } from '../errors.js';
import { readImage, writeImage, type RgbImage } from '../image/io.js';
import { writeError } from '../util/atomic-write.js';
import { TilePool, currentBackend } from './tile-pool-node.js';
import { tileCount, upscaleTiles } from './tiles.js';
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

/** Input files -> output paths: one file to a file (or into a folder), many files or folders into a folder. */
export async function planOutputs(inputs: string[], out: string): Promise<{ input: string; output: string }[]> {
  const files: string[] = [];
  for (const input of inputs) {
    const s = await fs.stat(input).catch(() => undefined);
    if (!s) throw new UsageError(`${input}: no such file or folder`);
    if (s.isDirectory()) files.push(...(await listImages(input)));
    else files.push(input);
  }
  if (files.length === 0) throw new UsageError(`no images found in ${inputs.join(', ')}`);
  const outStat = await fs.stat(out).catch(() => undefined);
  const single = files.length === 1 && inputs.length === 1 && !(await fs.stat(inputs[0]!)).isDirectory();
  const intoFolder = !single || outStat?.isDirectory() === true || out.endsWith('/') || out.endsWith(path.sep);
  if (!intoFolder) {
    // Checked now, not after minutes of upscaling.
    await checkWritableFolder(path.dirname(out), out);
    return [{ input: files[0]!, output: out }];
  }
  await fs.mkdir(out, { recursive: true }).catch((err: unknown) => {
    throw new OtsrError(`${out}: cannot create the output folder (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
  });
  await checkWritableFolder(out, out);
  const seen = new Set<string>();
  return files.map((input) => {
    let name = `${path.parse(input).name}.png`;
    for (let k = 2; seen.has(name); k++) name = `${path.parse(input).name}-${k}.png`;
    seen.add(name);
    return { input, output: path.join(out, name) };
  });
}

/** The folder that will receive `output` exists, is a folder and is writable; else one line naming `output`. */
async function checkWritableFolder(dir: string, output: string): Promise<void> {
  const s = await fs.stat(dir).catch((err: unknown) => err as NodeJS.ErrnoException);
  if (s instanceof Error) throw writeError(output, s);
  if (!s.isDirectory()) throw writeError(output, Object.assign(new Error('not a folder'), { code: 'ENOTDIR' }));
  await fs.access(dir, fsConstants.W_OK).catch((err: unknown) => {
    throw writeError(output, err);
  });
}

/**
 * Upscales image files with tiled inference; outputs are written atomically (never half-written). A bad
 * input file is skipped with a warning; returns the number of images written and skipped.
 */
export async function upscaleFiles(
  jobs: { input: string; output: string }[],
  upscaler: Upscaler,
  options: UpscaleFilesOptions = {},
): Promise<{ written: number; skipped: number }> {
  let written = 0, skipped = 0;
  const pools = new LazyPool(upscaler, options.workers ?? 1);
  try {
    for (const [k, job] of jobs.entries()) {
      options.onImage?.(k, jobs.length, job.input);
      let img: RgbImage;
      try {
        img = await readImage(job.input, options.maxPixels !== undefined ? { maxPixels: options.maxPixels } : {});
      } catch (err) {
        if (!(err instanceof OtsrError) || jobs.length === 1) throw err;
        options.onWarning?.(`skipped ${err.message}`);
        skipped++;
        continue;
      }
      const pool = await pools.for(img.width, img.height, options);
      const out = await upscaleRgb(img, upscaler, { ...options, workers: 1, ...(pool ? { pool } : {}) });
      await writeImage(job.output, out);
      written++;
    }
  } finally {
    await pools.close();
  }
  options.onImage?.(jobs.length, jobs.length, '');
  return { written, skipped };
}

/**
 * One 8-bit image through the tiled upscaler (alpha, when present, is upscaled too). With `workers` > 1 the tiles
 * are spread over that many worker threads started for this image (bit-identical output), or over `pool`.
 */
export async function upscaleRgb(
  img: RgbImage,
  upscaler: Upscaler,
  options: Omit<UpscaleFilesOptions, 'onImage'> & { pool?: TilePool } = {},
): Promise<RgbImage> {
  const channels = img.alpha ? 4 : 3;
  const n = img.width * img.height;
  const data = new Float32Array(n * channels);
  for (let i = 0; i < n; i++) {
    for (let c = 0; c < 3; c++) data[i * channels + c] = img.data[3 * i + c]! / 127.5 - 1;
    if (img.alpha) data[i * 4 + 3] = img.alpha[i]! / 127.5 - 1;
  }
  const own = options.pool ? undefined : new LazyPool(upscaler, options.workers ?? 1);
  let result: Awaited<ReturnType<typeof upscaleTiles>>;
  try {
    const pool = options.pool ?? (await own!.for(img.width, img.height, options));
    result = await upscaleTiles(
      { data, width: img.width, height: img.height, channels },
      {
        scale: upscaler.scale,
        ...(options.tile !== undefined ? { tile: options.tile } : {}),
        ...(options.overlap !== undefined ? { overlap: options.overlap } : {}),
        ...(options.onTile ? { progress: options.onTile } : {}),
        ...(options.signal ? { signal: options.signal } : {}),
      },
      pool ?? upscaler.runner,
    );
  } finally {
    await own?.close();
  }
  const m = result.width * result.height;
  const rgb = new Uint8Array(m * 3);
  const alpha = img.alpha ? new Uint8Array(m) : undefined;
  const to8 = (v: number) => Math.min(255, Math.max(0, Math.round((v + 1) * 127.5)));
  for (let i = 0; i < m; i++) {
    for (let c = 0; c < 3; c++) rgb[3 * i + c] = to8(result.data[i * channels + c]!);
    if (alpha) alpha[i] = to8(result.data[i * 4 + 3]!);
  }
  return { width: result.width, height: result.height, data: rgb, ...(alpha ? { alpha } : {}) };
}
