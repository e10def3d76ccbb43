/**
 * A PNG encoder that takes its rows band by band (Node only): what `otsr upscale` writes its output with, so that an
 * output of any size never has to be held whole, in 8 or 16 bits (what sharp, fed a buffer, would need in full).
 * Grey, grey + alpha, RGB and RGBA; each row filtered Up (the difference to the row above: cheap, good on photos),
 * deflated by zlib as the rows come.
 */
import { once } from 'node:events';
import zlib from 'node:zlib';
import { pngChunk } from './png-chunk.js';

const SIGNATURE = Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]);
/** PNG colour type by channel count: grey, grey + alpha, RGB, RGBA. */
const COLOUR_TYPE = [0, 0, 4, 2, 6];
const IDAT_BYTES = 1 << 20;
/** Filtered bytes handed to zlib at a time. */
const ROW_BYTES = 4 << 20;

const chunk = (type: string, data: Uint8Array): Buffer => Buffer.from(pngChunk(type, data).buffer);

export class PngRowWriter {
  private readonly deflate = zlib.createDeflate({ level: 6 });
  private readonly pending: Buffer[] = [];
  private readonly stride: number;
  private prev: Buffer = Buffer.alloc(0);
  private rows = 0;

  /** `write` receives the file's bytes in order (e.g. a file handle's). */
  constructor(
    readonly width: number,
    readonly height: number,
    readonly channels: number,
    readonly depth: 8 | 16,
    private readonly write: (bytes: Uint8Array) => Promise<void>,
  ) {
    this.stride = width * channels * (depth / 8);
    this.prev = Buffer.alloc(this.stride);
    this.deflate.on('data', (d: Buffer) => this.pending.push(d));
  }

  /** Signature and header: call once, first. */
  async start(): Promise<void> {
    const ihdr = Buffer.alloc(13);
    ihdr.writeUInt32BE(this.width, 0);
    ihdr.writeUInt32BE(this.height, 4);
    ihdr[8] = this.depth;
    ihdr[9] = COLOUR_TYPE[this.channels]!;
    await this.write(Buffer.concat([SIGNATURE, chunk('IHDR', ihdr)]));
  }

  /**
   * The next `rows` rows, `rows * width * channels` samples of the image's depth (interleaved). Handed to zlib a few
   * rows at a time, so that no filtered copy of the whole band is made.
   */
  async addRows(samples: Uint8Array | Uint16Array, rows: number): Promise<void> {
    const n = this.width * this.channels;
    const step = Math.max(1, Math.floor(ROW_BYTES / (this.stride + 1)));
    let row: Buffer = Buffer.alloc(this.stride);
    for (let r0 = 0; r0 < rows; r0 += step) {
      const count = Math.min(step, rows - r0);
      const out = Buffer.alloc(count * (this.stride + 1));
      for (let r = 0; r < count; r++) {
        const first = (r0 + r) * n;
        if (this.depth === 8) row.set(samples.subarray(first, first + n));
        else for (let i = 0; i < n; i++) row.writeUInt16BE(samples[first + i]!, 2 * i);
        const o = r * (this.stride + 1);
        out[o] = 2; // filter: Up
        for (let k = 0; k < this.stride; k++) out[o + 1 + k] = (row[k]! - this.prev[k]!) & 0xff;
        [this.prev, row] = [row, this.prev];
      }
      if (!this.deflate.write(out)) await once(this.deflate, 'drain');
      await this.drain(false);
    }
    this.rows += rows;
  }

  /** Ends the image (all rows must have come) and writes the rest of the file. */
  async finish(): Promise<void> {
    if (this.rows !== this.height) throw new Error(`PngRowWriter: ${this.rows} rows written of ${this.height}`);
    const ended = once(this.deflate, 'end');
    this.deflate.end();
    await ended;
    await this.drain(true);
    await this.write(chunk('IEND', new Uint8Array(0)));
  }

  /**
   * Deflated bytes so far as IDAT chunks of IDAT_BYTES (the rest too when `all`): fixed sizes, so that the file's bytes
   * do not depend on when zlib happened to hand its output over.
   */
  private async drain(all: boolean): Promise<void> {
    let data = Buffer.concat(this.pending.splice(0));
    while (data.length >= IDAT_BYTES || (all && data.length > 0)) {
      await this.write(chunk('IDAT', data.subarray(0, IDAT_BYTES)));
      data = data.subarray(IDAT_BYTES);
    }
    if (data.length > 0) this.pending.push(data);
  }
}
