/**
 * `ImageFolderSampler`: random square crops from folders of photos, as a `Sampler` for the OT solvers.
 *
 * - Files are validated up front from their headers (cheap: no pixels decoded): unreadable files and
 *   images smaller than the crop are skipped, each with one warning naming it (images are never
 *   upscaled to fit: that would put blurry pictures into the distribution). An empty or all-bad folder is
 *   an InputError before training starts.
 * - Images are visited in a seeded random order, epoch by epoch (every usable file once per epoch), one
 *   crop each; crop position, flip and quarter turn are seeded too. Decoding goes through an LRU
 *   `ImageCache` with a byte budget, so a folder of thousands of 2K photos is never decoded at once.
 * - A file that passes the header check but fails to decode (truncated data) is skipped with a warning
 *   when first met, and the batch is drawn again as if the file had never been there, so a run resumed
 *   with `setState` draws exactly the same batches as an uninterrupted one.
 */
import { createHash } from 'node:crypto';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { InputError, OtsrError, UsageError, CancelledError } from '../errors.js';
import { readImageInfo, type RgbImage } from '../image/io.js';
import { Rng } from '../util/rng.js';
import { writeCrop, type CropSpec } from './augment.js';
import { ImageCache, type ImageCacheOptions } from './cache.js';
import { listImageFolders, IMAGE_EXTENSIONS } from './folder.js';
import type { Sampler } from './sampler.js';

export interface ImageFolderSamplerOptions {
  /** One folder or several (their usable files are pooled). */
  folders: string | readonly string[];
  /** Crop side in pixels (the HR crop c, or c / s for LR). */
  crop: number;
  /** Seed of the file order, crop positions and augmentations. */
  seed: number;
  /** Random left-right mirror (default true). */
  flips?: boolean;
  /** Random quarter turns (default true); with flips, all 8 symmetries of the square. */
  rotations?: boolean;
  /** Descend into subfolders (default true). */
  recursive?: boolean;
  /** A cache to share (e.g. between the LR and HR samplers); otherwise one is made with `cacheBytes`. */
  cache?: ImageCache;
  /** Budget of the sampler's own cache (default DEFAULT_CACHE_BYTES). */
  cacheBytes?: number;
  /** Pixel limit per image against decompression bombs (default DEFAULT_MAX_PIXELS). */
  maxPixels?: number;
  /** Decodes running at once (default 2). */
  concurrency?: number;
  /**
   * After each batch, start decoding the next batch's files into the cache in the background, so decoding
   * overlaps the training step (default true; no effect without a cache budget). Values drawn are the same
   * either way: only the cache's contents change.
   */
  prefetch?: boolean;
  /** Where warnings about skipped files go (default console.warn). */
  onWarning?: (message: string) => void;
  /** Progress of the header check: (files checked, total). */
  onProgress?: (done: number, total: number) => void;
  signal?: AbortSignal;
  /** Decoder override for the cache it makes (tests). */
  load?: ImageCacheOptions['load'];
}

/** A usable file and its size after EXIF orientation. */
export interface ImageEntry {
  readonly path: string;
  readonly width: number;
  readonly height: number;
}

/** What one sample of a batch was cut from. */
export interface CropRecord extends CropSpec {
  readonly file: string;
}

/** Serializable sampler state (JSON). */
export interface ImageFolderSamplerState {
  readonly kind: 'image-folder';
  readonly version: 1;
  /** Identifies the file list, so that resuming on another folder is caught. */
  readonly fingerprint: string;
  readonly rng: number[];
  /** Order generator as it was before the current epoch's shuffle. */
  readonly orderRng: number[];
  readonly epoch: number;
  readonly pos: number;
}

export class ImageFolderSampler implements Sampler {
  readonly shape: readonly [number, number, number];
  readonly crop: number;
  readonly files: readonly ImageEntry[];
  readonly cache: ImageCache;
  private readonly flips: boolean;
  private readonly rotations: boolean;
  private readonly concurrency: number;
  private readonly prefetchEnabled: boolean;
  private readonly warn: (message: string) => void;
  private readonly folderLabel: string;
  private readonly fingerprint: string;
  /** Files found bad at decode time (indices into `files`). */
  private readonly bad = new Set<number>();
  private rng: Rng;
  private orderRng: Rng;
  private epochStart: number[];
  private perm: number[] = [];
  private epoch = 0;
  private pos = 0;

  private constructor(files: ImageEntry[], options: ImageFolderSamplerOptions, folderLabel: string) {
    this.files = files;
    this.crop = options.crop;
    this.shape = [options.crop, options.crop, 3];
    this.flips = options.flips ?? true;
    this.rotations = options.rotations ?? true;
    this.concurrency = Math.max(1, options.concurrency ?? 2);
    this.prefetchEnabled = options.prefetch ?? true;
    this.warn = options.onWarning ?? ((m) => console.warn(m));
    this.folderLabel = folderLabel;
    this.cache = options.cache ?? new ImageCache({ budgetBytes: options.cacheBytes, maxPixels: options.maxPixels, load: options.load });
    this.fingerprint = fingerprintOf(files);
    const root = new Rng(options.seed);
    this.rng = root.fork();
    this.orderRng = root.fork();
    this.epochStart = this.orderRng.getState();
    this.shuffleEpoch();
  }

  /**
   * Lists the folders and checks every file's header. Throws InputError (folder missing, no image file,
   * no usable image) or UsageError (bad crop) before any training starts.
   */
  static async open(options: ImageFolderSamplerOptions): Promise<ImageFolderSampler> {
    const folders = typeof options.folders === 'string' ? [options.folders] : [...options.folders];
    if (folders.length === 0) throw new UsageError('no image folder given');
    const crop = options.crop;
    if (!Number.isInteger(crop) || crop < 1) throw new UsageError(`crop size must be a positive integer, got ${crop}`);
    const label = folders.join(', ');
    const warn = options.onWarning ?? ((m: string) => console.warn(m));
    const paths = await listImageFolders(folders, { recursive: options.recursive });
    if (paths.length === 0) {
      throw new InputError(label, `no image files in the folder (looked for ${IMAGE_EXTENSIONS.join(' ')})`);
    }
    const infos = await mapLimited(paths, 8, options.signal, options.onProgress, async (p) => {
      try {
        return await readImageInfo(p, { maxPixels: options.maxPixels });
      } catch (err) {
        if (err instanceof InputError) return err;
        throw err;
      }
    });
    const files: ImageEntry[] = [];
    let unreadable = 0;
    let small = 0;
    infos.forEach((info, k) => {
      const p = paths[k]!;
      if (info instanceof InputError) {
        unreadable++;
        warn(`skipping ${info.message}`);
      } else if (info.width < crop || info.height < crop) {
        small++;
        warn(`skipping ${p}: ${info.width}x${info.height} is smaller than the ${crop}x${crop} crop`);
      } else {
        files.push({ path: p, width: info.width, height: info.height });
      }
    });
    if (files.length === 0) {
      const why = [unreadable ? `${unreadable} unreadable` : '', small ? `${small} smaller than the ${crop}x${crop} crop` : '']
        .filter(Boolean)
        .join(', ');
      throw new InputError(label, `none of the ${paths.length} image files is usable (${why})`);
    }
    return new ImageFolderSampler(files, options, label);
  }

  /** Number of epochs started (the first is 0). */
  get epochs(): number {
    return this.epoch;
  }

  /** A batch of crops as a float32 tensor [batch, crop, crop, 3] in [-1, 1]; the caller disposes it. */
  async sample(batch: number): Promise<tf.Tensor4D> {
    const { data } = await this.sampleData(batch);
    return tf.tensor4d(data, [batch, this.crop, this.crop, 3], 'float32');
  }

  /** The same draw as `sample`, as plain data plus what each crop was cut from (for tests and tools). */
  async sampleData(batch: number): Promise<{ data: Float32Array; crops: CropRecord[] }> {
    if (!Number.isInteger(batch) || batch < 1) throw new RangeError(`batch must be a positive integer, got ${batch}`);
    const snapshot = this.getState();
    for (;;) {
      const plan = this.plan(batch);
      const unique = [...new Set(plan.map((p) => p.index))];
      const loaded = new Map<number, RgbImage | InputError>();
      await mapLimited(unique, this.concurrency, undefined, undefined, async (i) => {
        loaded.set(i, await this.load(i));
      });
      const failed = unique.filter((i) => loaded.get(i) instanceof InputError);
      if (failed.length === 0) {
        const c = this.crop;
        const data = new Float32Array(batch * c * c * 3);
        const crops: CropRecord[] = plan.map((p, k) => {
          writeCrop(loaded.get(p.index) as RgbImage, p, data, k * c * c * 3);
          return { file: this.files[p.index]!.path, x: p.x, y: p.y, size: p.size, rot: p.rot, flip: p.flip };
        });
        if (this.prefetchEnabled && this.cache.budgetBytes > 0) this.prefetch(batch);
        return { data, crops };
      }
      for (const i of failed) {
        this.bad.add(i);
        this.warn(`skipping ${(loaded.get(i) as InputError).message}`);
      }
      if (this.bad.size === this.files.length) {
        throw new InputError(this.folderLabel, `none of the ${this.files.length} images could be decoded`);
      }
      // Draw the batch again from the same state, now without the bad files.
      this.setState(snapshot);
    }
  }

  getState(): ImageFolderSamplerState {
    return {
      kind: 'image-folder',
      version: 1,
      fingerprint: this.fingerprint,
      rng: this.rng.getState(),
      orderRng: [...this.epochStart],
      epoch: this.epoch,
      pos: this.pos,
    };
  }

  setState(state: unknown): void {
    const s = state as Partial<ImageFolderSamplerState> | null;
    if (!s || s.kind !== 'image-folder' || s.version !== 1 || !Array.isArray(s.rng) || !Array.isArray(s.orderRng)) {
      throw new OtsrError('image folder sampler: unrecognised saved state');
    }
    if (s.fingerprint !== this.fingerprint) {
      throw new OtsrError(
        `${this.folderLabel}: the usable image files differ from those of the saved run (files added, removed or changed); cannot resume exactly`,
      );
    }
    this.rng.setState(s.rng);
    this.orderRng.setState(s.orderRng);
    this.shuffleEpoch();
    this.epoch = s.epoch ?? 0;
    this.pos = s.pos ?? 0;
  }

  private shuffleEpoch(): void {
    this.epochStart = this.orderRng.getState();
    const perm = Array.from({ length: this.files.length }, (_, i) => i);
    this.perm = this.orderRng.shuffle(perm);
  }

  private nextFile(): number {
    for (;;) {
      if (this.pos >= this.perm.length) {
        this.shuffleEpoch();
        this.epoch++;
        this.pos = 0;
      }
      const i = this.perm[this.pos++]!;
      if (!this.bad.has(i)) return i;
    }
  }

  /** The next `n` usable file indices, without advancing any state (the next epoch's order is computed on a copy). */
  private peekFiles(n: number): number[] {
    const out: number[] = [];
    let perm = this.perm;
    let pos = this.pos;
    const order = new Rng(this.orderRng.getState());
    while (out.length < n) {
      if (pos >= perm.length) {
        perm = order.shuffle(Array.from({ length: this.files.length }, (_, i) => i));
        pos = 0;
      }
      const i = perm[pos++]!;
      if (!this.bad.has(i)) out.push(i);
    }
    return out;
  }

  /** Warms the cache with the files of the next batch; failures are left for the real load to report. */
  private prefetch(batch: number): void {
    const upcoming = [...new Set(this.peekFiles(batch))].map((i) => this.files[i]!.path).filter((p) => !this.cache.has(p));
    void mapLimited(upcoming, this.concurrency, undefined, undefined, (p) => this.cache.get(p).catch(() => undefined)).catch(
      () => undefined,
    );
  }

  private plan(batch: number): (CropSpec & { index: number })[] {
    const c = this.crop;
    const out: (CropSpec & { index: number })[] = [];
    for (let k = 0; k < batch; k++) {
      const index = this.nextFile();
      const f = this.files[index]!;
      const y = this.rng.int(f.height - c + 1);
      const x = this.rng.int(f.width - c + 1);
      const flip = this.flips ? this.rng.int(2) === 1 : false;
      const rot = this.rotations ? this.rng.int(4) : 0;
      out.push({ index, x, y, size: c, rot, flip });
    }
    return out;
  }

  private async load(index: number): Promise<RgbImage | InputError> {
    const f = this.files[index]!;
    try {
      const img = await this.cache.get(f.path);
      if (img.width !== f.width || img.height !== f.height) {
        return new InputError(f.path, `decodes to ${img.width}x${img.height}, but its header says ${f.width}x${f.height}`);
      }
      return img;
    } catch (err) {
      if (err instanceof InputError) return err;
      throw err;
    }
  }
}

/** Hash of the usable files' names and sizes (not their folder: a moved dataset still resumes). */
function fingerprintOf(files: readonly ImageEntry[]): string {
  const h = createHash('sha256');
  for (const f of files) h.update(`${path.basename(f.path)}\0${f.width}x${f.height}\n`);
  return `${files.length}:${h.digest('hex').slice(0, 16)}`;
}

/** Runs `fn` over `items` with at most `limit` at once; results in input order. */
async function mapLimited<T, R>(
  items: readonly T[],
  limit: number,
  signal: AbortSignal | undefined,
  onProgress: ((done: number, total: number) => void) | undefined,
  fn: (item: T) => Promise<R>,
): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  let done = 0;
  async function worker(): Promise<void> {
    while (next < items.length) {
      if (signal?.aborted) throw new CancelledError();
      const k = next++;
      results[k] = await fn(items[k]!);
      onProgress?.(++done, items.length);
    }
  }
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}
