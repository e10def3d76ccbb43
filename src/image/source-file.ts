/**
 * An image file's pixels for upscaling, read a band of rows at a time (Node only), so that an input of any size is
 * never held whole: sharp decodes the file once into a temporary uncompressed file (libvips's own `.v` format, which
 * it writes strip by strip, in bounded memory), and rows are read back from it as the tiles need them.
 *
 * The pixels are what the file holds: grey stays grey (1 channel, 2 with alpha), colour is sRGB (3, 4 with alpha),
 * 16-bit files stay 16-bit; EXIF orientation applied (libvips rotates by 90 or 270 degrees in memory: such files are
 * decoded whole, once, before the tiles start).
 */
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import sharp from 'sharp';
import { InputError } from '../errors.js';
import { DEFAULT_MAX_PIXELS, type ReadOptions, decodeError, readImageInfo } from './io.js';

/** libvips's `.v` files: a 64-byte header (little-endian here, where they are written), then the pixels. */
const VIPS_HEADER_BYTES = 64;
const VIPS_MAGIC_LE = 0x08f2a6b6;
const VIPS_UCHAR = 0;
const VIPS_USHORT = 2;

export class SourceFile {
  private constructor(
    readonly width: number,
    readonly height: number,
    readonly channels: 1 | 2 | 3 | 4,
    readonly depth: 8 | 16,
    /** Frames or pages of the file beyond the first, which were not read (animated GIF/WebP, multi-page TIFF). */
    readonly framesLeft: number,
    private readonly dir: string,
    private readonly handle: fs.FileHandle,
  ) {}

  /**
   * Decodes `file` (InputError naming it on any problem) into a temporary file in `options.tempDir` (default the
   * system's), which {@link close} removes: 3 bytes a pixel for 8-bit RGB, up to 8 for 16-bit RGBA.
   */
  static async open(file: string, options: ReadOptions & { tempDir?: string } = {}): Promise<SourceFile> {
    const maxPixels = options.maxPixels ?? DEFAULT_MAX_PIXELS;
    // Sizes are checked on the header, before any pixel is decoded.
    await readImageInfo(file, options);
    const dir = await fs.mkdtemp(path.join(options.tempDir ?? os.tmpdir(), 'otsr-input-'));
    const raw = path.join(dir, 'pixels.v');
    let handle: fs.FileHandle | undefined;
    try {
      const limit = Number.isFinite(maxPixels) ? Math.max(1, Math.floor(maxPixels)) : false;
      const meta = await sharp(file, { failOn: 'warning', limitInputPixels: false }).metadata();
      const grey = meta.space === 'b-w' || meta.space === 'grey16';
      const deep = meta.depth === 'ushort';
      try {
        await sharp(file, { failOn: 'warning', limitInputPixels: limit })
          .autoOrient()
          // Converts CMYK (through an ICC profile), palette and Lab alike; grey and 16 bits are kept.
          .toColourspace(grey ? (deep ? 'grey16' : 'b-w') : deep ? 'rgb16' : 'srgb')
          .toFile(raw);
      } catch (err) {
        throw decodeError(file, err);
      }
      handle = await fs.open(raw, 'r');
      const header = Buffer.alloc(VIPS_HEADER_BYTES);
      await handle.read(header, 0, VIPS_HEADER_BYTES, 0);
      const [magic, width, height, channels, format] = [0, 4, 8, 12, 20].map((o) => header.readUInt32LE(o)) as [number, number, number, number, number];
      if (magic !== VIPS_MAGIC_LE) throw new InputError(file, 'decoding gave an unexpected temporary file (not a little-endian libvips image)');
      if (format !== VIPS_UCHAR && format !== VIPS_USHORT) throw new InputError(file, `unsupported sample format (libvips band format ${format}; 8 or 16 bits only)`);
      if (channels < 1 || channels > 4) throw new InputError(file, `unsupported number of channels (${channels})`);
      const pages = Math.max(0, (meta.pages ?? 1) - 1);
      return new SourceFile(width, height, channels as 1 | 2 | 3 | 4, format === VIPS_USHORT ? 16 : 8, pages, dir, handle);
    } catch (err) {
      await handle?.close().catch(() => undefined);
      await fs.rm(dir, { recursive: true, force: true });
      throw err;
    }
  }

  /** Reads rows `y0 .. y0 + count - 1` into the start of `into` (interleaved, alpha last). */
  async read(y0: number, count: number, into: Uint8Array | Uint16Array): Promise<void> {
    const bytesPerRow = this.width * this.channels * (this.depth / 8);
    const length = count * bytesPerRow;
    const target = new Uint8Array(into.buffer, into.byteOffset, length);
    for (let done = 0; done < length; ) {
      const { bytesRead } = await this.handle.read(target, done, length - done, VIPS_HEADER_BYTES + y0 * bytesPerRow + done);
      if (bytesRead === 0) throw new Error(`SourceFile: rows ${y0}..${y0 + count - 1} are past the end of the decoded image`);
      done += bytesRead;
    }
  }

  async close(): Promise<void> {
    await this.handle.close().catch(() => undefined);
    await fs.rm(this.dir, { recursive: true, force: true });
  }
}
