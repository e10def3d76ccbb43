/**
 * `ImageFolderSampler`: random square crops from folders of photos, as a `Sampler` for the OT solvers.
 *
 * - Files are validated up front from their headers (cheap: no pixels decoded): unreadable files and
 *   images smaller than the crop are skipped, each with one warning naming it (images are never
 *   upscaled to fit: that would put blurry pictures into the distribution). An empty or all-bad folder is
 *   an InputError before training starts.
 * - Images are visited in a seeded random order, epoch by epoch (every usable file once per epoch), one
 *   crop each; crop position, flip and quarter turn are seeded too (the shared `CropSampler`, so
 *   `ImageArraySampler` draws the same batches from the same images in memory). Decoding goes through an LRU
 *   `ImageCache` with a byte budget, so a folder of thousands of 2K photos is never decoded at once.
 * - A file that passes the header check but fails to decode (truncated data) is skipped with a warning
 *   when first met, and the batch is drawn again as if the file had never been there, so a run resumed
 *   with `setState` draws exactly the same batches as an uninterrupted one.
 */
import { createHash } from 'node:crypto';
import * as path from 'node:path';
import type * as tf from '@tensorflow/tfjs-core';
import { InputError, OtsrError, UsageError, CancelledError } from '../errors.js';
import { readImageInfo, type RgbImage } from '../image/io.js';
import type { CropSpec } from './augment.js';
import { ImageCache, type ImageCacheOptions } from './cache.js';
import { type CropDrawState, CropSampler, type CropSamplerOptions, checkCrop } from './crop-sampler.js';
import { listImageFolders, IMAGE_EXTENSIONS } from './folder.js';

export interface ImageFolderSamplerOptions extends CropSamplerOptions {
  /** One folder or several (their usable files are pooled). */
  folders: string | readonly string[];
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
export interface ImageFolderSamplerState extends CropDrawState {
  readonly kind: 'image-folder';
  readonly version: 1;
  /** Identifies the file list, so that resuming on another folder is caught. */
  readonly fingerprint: string;
}

export class ImageFolderSampler extends CropSampler {
  readonly files: readonly ImageEntry[];
  readonly cache: ImageCache;
  private readonly concurrency: number;
  private readonly prefetchEnabled: boolean;
  private readonly warn: (message: string) => void;
  private readonly folderLabel: string;
  private readonly fingerprint: string;
  /** Files found bad at decode time (indices into `files`). */
  private readonly bad = new Set<number>();

  private constructor(files: ImageEntry[], options: ImageFolderSamplerOptions, folderLabel: string) {
    super(files, options);
    this.files = files;
    this.concurrency = Math.max(1, options.concurrency ?? 2);
    this.prefetchEnabled = options.prefetch ?? true;
    this.warn = options.onWarning ?? ((m) => console.warn(m));
    this.folderLabel = folderLabel;
    this.cache = options.cache ?? new ImageCache({ budgetBytes: options.cacheBytes, maxPixels: options.maxPixels, load: options.load });
    this.fingerprint = fingerprintOf(files);
  }

  /**
   * Lists the folders and checks every file's header. Throws InputError (folder missing, no image file,
   * no usable image) or UsageError (bad crop) before any training starts.
   */
  static async open(options: ImageFolderSamplerOptions): Promise<ImageFolderSampler> {
    const folders = typeof options.folders === 'string' ? [options.folders] : [...options.folders];
    if (folders.length === 0) throw new UsageError('no image folder given');
    const crop = options.crop;
    checkCrop(crop);
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

  /** A batch of crops as a float32 tensor [batch, crop, crop, 3] in [-1, 1]; the caller disposes it. */
  async sample(batch: number): Promise<tf.Tensor4D> {
    const { data } = await this.sampleData(batch);
    return this.toTensor(data, batch);
  }

  /** The same draw as `sample`, as plain data plus what each crop was cut from (for tests and tools). */
  async sampleData(batch: number): Promise<{ data: Float32Array; crops: CropRecord[] }> {
    const snapshot = this.getState();
    for (;;) {
      const plan = this.planCrops(batch);
      const unique = [...new Set(plan.map((p) => p.index))];
      const loaded = new Map<number, RgbImage | InputError>();
      await mapLimited(unique, this.concurrency, undefined, undefined, async (i) => {
        loaded.set(i, await this.load(i));
      });
      const failed = unique.filter((i) => loaded.get(i) instanceof InputError);
      if (failed.length === 0) {
        const data = this.cutCrops(plan, (i) => loaded.get(i) as RgbImage);
        const crops: CropRecord[] = plan.map(({ index, ...spec }) => ({ file: this.files[index]!.path, ...spec }));
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
    return { kind: 'image-folder', version: 1, fingerprint: this.fingerprint, ...this.drawState() };
  }

  setState(state: unknown): void {
    const s = this.parseState<ImageFolderSamplerState>(state, 'image-folder', 'image folder sampler');
    if (s.fingerprint !== this.fingerprint) {
      throw new OtsrError(
        `${this.folderLabel}: the usable image files differ from those of the saved run (files added, removed or changed); cannot resume exactly`,
      );
    }
    this.restoreDrawState(s);
  }

  /** Files found bad at decode time are never drawn again. */
  protected override usable(index: number): boolean {
    return !this.bad.has(index);
  }

  /** Warms the cache with the files of the next batch; failures are left for the real load to report. */
  private prefetch(batch: number): void {
    const upcoming = [...new Set(this.peekIndices(batch))].map((i) => this.files[i]!.path).filter((p) => !this.cache.has(p));
    void mapLimited(upcoming, this.concurrency, undefined, undefined, (p) => this.cache.get(p).catch(() => undefined)).catch(
      () => undefined,
    );
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
