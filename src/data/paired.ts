/**
 * Paired LR/HR folders for validation: lr/NAME.* matched with hr/NAME.*, sizes checked against the scale,
 * and crops that stay aligned (LR crop at (x, y) <-> HR crop at (s x, s y), same flip and turn).
 */
import * as path from 'node:path';
import { InputError, UsageError } from '../errors.js';
import { readImage, readImageInfo, type ReadOptions, type RgbImage } from '../image/io.js';
import { writeCrop, type CropSpec } from './augment.js';
import { listImages } from './folder.js';
import type { ImageEntry } from './image-folder.js';

export interface PairedFoldersOptions extends ReadOptions {
  lr: string;
  hr: string;
  /** HR size / LR size (an integer). */
  scale: number;
  recursive?: boolean;
  /** Where warnings about unmatched or unreadable files go (default console.warn). */
  onWarning?: (message: string) => void;
}

export interface ImagePair {
  /** Relative path without extension (and without a DIV2K-style 'x4' suffix on the LR side). */
  readonly name: string;
  readonly lr: ImageEntry;
  readonly hr: ImageEntry;
}

export interface LoadedPair {
  readonly name: string;
  readonly lr: RgbImage;
  /** Exactly scale x the LR size (the top-left part when the HR file is up to scale - 1 pixels larger). */
  readonly hr: RgbImage;
}

/** The top-left-anchored `width` x `height` part of an image (a copy; alpha dropped). */
export function cropRgb(img: RgbImage, x: number, y: number, width: number, height: number): RgbImage {
  if (x < 0 || y < 0 || x + width > img.width || y + height > img.height) {
    throw new RangeError(`crop ${width}x${height} at (${x}, ${y}) is outside the ${img.width}x${img.height} image`);
  }
  if (x === 0 && y === 0 && width === img.width && height === img.height) return { width, height, data: img.data };
  const out = new Uint8Array(width * height * 3);
  for (let r = 0; r < height; r++) {
    const from = ((y + r) * img.width + x) * 3;
    out.set(img.data.subarray(from, from + width * 3), r * width * 3);
  }
  return { width, height, data: out };
}

export class PairedFolders {
  readonly scale: number;
  readonly pairs: readonly ImagePair[];
  private readonly readOptions: ReadOptions;

  private constructor(scale: number, pairs: ImagePair[], readOptions: ReadOptions) {
    this.scale = scale;
    this.pairs = pairs;
    this.readOptions = readOptions;
  }

  get length(): number {
    return this.pairs.length;
  }

  /**
   * Lists both folders, matches names, reads headers. Unmatched and unreadable files are skipped with a
   * warning; a pair whose sizes do not fit the scale is an InputError (a wrong --scale or wrong folder
   * should not silently shrink a validation set), and so is a pair-less result.
   */
  static async open(options: PairedFoldersOptions): Promise<PairedFolders> {
    const s = options.scale;
    if (!Number.isInteger(s) || s < 1) throw new UsageError(`scale must be a positive integer, got ${s}`);
    const warn = options.onWarning ?? ((m: string) => console.warn(m));
    const readOptions: ReadOptions = { maxPixels: options.maxPixels };
    const [lrFiles, hrFiles] = await Promise.all([
      listImages(options.lr, { recursive: options.recursive }),
      listImages(options.hr, { recursive: options.recursive }),
    ]);
    const stem = (root: string, file: string) => {
      const rel = path.relative(root, file).split(path.sep).join('/');
      return rel.slice(0, rel.length - path.extname(rel).length);
    };
    const hrByName = new Map<string, string>();
    for (const f of hrFiles) {
      const name = stem(options.hr, f);
      if (hrByName.has(name)) warn(`skipping ${f}: another HR file is also named '${name}' (${hrByName.get(name)})`);
      else hrByName.set(name, f);
    }
    const used = new Set<string>();
    const pairs: ImagePair[] = [];
    for (const lrFile of lrFiles) {
      let name = stem(options.lr, lrFile);
      if (!hrByName.has(name) && name.endsWith(`x${s}`) && hrByName.has(name.slice(0, -`x${s}`.length))) {
        name = name.slice(0, -`x${s}`.length);
      }
      const hrFile = hrByName.get(name);
      if (!hrFile) {
        warn(`skipping ${lrFile}: no HR image named '${name}' in ${options.hr}`);
        continue;
      }
      if (used.has(name)) {
        warn(`skipping ${lrFile}: another LR file is also paired with ${hrFile}`);
        continue;
      }
      used.add(name);
      let lr;
      let hr;
      try {
        [lr, hr] = await Promise.all([readImageInfo(lrFile, readOptions), readImageInfo(hrFile, readOptions)]);
      } catch (err) {
        if (!(err instanceof InputError)) throw err;
        warn(`skipping the pair '${name}': ${err.message}`);
        continue;
      }
      const fits = (h: number, l: number) => h >= s * l && h < s * (l + 1);
      if (!fits(hr.width, lr.width) || !fits(hr.height, lr.height)) {
        throw new InputError(
          hrFile,
          `is ${hr.width}x${hr.height}, but its LR image ${lrFile} is ${lr.width}x${lr.height}: ` +
            `expected ${s * lr.width}x${s * lr.height} at scale ${s}`,
        );
      }
      pairs.push({ name, lr: { path: lrFile, width: lr.width, height: lr.height }, hr: { path: hrFile, width: hr.width, height: hr.height } });
    }
    for (const [name, f] of hrByName) if (!used.has(name)) warn(`skipping ${f}: no LR image named '${name}' in ${options.lr}`);
    if (pairs.length === 0) {
      throw new InputError(`${options.lr}, ${options.hr}`, 'no LR/HR image pairs with matching names');
    }
    return new PairedFolders(s, pairs, readOptions);
  }

  /** Decodes pair `k`; the HR image is cut to exactly scale x the LR size. */
  async load(k: number): Promise<LoadedPair> {
    const pair = this.pairs[k];
    if (!pair) throw new RangeError(`pair ${k} out of range (0-${this.pairs.length - 1})`);
    const [lr, hr] = await Promise.all([readImage(pair.lr.path, this.readOptions), readImage(pair.hr.path, this.readOptions)]);
    const s = this.scale;
    return { name: pair.name, lr: { width: lr.width, height: lr.height, data: lr.data }, hr: cropRgb(hr, 0, 0, s * lr.width, s * lr.height) };
  }
}

/**
 * Aligned float crops in [-1, 1] of a loaded pair: `spec` is in LR pixels; the HR crop is at
 * (scale x, scale y), scale times larger, with the same flip and quarter turn.
 */
export function alignedCrops(pair: LoadedPair, spec: CropSpec, scale: number): { lr: Float32Array; hr: Float32Array } {
  const lr = new Float32Array(spec.size * spec.size * 3);
  const hrSize = spec.size * scale;
  const hr = new Float32Array(hrSize * hrSize * 3);
  writeCrop(pair.lr, spec, lr, 0);
  writeCrop(pair.hr, { ...spec, x: spec.x * scale, y: spec.y * scale, size: hrSize }, hr, 0);
  return { lr, hr };
}
