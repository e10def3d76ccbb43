import type { RowBlock, TileSource } from './tiles.js';

/** Reads rows `y0 .. y0 + count - 1` of an image into the start of `into` (interleaved). */
export type RowReader = (y0: number, count: number, into: Uint8Array | Uint16Array) => Promise<void>;

/**
 * A {@link TileSource} over an image read a band of rows at a time: it keeps the rows from the lowest one asked for
 * last on (the tiler asks in tile order, so the rows above are never needed again) and reads more below as asked, so
 * that it holds about one row of tiles of the input, whatever the image.
 */
export class RowWindow implements TileSource {
  readonly divisor: number;
  private buffer: Uint8Array | Uint16Array;
  private first = 0;
  private count = 0;

  constructor(
    readonly width: number,
    readonly height: number,
    readonly channels: number,
    private readonly depth: 8 | 16,
    private readonly read: RowReader,
  ) {
    this.divisor = depth === 16 ? 32767.5 : 127.5;
    this.buffer = this.allocate(0);
  }

  async rows(y0: number, y1: number): Promise<RowBlock> {
    if (y0 < this.first) throw new Error(`RowWindow: rows from ${y0} asked after rows from ${this.first}`);
    const stride = this.width * this.channels;
    // Drop the rows above y0 (all of them when y0 is past the window).
    const drop = Math.min(y0 - this.first, this.count);
    if (drop > 0) this.buffer.copyWithin(0, drop * stride, this.count * stride);
    this.first = y0;
    this.count -= drop;
    const end = Math.min(y1, this.height);
    const more = end - (this.first + this.count);
    if (more > 0) {
      if ((this.count + more) * stride > this.buffer.length) {
        const grown = this.allocate(this.count + more);
        grown.set(this.buffer.subarray(0, this.count * stride));
        this.buffer = grown;
      }
      await this.read(this.first + this.count, more, this.buffer.subarray(this.count * stride));
      this.count += more;
    }
    return { data: this.buffer, first: this.first };
  }

  private allocate(rows: number): Uint8Array | Uint16Array {
    const n = rows * this.width * this.channels;
    return this.depth === 16 ? new Uint16Array(n) : new Uint8Array(n);
  }
}
