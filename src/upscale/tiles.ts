import * as tf from '@tensorflow/tfjs-core';
import { CancelledError, OtsrError, UsageError } from '../errors.js';
import { type BandDepth, type BandSamples, Blend, blendBytes } from './band.js';
import { axisLayout, tileStarts } from './tile-layout.js';

export { axisWeights, tileStarts } from './tile-layout.js';
export type { BandDepth, BandSamples } from './band.js';

/**
 * An image as float values in [-1, 1]: `height` rows of `width` pixels of `channels` interleaved values (HWC).
 * Channels: 1 grey, 2 grey + alpha, 3 RGB, 4 RGBA.
 */
export interface FloatImage {
  data: Float32Array;
  width: number;
  height: number;
  channels: number;
}

/**
 * A super-resolution network as a function: `[b, h, w, 3]` in [-1, 1] to `[b, h * scale, w * scale, 3]`
 * (e.g. an otsr Module's `apply`, or an UpscalerJS model's `predict`). Called inside `tf.tidy`; it must not
 * dispose its input.
 */
export type UpscaleModel = (batch: tf.Tensor4D) => tf.Tensor4D;

export interface UpscaleOptions {
  model: UpscaleModel;
  /** The model's factor; checked against its outputs, or found from the first one when omitted. */
  scale?: number;
  /** Side of the tiles fed to the model, in input (LR) pixels; default 256. Bounds memory, not the image. */
  tile?: number;
  /**
   * LR pixels shared by neighbouring tiles; default 16 (tile/4 for tiles under 64). The blend gives each tile weight 0 within overlap/4
   * pixels of an edge it shares with another tile and ramps up (raised cosine) over the next overlap/2, so the
   * result equals whole-image inference exactly wherever the model's receptive-field radius is at most
   * overlap/4 LR pixels, and stays seamless (smooth weights) where it is larger.
   */
  overlap?: number;
  /** Tiles per model call; default 1. All tiles have the same size, so they batch. */
  batchSize?: number;
  /**
   * Called after each model call with (tiles done, tiles in all). When it returns a promise, the next tile
   * waits for it: a web page yields there to paint its progress bar and see a click on Cancel.
   */
  progress?: ((done: number, total: number) => void) | ((done: number, total: number) => Promise<void>);
  /** Aborting rejects with CancelledError before the next model call; every tensor is freed. */
  signal?: AbortSignal;
}

/** How many tiles {@link upscale} cuts a `width` x `height` image into with these options. */
export function tileCount(width: number, height: number, options: Pick<UpscaleOptions, 'tile' | 'overlap'> = {}): number {
  const tile = options.tile ?? 256;
  const overlap = options.overlap ?? Math.min(16, Math.floor(tile / 4));
  return tileStarts(width, Math.min(tile, width), overlap).length * tileStarts(height, Math.min(tile, height), overlap).length;
}

/**
 * Upscales an image of any size with a super-resolution model, one tile at a time, so that the memory the
 * model needs is bounded by the tile, not the image: the image is cut into overlapping `tile` x `tile` tiles,
 * each is run through the model, and the overlaps are blended with smooth weights (see
 * {@link UpscaleOptions.overlap}), so that no seams show.
 *
 * - RGB goes through the model as is. Grey images are run as RGB (the grey value in all three channels) and
 *   the output's three channels averaged back to one.
 * - Alpha is not run through the model (which was trained on photos, not masks): it is resized bilinearly
 *   (half-pixel centres), tile by tile with the same blend.
 * - The output is not clamped to [-1, 1] (callers quantising to 8 bits clamp).
 *
 * @param image HWC float values in [-1, 1], as a {@link FloatImage} or a `tf.Tensor3D` (which is not disposed).
 * @returns the upscaled image in the same form as the input (a new tensor for a tensor input).
 */
export async function upscale(image: FloatImage, options: UpscaleOptions): Promise<FloatImage>;
export async function upscale(image: tf.Tensor3D, options: UpscaleOptions): Promise<tf.Tensor3D>;
export async function upscale(image: FloatImage | tf.Tensor3D, options: UpscaleOptions): Promise<FloatImage | tf.Tensor3D> {
  const runner = modelRunner(options.model);
  if (image instanceof tf.Tensor) {
    if (image.rank !== 3) throw new OtsrError(`upscale: expected an [h, w, c] tensor, got shape [${image.shape}]`);
    const [height, width, channels] = image.shape;
    const data = (await image.data()) as Float32Array;
    const out = await upscaleTiles({ data, width, height, channels }, options, runner);
    return tf.tensor3d(out.data, [out.height, out.width, out.channels]);
  }
  return upscaleTiles(image, options, runner);
}

/** {@link UpscaleOptions} without the model: how to tile, and progress. */
export type TileOptions = Omit<UpscaleOptions, 'model'>;

/**
 * Where the model runs on a batch of tiles: in this thread ({@link upscale}) or elsewhere (worker threads, see
 * upscale/tile-pool-node.ts). The tiler hands over `pixels` (`shape` [b, th, tw, 3], values in [-1, 1]; the runner
 * may keep or transfer the array) and expects the model's output back.
 */
export interface TileRunner {
  run(pixels: Float32Array, shape: [number, number, number, number]): Promise<{ data: Float32Array; shape: number[] }>;
  /**
   * Batches handed over before the oldest one's result is awaited (1: strictly one after the other). Results are
   * still blended in tile order, so the output does not depend on it.
   */
  concurrency: number;
}

/** A runner calling `model` in this thread, one batch at a time. */
export function modelRunner(model: UpscaleModel): TileRunner {
  return {
    concurrency: 1,
    run: async (pixels, shape) => {
      const y = tf.tidy(() => model(tf.tensor4d(pixels, shape)));
      try {
        return { data: (await y.data()) as Float32Array, shape: y.shape };
      } finally {
        y.dispose();
      }
    },
  };
}

function checkInt(value: number, name: string, min: number): number {
  if (!Number.isInteger(value) || value < min) throw new UsageError(`${name} must be an integer >= ${min}, got ${value}`);
  return value;
}

/** The tile side and overlap `options` ask for (defaults filled in); UsageError for values the tiler cannot use. */
export function checkTileOptions(options: Pick<TileOptions, 'tile' | 'overlap'>): { tile: number; overlap: number } {
  const tile = checkInt(options.tile ?? 256, 'tile', 1);
  const overlap = checkInt(options.overlap ?? Math.min(16, Math.floor(tile / 4)), 'overlap', 0);
  if (overlap >= tile) throw new UsageError(`overlap (${overlap}) must be smaller than tile (${tile})`);
  return { tile, overlap };
}


/** Input rows the tiler reads: `data` holds rows from `first` on (row-major, interleaved), as far as asked. */
export interface RowBlock {
  data: Float32Array | Uint8Array | Uint16Array | Uint8ClampedArray;
  first: number;
}

/**
 * Pixels the tiler reads, a band of rows at a time, without a float copy of the image: value `c` of pixel (x, y) is
 * `data[((y - first) * width + x) * channels + c] / divisor - 1` of the block `rows` gives ({@link FloatImage}:
 * divisor 1 and the values as they are; 8-bit data: 127.5; 16-bit: 32767.5). Channels as in FloatImage: 1 grey,
 * 2 grey + alpha, 3 RGB, 4 RGBA. A whole image in memory is {@link pixelSource}; a file read as it goes, RowWindow.
 */
export interface TileSource {
  width: number;
  height: number;
  channels: number;
  /** 1 marks float data in [-1, 1], read as is. */
  divisor: number;
  /**
   * Rows `y0 .. y1 - 1` (at least). The tiler asks in tile order, `y0` never decreasing, and reads the block before
   * it asks again, so a source may then drop the rows above the new `y0`.
   */
  rows(y0: number, y1: number): RowBlock | Promise<RowBlock>;
}

function checkChannels(channels: number): void {
  if (![1, 2, 3, 4].includes(channels)) throw new OtsrError(`upscale: images need 1 to 4 channels, got ${channels}`);
}

/** A {@link TileSource} over a whole image in memory. */
export function pixelSource(data: RowBlock['data'], width: number, height: number, channels: number, divisor: number): TileSource {
  checkChannels(channels);
  if (data.length !== width * height * channels) throw new OtsrError(`upscale: image data has ${data.length} values, not ${width}x${height}x${channels}`);
  const block = { data, first: 0 };
  return { width, height, channels, divisor, rows: () => block };
}

/**
 * Receives the finished output rows `y0 .. y0 + rows - 1`, top to bottom, as the first `rows * width * channels`
 * values of `values` (float, not clamped, or 8- or 16-bit: {@link BandOptions.depth}), a buffer that is reused once
 * the returned promise settles: copy what is kept.
 */
export type RowSink = (values: BandSamples, y0: number, rows: number, output: BandsResult) => void | Promise<void>;

/** The output of {@link upscaleBands}: its size is known once the first tile is back (the scale may come from it). */
export interface BandsResult {
  width: number;
  height: number;
  channels: number;
  scale: number;
}

/** {@link TileOptions} for {@link upscaleBands}: what the finished rows are, and how much memory they may take. */
export interface BandOptions extends TileOptions {
  /** Finished rows as float (default), or rounded to 8 or 16 bits (as `(v + 1) * 127.5`, or 32767.5, clamped). */
  depth?: BandDepth;
  /**
   * Bytes the blend may hold (its float window and seam, and the finished rows of a row of tiles): where a row of
   * `tile`-high tiles would need more (very wide outputs), the tiles are made shorter, down to 4 overlaps (or the
   * tile). Default: no limit. Needs `scale`.
   */
  maxBandBytes?: number;
}

/**
 * {@link upscale} with the model behind a {@link TileRunner}. The output depends only on the runner's results for
 * each batch (the batches, the blend and its order of sums are fixed), so runners that compute alike (the same
 * model on the same backend, in any thread) give bit-identical images.
 */
export async function upscaleTiles(src: FloatImage, options: TileOptions, runner: TileRunner): Promise<FloatImage> {
  let out: Float32Array | undefined;
  const source = pixelSource(src.data, src.width, src.height, src.channels, 1);
  const { width, height, channels } = await upscaleBands(source, options, runner, (values, y0, rows, info) => {
    out ??= new Float32Array(info.width * info.height * info.channels);
    out.set(values.subarray(0, rows * info.width * info.channels), y0 * info.width * info.channels);
  });
  return { data: out!, width, height, channels };
}

/**
 * The tiles {@link upscaleBands} cuts a `width` x `height` image into, upscaled `scale` times, and the bytes its blend
 * then holds (window, seam, finished rows). With {@link BandOptions.maxBandBytes}, the tiles are the tallest (from
 * `tile` down) whose blend fits in it, but not under 4 overlaps (taller tiles waste less on overlaps).
 */
export function tilePlan(width: number, height: number, channels: number, scale: number, options: BandOptions): { tileWidth: number; tileHeight: number; bandBytes: number } {
  const { tile, overlap } = checkTileOptions(options);
  const depth = options.depth ?? 'float';
  const tw = Math.min(tile, width);
  const bytes = (th: number) => blendBytes(axisLayout(height, th, scale, overlap), width * scale, tw * scale, channels, depth);
  let th = Math.min(tile, height);
  if (options.maxBandBytes !== undefined && bytes(th) > options.maxBandBytes) {
    // Bisection: the bytes grow with the height (all but the rounding of the tile starts).
    let lo = Math.min(th, Math.max(4 * overlap, overlap + 1)), hi = th - 1;
    while (lo < hi) {
      const mid = Math.ceil((lo + hi) / 2);
      if (bytes(mid) <= options.maxBandBytes) lo = mid;
      else hi = mid - 1;
    }
    th = lo;
  }
  return { tileWidth: tw, tileHeight: th, bandBytes: bytes(th) };
}

/**
 * The tiler itself: {@link upscaleTiles} with the input read a band of rows at a time and the output handed to `sink`
 * in bands of rows as soon as they are final, so that memory is bounded by a row of tiles (see band.ts for what is
 * kept, and {@link BandOptions.maxBandBytes} to bound that too), not by the image.
 */
export async function upscaleBands(
  src: TileSource,
  options: BandOptions,
  runner: TileRunner,
  sink: RowSink,
): Promise<BandsResult> {
  const { width: W, height: H, channels: C, divisor } = src;
  checkChannels(C);
  if (!(Number.isInteger(W) && Number.isInteger(H) && W >= 1 && H >= 1)) throw new OtsrError(`upscale: bad image size ${W}x${H}`);
  const { tile, overlap } = checkTileOptions(options);
  const batchSize = checkInt(options.batchSize ?? 1, 'batchSize', 1);
  const concurrency = checkInt(runner.concurrency, 'concurrency', 1);
  let scale = options.scale === undefined ? undefined : checkInt(options.scale, 'scale', 1);
  const { progress, signal } = options;
  const depth = options.depth ?? 'float';

  const tw = Math.min(tile, W);
  let th = Math.min(tile, H);
  if (options.maxBandBytes !== undefined) {
    if (scale === undefined) throw new OtsrError('upscale: maxBandBytes needs the scale');
    th = tilePlan(W, H, C, scale, options).tileHeight;
  }
  const xs = tileStarts(W, tw, overlap), ys = tileStarts(H, th, overlap);
  const tiles = ys.flatMap((y) => xs.map((x) => ({ x, y })));
  const grey = C <= 2;
  const hasAlpha = C === 2 || C === 4;
  // Float data is read as is (v / 1 - 0); integer data mapped to [-1, 1] as toFloat does (v / 127.5 - 1).
  const shift = divisor === 1 ? 0 : 1;

  /** Made with the first result (the scale may come from it). */
  let blend: Blend | undefined;
  let info: BandsResult | undefined;

  /** Cuts batch `start`'s tiles out of the image and hands them to the runner. */
  const launch = async (start: number) => {
    const batch = tiles.slice(start, start + batchSize);
    const b = batch.length;
    const { data, first } = await src.rows(batch[0]!.y, batch[b - 1]!.y + th);
    // Gather the batch's pixels: colour as RGB, alpha apart.
    const rgb = new Float32Array(b * th * tw * 3);
    const alpha = hasAlpha ? new Float32Array(b * th * tw) : undefined;
    batch.forEach(({ x, y }, k) => {
      for (let r = 0; r < th; r++) {
        for (let c = 0; c < tw; c++) {
          const s = ((y + r - first) * W + x + c) * C;
          const t = (k * th + r) * tw + c;
          if (grey) rgb[3 * t] = rgb[3 * t + 1] = rgb[3 * t + 2] = data[s]! / divisor - shift;
          else {
            rgb[3 * t] = data[s]! / divisor - shift;
            rgb[3 * t + 1] = data[s + 1]! / divisor - shift;
            rgb[3 * t + 2] = data[s + 2]! / divisor - shift;
          }
          if (alpha) alpha[t] = data[s + C - 1]! / divisor - shift;
        }
      }
    });
    const result = runner.run(rgb, [b, th, tw, 3]);
    // Awaited in order later; until then a failure must not count as unhandled.
    result.catch(() => {});
    return { start, batch, alpha, result };
  };

  const queue: Awaited<ReturnType<typeof launch>>[] = [];
  let next = 0;
  try {
    while (next < tiles.length || queue.length > 0) {
      while (next < tiles.length && queue.length < concurrency) {
        if (signal?.aborted) throw new CancelledError();
        queue.push(await launch(next));
        next += batchSize;
      }
      const { start, batch, alpha, result } = queue.shift()!;
      const b = batch.length;
      const { data: values, shape } = await result;
      const [ob, oh, ow, oc] = shape;
      const s = scale ?? oh! / th;
      if (shape.length !== 4 || ob !== b || oc !== 3 || !Number.isInteger(s) || oh !== th * s || ow !== tw * s) {
        throw new OtsrError(
          `upscale: the model turned a [${b}, ${th}, ${tw}, 3] batch into [${shape}]; ` +
            `expected [${b}, ${th}, ${tw}, 3] times ${scale ?? 'an integer scale'} in height and width`,
        );
      }
      let alphaValues: Float32Array | undefined;
      if (alpha) {
        const a = tf.tidy(() => tf.image.resizeBilinear(tf.tensor4d(alpha, [b, th, tw, 1]), [th * s, tw * s], false, true));
        try {
          alphaValues = (await a.data()) as Float32Array;
        } finally {
          a.dispose();
        }
      }
      scale = s;
      if (!info) {
        info = { width: W * s, height: H * s, channels: C, scale: s };
        blend = new Blend(axisLayout(H, th, s, overlap), axisLayout(W, tw, s, overlap), s, tw * s, C, depth);
      }
      for (let k = 0; k < b; k++) {
        const done = blend!.add(values, k * th * s * tw * s, alphaValues);
        if (done) await sink(done.data, done.y0, done.rows, info);
      }
      await progress?.(start + b, tiles.length);
    }
  } finally {
    // Batches still in flight (after an error or a cancel) are left to finish; their results are dropped.
    queue.length = 0;
  }
  return info!;
}
