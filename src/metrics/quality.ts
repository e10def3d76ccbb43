/*
 * Measurement protocol shared by {@link psnr} and {@link ssim} (the common RGB protocol of super-resolution
 * papers and BasicSR with `test_y_channel=False`):
 * - values in [0, 255]; a float output should first be rounded and clamped to 8 bits, as a saved PNG would be
 *   (see {@link quantizeSigned});
 * - `border` pixels cropped from each side (use the scale factor);
 * - on the colour channels as they are: R, G, B for images with 3 or 4 channels (alpha ignored), the single
 *   channel of grey images; no conversion to Y.
 */
import { OtsrError } from '../errors.js';

/**
 * An image with 8-bit-range values: `height` rows of `width` pixels of `channels` interleaved values in
 * [0, 255] (HWC). Any numeric array works (Uint8Array from a decoder, Float32Array, ...).
 */
export interface RgbImage {
  data: ArrayLike<number>;
  width: number;
  height: number;
  channels: number;
}

/** Options of {@link psnr} and {@link ssim}. */
export interface QualityOptions {
  /**
   * Pixels cropped from each side before measuring. The usual super-resolution protocol crops `scale` pixels
   * (4 for x4), whose values depend on how a method pads the image edge; default 0.
   */
  border?: number;
}

function colourChannels(a: RgbImage, b: RgbImage, what: string): number {
  for (const im of [a, b]) {
    if (im.data.length !== im.width * im.height * im.channels) {
      throw new OtsrError(`${what}: image data has ${im.data.length} values, not ${im.width}x${im.height}x${im.channels}`);
    }
  }
  if (a.width !== b.width || a.height !== b.height) {
    throw new OtsrError(`${what}: image sizes differ (${a.width}x${a.height} vs ${b.width}x${b.height})`);
  }
  const ca = a.channels >= 3 ? 3 : 1;
  const cb = b.channels >= 3 ? 3 : 1;
  if (ca !== cb) throw new OtsrError(`${what}: one image is grey and the other colour`);
  return ca;
}

function cropSize(im: RgbImage, border: number, min: number, what: string): { w: number; h: number } {
  if (!Number.isInteger(border) || border < 0) throw new OtsrError(`${what}: border must be a non-negative integer`);
  const w = im.width - 2 * border;
  const h = im.height - 2 * border;
  if (w < min || h < min) {
    throw new OtsrError(`${what}: a ${im.width}x${im.height} image less a ${border}-pixel border is smaller than ${min}x${min}`);
  }
  return { w, h };
}

/**
 * Peak signal-to-noise ratio in dB, 10 log10(255^2 / MSE), with the MSE over all cropped pixels and colour
 * channels together (not an average of per-channel PSNRs). Identical images give Infinity.
 */
export function psnr(a: RgbImage, b: RgbImage, options: QualityOptions = {}): number {
  const border = options.border ?? 0;
  const nc = colourChannels(a, b, 'PSNR');
  const { w, h } = cropSize(a, border, 1, 'PSNR');
  let sum = 0;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const ia = ((y + border) * a.width + x + border) * a.channels;
      const ib = ((y + border) * b.width + x + border) * b.channels;
      for (let c = 0; c < nc; c++) {
        const d = a.data[ia + c]! - b.data[ib + c]!;
        sum += d * d;
      }
    }
  }
  const mse = sum / (w * h * nc);
  return mse === 0 ? Infinity : 10 * Math.log10((255 * 255) / mse);
}

/** SSIM constants (Wang et al. 2004). */
const K1 = 0.01, K2 = 0.03, PEAK = 255;
const SIGMA = 1.5, RADIUS = 5; // an 11x11 window, as skimage's truncate=3.5 gives for sigma 1.5

/** Normalised 1-D Gaussian taps exp(-x^2 / (2 sigma^2)), x = -RADIUS..RADIUS. */
const TAPS: Float64Array = (() => {
  const t = Float64Array.from({ length: 2 * RADIUS + 1 }, (_, i) => Math.exp(-((i - RADIUS) ** 2) / (2 * SIGMA * SIGMA)));
  const s = t.reduce((x, y) => x + y, 0);
  return t.map((x) => x / s);
})();

/**
 * Structural similarity (Wang et al. 2004) with the standard settings: Gaussian window 11x11, sigma 1.5,
 * K1 = 0.01, K2 = 0.03, dynamic range 255, population (not sample) covariances. The SSIM map is averaged over
 * the positions where the whole window lies inside the (cropped) image, per channel, then over channels: the
 * numbers of skimage's `structural_similarity(a, b, gaussian_weights=True, sigma=1.5,
 * use_sample_covariance=False, data_range=255, channel_axis=-1)` and of BasicSR's `calculate_ssim`.
 */
export function ssim(a: RgbImage, b: RgbImage, options: QualityOptions = {}): number {
  const border = options.border ?? 0;
  const nc = colourChannels(a, b, 'SSIM');
  const { w, h } = cropSize(a, border, 2 * RADIUS + 1, 'SSIM');
  const plane = (im: RgbImage, c: number) => {
    const p = new Float64Array(w * h);
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) p[y * w + x] = im.data[((y + border) * im.width + x + border) * im.channels + c]!;
    }
    return p;
  };
  let total = 0;
  for (let c = 0; c < nc; c++) total += ssimPlane(plane(a, c), plane(b, c), w, h);
  return total / nc;
}

function ssimPlane(x: Float64Array, y: Float64Array, w: number, h: number): number {
  const xx = x.map((v) => v * v);
  const yy = y.map((v) => v * v);
  const xy = x.map((v, i) => v * y[i]!);
  const [mx, my, mxx, myy, mxy] = [x, y, xx, yy, xy].map((p) => filterValid(p, w, h));
  const c1 = (K1 * PEAK) ** 2, c2 = (K2 * PEAK) ** 2;
  let sum = 0;
  const n = mx!.length;
  for (let i = 0; i < n; i++) {
    const ux = mx![i]!, uy = my![i]!;
    const vx = mxx![i]! - ux * ux, vy = myy![i]! - uy * uy, vxy = mxy![i]! - ux * uy;
    sum += ((2 * ux * uy + c1) * (2 * vxy + c2)) / ((ux * ux + uy * uy + c1) * (vx + vy + c2));
  }
  return sum / n;
}

/** Separable Gaussian filter, 'valid' region only: (h - 10) x (w - 10). */
function filterValid(p: Float64Array, w: number, h: number): Float64Array {
  const k = TAPS.length;
  const ow = w - k + 1, oh = h - k + 1;
  const rows = new Float64Array(h * ow);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < ow; x++) {
      let s = 0;
      const base = y * w + x;
      for (let t = 0; t < k; t++) s += TAPS[t]! * p[base + t]!;
      rows[y * ow + x] = s;
    }
  }
  const out = new Float64Array(oh * ow);
  for (let y = 0; y < oh; y++) {
    for (let x = 0; x < ow; x++) {
      let s = 0;
      for (let t = 0; t < k; t++) s += TAPS[t]! * rows[(y + t) * ow + x]!;
      out[y * ow + x] = s;
    }
  }
  return out;
}

/**
 * Converts an image with values in [-1, 1] (otsr's tensors and `upscale` results) to 8-bit values, rounded and
 * clamped, exactly as writing it to a PNG would: the form PSNR/SSIM/FID should see a method's output in.
 */
export function quantizeSigned(image: RgbImage): RgbImage & { data: Uint8Array } {
  const data = new Uint8Array(image.data.length);
  for (let i = 0; i < data.length; i++) {
    const v = Math.round((image.data[i]! + 1) * 127.5);
    data[i] = v < 0 ? 0 : v > 255 ? 255 : v;
  }
  return { data, width: image.width, height: image.height, channels: image.channels };
}
