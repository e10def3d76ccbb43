/**
 * The page's upscale: 8-bit image in, 8-bit image out, through the library's tiled upscaler (memory bounded
 * by the tile, overlaps blended; the same function the CLI uses, so the page's output is Node's), with
 * progress and cancel. Alpha, when the image has some, is upscaled with it.
 */
import { CancelledError } from '../../errors.js';
import { type RgbImage, fromFloat } from '../../image/pixels.js';
import { upscale } from '../../upscale/tiles.js';
import { yieldToPage } from './dom.js';
import { type PageModel, forward } from './models.js';

export interface RunUpscaleOptions {
  /** Tile side in input pixels (default 128: small enough for any WebGL texture limit). */
  tile?: number;
  overlap?: number;
  /** Fraction done, 0..1. */
  progress?: (fraction: number) => void;
  signal?: AbortSignal;
}

export async function runUpscale(img: RgbImage, model: PageModel, options: RunUpscaleOptions = {}): Promise<RgbImage> {
  if (options.signal?.aborted) throw new CancelledError();
  options.progress?.(0);
  const out = await upscale(toFloat(img), {
    model: (x) => forward(model, x),
    scale: model.scale,
    tile: options.tile ?? 128,
    overlap: options.overlap,
    signal: options.signal,
    progress: (done, total) => {
      options.progress?.(done / total);
      // Lets the page paint the progress bar and see a click on Cancel between tiles.
      return yieldToPage();
    },
  });
  return toRgb(out);
}

/** 8-bit RGB (+ alpha) -> float HWC in [-1, 1] with 3 or 4 channels. */
function toFloat(img: RgbImage): { width: number; height: number; channels: number; data: Float32Array } {
  const n = img.width * img.height;
  const channels = img.alpha ? 4 : 3;
  const data = new Float32Array(n * channels);
  for (let i = 0; i < n; i++) {
    for (let c = 0; c < 3; c++) data[i * channels + c] = img.data[3 * i + c]! / 127.5 - 1;
    if (img.alpha) data[i * channels + 3] = img.alpha[i]! / 127.5 - 1;
  }
  return { width: img.width, height: img.height, channels, data };
}

/** Float HWC (3 or 4 channels) -> 8-bit RGB (+ alpha), clipped and rounded as pixels.ts's fromFloat. */
function toRgb(f: { width: number; height: number; channels: number; data: Float32Array }): RgbImage {
  const { width, height } = f;
  if (f.channels === 3) return fromFloat({ width, height, channels: 3, data: f.data });
  const n = width * height;
  const rgb = new Float32Array(n * 3);
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    rgb[3 * i] = f.data[4 * i]!;
    rgb[3 * i + 1] = f.data[4 * i + 1]!;
    rgb[3 * i + 2] = f.data[4 * i + 2]!;
    a[i] = f.data[4 * i + 3]!;
  }
  const alpha = fromFloat({ width, height, channels: 1, data: a }).data.filter((_, k) => k % 3 === 0);
  return { ...fromFloat({ width, height, channels: 3, data: rgb }), alpha };
}
