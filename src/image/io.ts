/**
 * Image files <-> pixels, with sharp (Node only).
 *
 * Everything that comes back is 8-bit RGB, EXIF orientation applied, whatever the file held (grey, CMYK,
 * palette, 16-bit); an alpha channel, when the file has one, is returned separately. Every failure is an
 * InputError naming the file and the problem, so the CLI prints one line and a training run can skip it.
 * (Upscaling reads the pixels as the file holds them, a band of rows at a time: source-file.ts.)
 */
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import sharp, { type Metadata } from 'sharp';
import { InputError, UsageError } from '../errors.js';
import { writeFileAtomic } from '../util/atomic-write.js';

/** Default refusal threshold against decompression bombs: 100 megapixels (a 10000 x 10000 image). */
export const DEFAULT_MAX_PIXELS = 100_000_000;

// The pixel types and float conversions are browser-safe and live in pixels.ts; re-exported here.
import type { RgbImage } from './pixels.js';
export { type RgbImage, type FloatImage, toFloat, fromFloat, imageToTensor, tensorToImage } from './pixels.js';

/** What the header says, without decoding the pixels. */
export interface ImageInfo {
  /** Size after EXIF orientation. */
  readonly width: number;
  readonly height: number;
  /** Container format as sharp names it (png, jpeg, webp, tiff, gif, heif, ...). */
  readonly format: string;
  readonly hasAlpha: boolean;
  /** File size in bytes. */
  readonly bytes: number;
}

export interface ReadOptions {
  /** Refuse images with more pixels than this (decompression bombs). Default DEFAULT_MAX_PIXELS. */
  maxPixels?: number;
}

/** Reads the header only (cheap): size after orientation, format. Throws InputError for anything unusable. */
export async function readImageInfo(file: string, options: ReadOptions = {}): Promise<ImageInfo> {
  const bytes = await checkFile(file);
  let meta: Metadata;
  try {
    meta = await sharp(file, { failOn: 'warning', limitInputPixels: false }).metadata();
  } catch (err) {
    throw decodeError(file, err);
  }
  return infoFromMetadata(file, meta, bytes, options);
}

/** Decodes an image file to 8-bit RGB (+ separate alpha). Throws InputError naming the file on any problem. */
export async function readImage(file: string, options: ReadOptions = {}): Promise<RgbImage> {
  const bytes = await checkFile(file);
  // sharp reads the file itself: only the header before the pixel-limit check, never a whole huge file.
  return decodeSource(file, file, bytes, options);
}

/**
 * Decodes encoded image bytes. `name` is used in error messages (a file path or a description).
 * The header is checked against the pixel limit before any pixel is decoded.
 */
export async function decodeImage(buffer: Uint8Array, name: string, options: ReadOptions = {}): Promise<RgbImage> {
  if (buffer.byteLength === 0) throw new InputError(name, 'file is empty (0 bytes)');
  return decodeSource(buffer, name, buffer.byteLength, options);
}

async function decodeSource(input: string | Uint8Array, name: string, bytes: number, options: ReadOptions): Promise<RgbImage> {
  const maxPixels = options.maxPixels ?? DEFAULT_MAX_PIXELS;
  try {
    const meta = await sharp(input, { failOn: 'warning', limitInputPixels: false }).metadata();
    infoFromMetadata(name, meta, bytes, options);
    // Animated or multi-page files: the first frame only (sharp's default), which is what a photo tool wants.
    const { data, info } = await sharp(input, { failOn: 'warning', limitInputPixels: Number.isFinite(maxPixels) ? Math.max(1, Math.floor(maxPixels)) : false })
      .autoOrient()
      // Converts grey, CMYK (through an ICC profile), palette, 16-bit and Lab alike to 8-bit sRGB.
      .toColourspace('srgb')
      .raw({ depth: 'uchar' })
      .toBuffer({ resolveWithObject: true });
    return splitChannels(name, data, info.width, info.height, info.channels);
  } catch (err) {
    if (err instanceof InputError) throw err;
    throw decodeError(name, err);
  }
}

function splitChannels(name: string, data: Buffer, width: number, height: number, channels: number): RgbImage {
  const n = width * height;
  if (channels === 3) return { width, height, data: new Uint8Array(data.buffer, data.byteOffset, n * 3) };
  const rgb = new Uint8Array(n * 3);
  let alpha: Uint8Array | undefined;
  if (channels === 4) {
    alpha = new Uint8Array(n);
    for (let i = 0; i < n; i++) {
      rgb[3 * i] = data[4 * i]!;
      rgb[3 * i + 1] = data[4 * i + 1]!;
      rgb[3 * i + 2] = data[4 * i + 2]!;
      alpha[i] = data[4 * i + 3]!;
    }
  } else if (channels === 1 || channels === 2) {
    // srgb conversion normally yields 3 bands; kept for robustness against odd libvips paths.
    if (channels === 2) alpha = new Uint8Array(n);
    for (let i = 0; i < n; i++) {
      const v = data[channels * i]!;
      rgb[3 * i] = v;
      rgb[3 * i + 1] = v;
      rgb[3 * i + 2] = v;
      if (alpha) alpha[i] = data[2 * i + 1]!;
    }
  } else {
    throw new InputError(name, `unsupported number of channels (${channels})`);
  }
  return alpha ? { width, height, data: rgb, alpha } : { width, height, data: rgb };
}

function infoFromMetadata(name: string, meta: Metadata, bytes: number, options: ReadOptions): ImageInfo {
  const maxPixels = options.maxPixels ?? DEFAULT_MAX_PIXELS;
  const w = meta.width;
  const h = meta.height;
  if (!w || !h || !meta.format) throw new InputError(name, 'not an image (no dimensions in the header)');
  const swap = (meta.orientation ?? 1) >= 5;
  const pixels = w * h;
  if (pixels > maxPixels) {
    throw new InputError(
      name,
      `image is ${w}x${h} (${megapixels(pixels)} MP), above the limit of ${megapixels(maxPixels)} MP; ` +
        'raise the pixel limit (maxPixels / --max-pixels) if this image is genuine',
    );
  }
  return {
    width: swap ? h : w,
    height: swap ? w : h,
    format: meta.format,
    hasAlpha: meta.hasAlpha ?? false,
    bytes,
  };
}

function megapixels(n: number): string {
  const mp = n / 1e6;
  return mp >= 10 ? mp.toFixed(0) : mp.toPrecision(2);
}

/** Checks that `file` is a readable, non-empty regular file; returns its size. */
async function checkFile(file: string): Promise<number> {
  let st;
  try {
    st = await fsp.stat(file);
  } catch (err) {
    throw fsError(file, err);
  }
  if (st.isDirectory()) throw new InputError(file, 'is a folder, not an image file');
  if (!st.isFile()) throw new InputError(file, 'is not a regular file');
  if (st.size === 0) throw new InputError(file, 'file is empty (0 bytes)');
  return st.size;
}

/** Turns a Node file-system error into a one-line InputError. */
export function fsError(file: string, err: unknown): InputError {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  const problem =
    code === 'ENOENT'
      ? 'no such file or folder'
      : code === 'EACCES' || code === 'EPERM'
        ? 'permission denied'
        : code === 'EISDIR'
          ? 'is a folder, not a file'
          : code === 'ENOTDIR'
            ? 'a part of the path is not a folder'
            : `cannot be read (${code ?? (err instanceof Error ? err.message : String(err))})`;
  return new InputError(file, problem, { cause: err });
}

/** Classifies sharp/libvips errors into one readable line. */
export function decodeError(name: string, err: unknown): InputError {
  const msg = err instanceof Error ? err.message : String(err);
  const first = msg.split('\n')[0]!.trim();
  let problem: string;
  if (/unsupported image format|contains unsupported image format/i.test(msg)) {
    problem = 'not an image (or a format sharp cannot read)';
  } else if (/pixel limit/i.test(msg)) {
    problem = `image is above the pixel limit (${first})`;
  } else if (/failOn/i.test(msg)) {
    // libvips warned about the data (typically a truncated file) and sharp's failOn turned that into an error.
    problem = 'truncated or corrupt image data (the decoder reported damaged data)';
  } else if (/premature end|truncat|unexpected end|end of file|EOF|incomplete|not enough data|short read|read error|corrupt|crc error/i.test(msg)) {
    problem = `truncated or corrupt image data (${first})`;
  } else {
    problem = `cannot decode the image (${first})`;
  }
  return new InputError(name, problem, { cause: err });
}


// ---------------------------------------------------------------------------------------------------------
// Encoding and atomic writes.

export type OutputFormat = 'png' | 'jpeg' | 'webp';

export interface WriteOptions {
  /** JPEG / WebP quality 1-100 (default 95: outputs should not add visible artifacts). */
  quality?: number;
  /** Force a format instead of taking it from the extension. */
  format?: OutputFormat;
}

/** The output format for a file name, from its extension; UsageError for anything else. */
export function formatForPath(file: string): OutputFormat {
  const ext = path.extname(file).toLowerCase();
  if (ext === '.png') return 'png';
  if (ext === '.jpg' || ext === '.jpeg') return 'jpeg';
  if (ext === '.webp') return 'webp';
  throw new UsageError(`${file}: cannot tell the output format from the extension '${ext}' (use .png, .jpg, .jpeg or .webp)`);
}

/** Encodes an RGB image (with its alpha, for PNG and WebP) to bytes. */
export async function encodeImage(img: RgbImage, format: OutputFormat, options: WriteOptions = {}): Promise<Buffer> {
  const keepAlpha = img.alpha !== undefined && format !== 'jpeg';
  let raw: Uint8Array = img.data;
  if (keepAlpha) {
    const n = img.width * img.height;
    raw = new Uint8Array(n * 4);
    for (let i = 0; i < n; i++) {
      raw[4 * i] = img.data[3 * i]!;
      raw[4 * i + 1] = img.data[3 * i + 1]!;
      raw[4 * i + 2] = img.data[3 * i + 2]!;
      raw[4 * i + 3] = img.alpha![i]!;
    }
  }
  return encodeRaw(raw, img.width, img.height, keepAlpha ? 4 : 3, format, options);
}

/** Encodes interleaved 8-bit pixels (1 grey, 2 grey + alpha, 3 RGB, 4 RGBA) to bytes. */
export async function encodeRaw(raw: Uint8Array, width: number, height: number, channels: 1 | 2 | 3 | 4, format: OutputFormat, options: WriteOptions = {}): Promise<Buffer> {
  const quality = options.quality ?? 95;
  if (!Number.isInteger(quality) || quality < 1 || quality > 100) throw new UsageError(`quality must be an integer in [1, 100], got ${quality}`);
  const s = sharp(raw, { raw: { width, height, channels } });
  if (format === 'png') return s.png({ compressionLevel: 6 }).toBuffer();
  if (format === 'jpeg') return s.jpeg({ quality, chromaSubsampling: '4:2:0' }).toBuffer();
  return s.webp({ quality }).toBuffer();
}

/**
 * Writes an image, format from the extension (.png, .jpg/.jpeg, .webp), atomically: encoded in memory,
 * written to a temp file in the same folder, then renamed over `file`, so an existing file is never
 * half overwritten and a killed process leaves at worst a stray temp file.
 */
export async function writeImage(file: string, img: RgbImage, options: WriteOptions = {}): Promise<void> {
  const format = options.format ?? formatForPath(file);
  const bytes = await encodeImage(img, format, options);
  await writeFileAtomic(file, bytes);
}
