/**
 * A least-recently-used cache of decoded images with a memory budget in bytes, so that a folder of
 * thousands of 2K photos is streamed (decode on demand, keep what fits) rather than decoded at once,
 * while a small folder ends up fully in memory after the first epoch.
 */
import { readImage, type ReadOptions, type RgbImage } from '../image/io.js';

/** Default budget: 512 MiB of decoded 8-bit RGB (about 60 DIV2K-sized 2040x1356 images). */
export const DEFAULT_CACHE_BYTES = 512 * 1024 * 1024;

export interface ImageCacheOptions extends ReadOptions {
  /** Most bytes of pixel data kept (RGB 3 bytes a pixel, + 1 for alpha if kept). Default DEFAULT_CACHE_BYTES. */
  budgetBytes?: number;
  /** Keep the alpha channel (default false: training uses RGB only, and alpha costs a third more). */
  keepAlpha?: boolean;
  /** Decoder (default readImage); tests and other sources can plug in their own. */
  load?: (file: string) => Promise<RgbImage>;
}

export interface ImageCacheStats {
  hits: number;
  misses: number;
  evictions: number;
  /** Bytes held now, always <= budgetBytes. */
  bytes: number;
  /** The most bytes ever held. */
  peakBytes: number;
  entries: number;
}

export function imageBytes(img: RgbImage): number {
  return img.data.byteLength + (img.alpha?.byteLength ?? 0);
}

export class ImageCache {
  readonly budgetBytes: number;
  private readonly entries = new Map<string, RgbImage>();
  private readonly pending = new Map<string, Promise<RgbImage>>();
  private readonly loader: (file: string) => Promise<RgbImage>;
  private readonly keepAlpha: boolean;
  private counters = { hits: 0, misses: 0, evictions: 0, bytes: 0, peakBytes: 0 };

  constructor(options: ImageCacheOptions = {}) {
    this.budgetBytes = options.budgetBytes ?? DEFAULT_CACHE_BYTES;
    if (!(this.budgetBytes >= 0)) throw new RangeError(`cache budget must be >= 0 bytes, got ${this.budgetBytes}`);
    this.keepAlpha = options.keepAlpha ?? false;
    this.loader = options.load ?? ((file) => readImage(file, { maxPixels: options.maxPixels }));
  }

  get stats(): ImageCacheStats {
    return { ...this.counters, entries: this.entries.size };
  }

  has(file: string): boolean {
    return this.entries.has(file);
  }

  /**
   * The decoded image of `file`, from memory or decoded now (concurrent calls for one file share one
   * decode). Errors (InputError) are not cached: the caller decides what a bad file means.
   */
  async get(file: string): Promise<RgbImage> {
    const hit = this.entries.get(file);
    if (hit) {
      this.counters.hits++;
      // Map keeps insertion order: re-inserting marks the entry most recently used.
      this.entries.delete(file);
      this.entries.set(file, hit);
      return hit;
    }
    const inFlight = this.pending.get(file);
    if (inFlight) {
      this.counters.hits++;
      return inFlight;
    }
    this.counters.misses++;
    const p = this.loader(file).then((img) => {
      const kept = this.keepAlpha || !img.alpha ? img : { width: img.width, height: img.height, data: img.data };
      this.insert(file, kept);
      return kept;
    });
    this.pending.set(file, p);
    try {
      return await p;
    } finally {
      this.pending.delete(file);
    }
  }

  /** Drops one entry (e.g. a file that changed). */
  delete(file: string): void {
    const img = this.entries.get(file);
    if (!img) return;
    this.entries.delete(file);
    this.counters.bytes -= imageBytes(img);
  }

  clear(): void {
    this.entries.clear();
    this.counters.bytes = 0;
  }

  private insert(file: string, img: RgbImage): void {
    const size = imageBytes(img);
    // An image larger than the whole budget is used once and not kept.
    if (size > this.budgetBytes) return;
    this.delete(file);
    while (this.counters.bytes + size > this.budgetBytes) {
      const oldest = this.entries.keys().next().value as string;
      this.delete(oldest);
      this.counters.evictions++;
    }
    this.entries.set(file, img);
    this.counters.bytes += size;
    this.counters.peakBytes = Math.max(this.counters.peakBytes, this.counters.bytes);
  }
}
