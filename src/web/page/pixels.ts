/**
 * Image files <-> pixels in the browser: decoding through `createImageBitmap` and a 2D canvas, encoding
 * through `canvas.convertToBlob`. Colours are taken as stored (no colour-space conversion), so the page
 * sees the same 8-bit values as otsr's Node decoder; EXIF orientation is applied, as in Node.
 */
import { InputError } from '../../errors.js';
import type { JpegRoundTrip } from '../../image/degrade-float.js';
import type { RgbImage } from '../../image/pixels.js';
import { canEncodePng, encodePngBytes } from './png.js';

/** The largest canvas Chromium and Firefox accept: 32767 pixels a side, 268 million pixels in all. */
export const MAX_CANVAS_SIDE = 32767;
export const MAX_CANVAS_PIXELS = 268_435_456;
/**
 * The largest result the page makes: the tiled upscaler bounds the model's memory by the tile, but the
 * result itself is held as floats (16 bytes a pixel with alpha) and then as a canvas.
 */
export const MAX_OUTPUT_PIXELS = 64_000_000;

/** Decodes an image file (JPEG, PNG, WebP, GIF, AVIF, BMP: whatever the browser reads) to RGB + alpha. */
export async function decodeImageFile(file: Blob, name: string, maxPixels = 100_000_000): Promise<RgbImage> {
  if (file.size === 0) throw new InputError(name, 'file is empty (0 bytes)');
  let bitmap: ImageBitmap;
  try {
    bitmap = await createImageBitmap(file, {
      colorSpaceConversion: 'none',
      premultiplyAlpha: 'none',
      imageOrientation: 'from-image',
    });
  } catch (err) {
    throw new InputError(name, `cannot decode the image (${(err as Error).message || 'not an image the browser reads'})`);
  }
  try {
    const { width, height } = bitmap;
    if (width * height > maxPixels) {
      throw new InputError(name, `image is above the pixel limit (${width}x${height} > ${maxPixels} pixels)`);
    }
    return bitmapToRgb(bitmap);
  } finally {
    bitmap.close();
  }
}

/** Reads a bitmap's pixels; alpha is kept only when some pixel is not opaque. */
export function bitmapToRgb(bitmap: ImageBitmap): RgbImage {
  const { width, height } = bitmap;
  const canvas = new OffscreenCanvas(width, height);
  const ctx = canvas.getContext('2d', { willReadFrequently: true });
  if (!ctx) throw new Error('no 2D canvas context');
  ctx.drawImage(bitmap, 0, 0);
  const rgba = ctx.getImageData(0, 0, width, height).data;
  return fromRgba(rgba, width, height);
}

/** RGBA bytes -> RgbImage (alpha only if some pixel is not opaque). */
export function fromRgba(rgba: Uint8ClampedArray | Uint8Array, width: number, height: number): RgbImage {
  const n = width * height;
  const data = new Uint8Array(n * 3);
  let opaque = true;
  for (let i = 0; i < n; i++) {
    data[3 * i] = rgba[4 * i]!;
    data[3 * i + 1] = rgba[4 * i + 1]!;
    data[3 * i + 2] = rgba[4 * i + 2]!;
    if (rgba[4 * i + 3] !== 255) opaque = false;
  }
  if (opaque) return { width, height, data };
  const alpha = new Uint8Array(n);
  for (let i = 0; i < n; i++) alpha[i] = rgba[4 * i + 3]!;
  return { width, height, data, alpha };
}

/** RgbImage -> ImageData (opaque unless the image has alpha). */
export function toImageData(img: RgbImage): ImageData {
  const n = img.width * img.height;
  const rgba = new Uint8ClampedArray(n * 4);
  for (let i = 0; i < n; i++) {
    rgba[4 * i] = img.data[3 * i]!;
    rgba[4 * i + 1] = img.data[3 * i + 1]!;
    rgba[4 * i + 2] = img.data[3 * i + 2]!;
    rgba[4 * i + 3] = img.alpha ? img.alpha[i]! : 255;
  }
  return new ImageData(rgba, img.width, img.height);
}

/** Draws an image onto a (visible) canvas, resizing the canvas to it. */
export function drawToCanvas(canvas: HTMLCanvasElement, img: RgbImage): void {
  canvas.width = img.width;
  canvas.height = img.height;
  const ctx = canvas.getContext('2d');
  if (!ctx) throw new Error('no 2D canvas context');
  ctx.putImageData(toImageData(img), 0, 0);
}

/** Encodes an image as PNG (lossless: the file holds exactly these bytes, alpha included). */
export async function encodePng(img: RgbImage): Promise<Blob> {
  if (canEncodePng()) return new Blob([await encodePngBytes(img)], { type: 'image/png' });
  // Older browsers: through a canvas (exact for opaque pixels; colours under low alpha are approximated).
  const canvas = new OffscreenCanvas(img.width, img.height);
  const ctx = canvas.getContext('2d');
  if (!ctx) throw new Error('no 2D canvas context');
  ctx.putImageData(toImageData(img), 0, 0);
  return canvas.convertToBlob({ type: 'image/png' });
}

/**
 * The page's {@link JpegRoundTrip} for pretraining pairs: the browser's own JPEG encoder (quality / 100) and decoder,
 * as sharp's are in Node; the pixels differ from sharp's by the codecs' rounding, not by the degradation.
 */
export const canvasJpegRoundTrip: JpegRoundTrip = async (img, quality) => {
  const canvas = new OffscreenCanvas(img.width, img.height);
  const ctx = canvas.getContext('2d');
  if (!ctx) throw new Error('no 2D canvas context');
  ctx.putImageData(toImageData({ width: img.width, height: img.height, data: img.data }), 0, 0);
  const blob = await canvas.convertToBlob({ type: 'image/jpeg', quality: quality / 100 });
  const bitmap = await createImageBitmap(blob, { colorSpaceConversion: 'none', premultiplyAlpha: 'none' });
  try {
    return bitmapToRgb(bitmap);
  } finally {
    bitmap.close();
  }
};

/** Why an output of this size cannot be shown or saved in a browser, or undefined if it can. */
export function canvasLimitProblem(width: number, height: number): string | undefined {
  if (width > MAX_CANVAS_SIDE || height > MAX_CANVAS_SIDE) {
    return `the result would be ${width}x${height}, wider than browsers draw (${MAX_CANVAS_SIDE} pixels a side)`;
  }
  if (width * height > MAX_OUTPUT_PIXELS) {
    return `the result would be ${width}x${height} = ${((width * height) / 1e6).toFixed(0)} megapixels, more than this page makes (${MAX_OUTPUT_PIXELS / 1e6}); use the CLI (otsr upscale) for images this large`;
  }
  return undefined;
}

/** Offers a blob as a download named `name`. */
export function download(blob: Blob, name: string): void {
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  document.body.append(a);
  a.click();
  a.remove();
  // Revoked later: some browsers start reading the URL only after click() returns.
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}
