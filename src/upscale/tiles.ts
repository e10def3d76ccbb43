import * as tf from '@tensorflow/tfjs-core';
import { CancelledError, OtsrError, UsageError } from '../errors.js';

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

/** Starts of `size`-long windows that cover `length` with neighbours sharing at least `overlap`, evenly spread. */
export function tileStarts(length: number, size: number, overlap: number): number[] {
  if (length <= size) return [0];
  const count = Math.ceil((length - overlap) / (size - overlap));
  return Array.from({ length: count }, (_, i) => Math.round((i * (length - size)) / (count - 1)));
}

/** How many tiles {@link upscale} cuts a `width` x `height` image into with these options. */
export function tileCount(width: number, height: number, options: Pick<UpscaleOptions, 'tile' | 'overlap'> = {}): number {
  const tile = options.tile ?? 256;
  const overlap = options.overlap ?? Math.min(16, Math.floor(tile / 4));
  return tileStarts(width, Math.min(tile, width), overlap).length * tileStarts(height, Math.min(tile, height), overlap).length;
}

/**
 * Blend weight along one axis of a tile's output: 1 inside, falling to 0 towards an edge shared with another
 * tile (never towards the image border, where the tile sees exactly what the whole image would).
 * @param start tile start (LR), `size` tile side (LR), `length` image side (LR).
 */
export function axisWeights(start: number, size: number, length: number, scale: number, overlap: number): Float32Array {
  const margin = overlap / 4;
  const ramp = overlap / 2;
  const leftShared = start > 0;
  const rightShared = start + size < length;
  const n = size * scale;
  const w = new Float32Array(n);
  const side = (d: number) => {
    if (d <= margin) return 0;
    if (d >= margin + ramp) return 1;
    return 0.5 - 0.5 * Math.cos((Math.PI * (d - margin)) / ramp);
  };
  for (let u = 0; u < n; u++) {
    // Distance of the output pixel's centre to each edge, in LR pixels.
    const dl = (u + 0.5) / scale;
    const dr = size - dl;
    w[u] = (leftShared ? side(dl) : 1) * (rightShared ? side(dr) : 1);
  }
  return w;
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

/**
 * Pixels the tiler reads, tile by tile, without a float copy of the whole image: value `c` of pixel `i` (row-major) is
 * `data[i * channels + c] / divisor - 1` ({@link FloatImage}: divisor 1 and the values as they are, through
 * {@link floatSource}; 8-bit data: 127.5; 16-bit: 32767.5). Channels as in FloatImage: 1 grey, 2 grey + alpha,
 * 3 RGB, 4 RGBA.
 */
export interface TileSource {
  data: Float32Array | Uint8Array | Uint16Array | Uint8ClampedArray;
  width: number;
  height: number;
  channels: number;
  /** 1 marks float data in [-1, 1], read as is. */
  divisor: number;
}

function floatSource(src: FloatImage): TileSource {
  return { ...src, divisor: 1 };
}

/**
 * Receives the finished output rows `y0 .. y0 + rows - 1`, top to bottom, as the first `rows * width * channels`
 * float values of `values` (not clamped), a buffer that is reused once the returned promise settles: copy what is kept.
 */
export type RowSink = (values: Float32Array, y0: number, rows: number, output: BandsResult) => void | Promise<void>;

/** The output of {@link upscaleBands}: its size is known once the first tile is back (the scale may come from it). */
export interface BandsResult {
  width: number;
  height: number;
  channels: number;
  scale: number;
}

/**
 * {@link upscale} with the model behind a {@link TileRunner}. The output depends only on the runner's results for
 * each batch (the batches, the blend and its order of sums are fixed), so runners that compute alike (the same
 * model on the same backend, in any thread) give bit-identical images.
 */
export async function upscaleTiles(src: FloatImage, options: TileOptions, runner: TileRunner): Promise<FloatImage> {
  let out: Float32Array | undefined;
  const { width, height, channels } = await upscaleBands(floatSource(src), options, runner, (values, y0, rows, info) => {
    out ??= new Float32Array(info.width * info.height * info.channels);
    out.set(values.subarray(0, rows * info.width * info.channels), y0 * info.width * info.channels);
  });
  return { data: out!, width, height, channels };
}

/**
 * The tiler itself: {@link upscaleTiles} with the output handed to `sink` in bands of rows as soon as they are final,
 * so that memory is bounded by one row of tiles (`tile * scale` output rows of the image's output width), not by
 * the output. Tiles are run row of tiles by row of tiles; the rows a tile row finishes (those above the next one)
 * are normalised and sent, the overlap is kept for the next.
 */
export async function upscaleBands(
  src: TileSource,
  options: TileOptions,
  runner: TileRunner,
  sink: RowSink,
): Promise<BandsResult> {
  const { width: W, height: H, channels: C, data, divisor } = src;
  if (![1, 2, 3, 4].includes(C)) throw new OtsrError(`upscale: images need 1 to 4 channels, got ${C}`);
  if (!(W >= 1 && H >= 1) || data.length !== W * H * C) {
    throw new OtsrError(`upscale: image data has ${data.length} values, not ${W}x${H}x${C}`);
  }
  const { tile, overlap } = checkTileOptions(options);
  const batchSize = checkInt(options.batchSize ?? 1, 'batchSize', 1);
  const concurrency = checkInt(runner.concurrency, 'concurrency', 1);
  let scale = options.scale === undefined ? undefined : checkInt(options.scale, 'scale', 1);
  const { progress, signal } = options;

  const tw = Math.min(tile, W), th = Math.min(tile, H);
  const xs = tileStarts(W, tw, overlap), ys = tileStarts(H, th, overlap);
  const tiles = ys.flatMap((y) => xs.map((x) => ({ x, y })));
  const grey = C <= 2;
  const hasAlpha = C === 2 || C === 4;
  // Float data is read as is (v / 1 - 0); integer data mapped to [-1, 1] as toFloat does (v / 127.5 - 1).
  const shift = divisor === 1 ? 0 : 1;

  /** The band: output rows `top .. top + TH - 1`, accumulating weighted sums, allocated with the first result. */
  let acc: Float32Array | undefined;
  let top = 0;
  let info: BandsResult | undefined;
  let wx = new Map<number, Float32Array>(), wy = new Map<number, Float32Array>();
  let sx = new Float64Array(0), sy = new Float64Array(0);

  /** Cuts batch `start`'s tiles out of the image and hands them to the runner. */
  const launch = (start: number) => {
    const batch = tiles.slice(start, start + batchSize);
    const b = batch.length;
    // Gather the batch's pixels: colour as RGB, alpha apart.
    const rgb = new Float32Array(b * th * tw * 3);
    const alpha = hasAlpha ? new Float32Array(b * th * tw) : undefined;
    batch.forEach(({ x, y }, k) => {
      for (let r = 0; r < th; r++) {
        for (let c = 0; c < tw; c++) {
          const s = ((y + r) * W + x + c) * C;
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

  /**
   * Output rows above `until` are final: normalise them and send them, then move the band down. The tiles form a full
   * grid, so the weight sum at (X, Y) is (sum of x weights at X) * (sum of y weights at Y): no weight buffer.
   */
  const flush = async (until: number) => {
    const band = acc!, { width: OW } = info!;
    const rows = until - top;
    if (rows <= 0) return;
    for (let v = 0; v < rows; v++) {
      const Y = top + v;
      for (let X = 0; X < OW; X++) {
        const p = (v * OW + X) * C;
        const inv = 1 / (sx[X]! * sy[Y]!);
        for (let c = 0; c < C; c++) band[p + c] = band[p + c]! * inv;
      }
    }
    await sink(band, top, rows, info!);
    band.copyWithin(0, rows * OW * C);
    band.fill(0, band.length - rows * OW * C);
    top = until;
  };

  const queue: ReturnType<typeof launch>[] = [];
  let next = 0;
  try {
    while (next < tiles.length || queue.length > 0) {
      while (next < tiles.length && queue.length < concurrency) {
        if (signal?.aborted) throw new CancelledError();
        queue.push(launch(next));
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
      const OW = W * s, TW = tw * s, TH = th * s;
      if (!info) {
        info = { width: OW, height: H * s, channels: C, scale: s };
        acc = new Float32Array(OW * TH * C);
        wx = new Map(xs.map((x) => [x, axisWeights(x, tw, W, s, overlap)]));
        wy = new Map(ys.map((y) => [y, axisWeights(y, th, H, s, overlap)]));
        const total = (starts: number[], weights: Map<number, Float32Array>, n: number) => {
          const sum = new Float64Array(n);
          for (const start of starts) weights.get(start)!.forEach((w, u) => (sum[start * s + u] = sum[start * s + u]! + w));
          return sum;
        };
        sx = total(xs, wx, OW);
        sy = total(ys, wy, H * s);
      }
      for (const [k, { x, y: y0 }] of batch.entries()) {
        // A new row of tiles: the rows above it are final.
        if (y0 * s > top) await flush(y0 * s);
        const band = acc!;
        const fx = wx.get(x)!, fy = wy.get(y0)!;
        for (let v = 0; v < TH; v++) {
          const wv = fy[v]!;
          if (wv === 0) continue;
          for (let u = 0; u < TW; u++) {
            const w = wv * fx[u]!;
            if (w === 0) continue;
            const p = (y0 * s + v - top) * OW + x * s + u;
            const q = (k * TH + v) * TW + u;
            if (grey) band[p * C] = band[p * C]! + (w * (values[3 * q]! + values[3 * q + 1]! + values[3 * q + 2]!)) / 3;
            else {
              band[p * C] = band[p * C]! + w * values[3 * q]!;
              band[p * C + 1] = band[p * C + 1]! + w * values[3 * q + 1]!;
              band[p * C + 2] = band[p * C + 2]! + w * values[3 * q + 2]!;
            }
            if (alphaValues) band[p * C + C - 1] = band[p * C + C - 1]! + w * alphaValues[q]!;
          }
        }
      }
      await progress?.(start + b, tiles.length);
    }
  } finally {
    // Batches still in flight (after an error or a cancel) are left to finish; their results are dropped.
    queue.length = 0;
  }
  await flush(info!.height);
  return info!;
}
