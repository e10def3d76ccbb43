/**
 * The pixel arithmetic of otsr's synthetic degradations (blur -> mod-crop -> bicubic 1/s -> noise), on float
 * images, and the whole chain to 8-bit pixels with the JPEG step supplied by the caller: browser-safe, so that the
 * web page's trainer makes its pretraining pairs exactly as `otsr train` does. Files and sharp's JPEG codec are
 * in degrade.ts.
 */
import { UsageError } from '../errors.js';
import type { Rng } from '../util/rng.js';
import { type FloatImage, type RgbImage, fromFloat, toFloat } from './pixels.js';
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


/** A JPEG encode at `quality` (1-100, 4:2:0) and decode back to 8-bit RGB: sharp in Node, a canvas in the browser. */
export type JpegRoundTrip = (image: RgbImage, quality: number) => Promise<RgbImage>;

/** The degraded image as 8-bit RGB: {@link degradeFloat}, quantized, then JPEG through `jpeg` when `options.jpeg` is set. */
export async function degradeRgb(img: RgbImage, options: DegradeOptions, rng: Rng, jpeg: JpegRoundTrip): Promise<RgbImage> {
  const lr = fromFloat(degradeFloat(toFloat(img), options, rng));
  return options.jpeg === undefined ? lr : jpeg(lr, options.jpeg);
}
