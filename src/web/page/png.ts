/**
 * PNG encoding in the browser without a canvas: the bytes of the image go into the file exactly (a canvas
 * stores premultiplied alpha, which loses colour where alpha is low), RGB stays 3 channels when the image
 * is opaque, and no canvas size limit applies. Compression is the browser's own zlib (CompressionStream).
 */
import type { RgbImage } from '../../image/pixels.js';
import { pngChunk as chunk } from '../../image/png-chunk.js';

/** Whether this browser can encode with {@link encodePngBytes} (CompressionStream('deflate')). */
export function canEncodePng(): boolean {
  return typeof CompressionStream !== 'undefined';
}

/** Encodes 8-bit RGB (colour type 2) or RGB + alpha (colour type 6) as a PNG file. */
export async function encodePngBytes(img: RgbImage): Promise<Uint8Array<ArrayBuffer>> {
  const { width, height } = img;
  const channels = img.alpha ? 4 : 3;
  const stride = width * channels;
  // Each row: a filter byte (2 = Up: the difference to the row above, cheap and good on photos) + pixels.
  const raw = new Uint8Array((stride + 1) * height);
  const row = new Uint8Array(stride);
  const prev = new Uint8Array(stride);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = y * width + x;
      row[x * channels] = img.data[3 * i]!;
      row[x * channels + 1] = img.data[3 * i + 1]!;
      row[x * channels + 2] = img.data[3 * i + 2]!;
      if (img.alpha) row[x * channels + 3] = img.alpha[i]!;
    }
    const o = y * (stride + 1);
    raw[o] = 2;
    for (let k = 0; k < stride; k++) raw[o + 1 + k] = (row[k]! - prev[k]!) & 0xff;
    prev.set(row);
  }
  const zlib = new Uint8Array(await new Response(new Blob([raw]).stream().pipeThrough(new CompressionStream('deflate'))).arrayBuffer());

  const ihdr = new Uint8Array(13);
  const v = new DataView(ihdr.buffer);
  v.setUint32(0, width);
  v.setUint32(4, height);
  ihdr[8] = 8; // bit depth
  ihdr[9] = img.alpha ? 6 : 2; // colour type
  // compression, filter and interlace methods: 0
  const chunks = [chunk('IHDR', ihdr), chunk('IDAT', zlib), chunk('IEND', new Uint8Array(0))];
  const signature = [137, 80, 78, 71, 13, 10, 26, 10];
  const out = new Uint8Array(signature.length + chunks.reduce((a, c) => a + c.length, 0));
  out.set(signature, 0);
  let p = signature.length;
  for (const c of chunks) {
    out.set(c, p);
    p += c.length;
  }
  return out;
}
