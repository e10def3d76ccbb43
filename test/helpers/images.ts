/** Small, odd, real image files for tests, made with sharp in a temp folder. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { crc32 } from 'node:zlib';
import sharp from 'sharp';

/** A temp folder removed by `cleanup()`. */
export function tempDir(prefix = 'otsr-test-'): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** A deterministic RGB test pattern (smooth gradients + a few edges), w x h x 3 bytes. */
export function pattern(width: number, height: number, seed = 0): Uint8Array {
  const out = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = 3 * (y * width + x);
      out[i] = (x * 7 + y * 3 + seed * 11) % 256;
      out[i + 1] = (Math.floor(128 + 100 * Math.sin((x + seed) / 5) * Math.cos(y / 7))) & 255;
      out[i + 2] = ((x >> 2) ^ (y >> 2)) & 1 ? 230 : 20;
    }
  }
  return out;
}

export function rawRgb(width: number, height: number, seed = 0) {
  return sharp(Buffer.from(pattern(width, height, seed)), { raw: { width, height, channels: 3 } });
}

export async function writePng(file: string, width: number, height: number, seed = 0): Promise<string> {
  await rawRgb(width, height, seed).png().toFile(file);
  return file;
}

export async function writeJpeg(file: string, width: number, height: number, seed = 0, quality = 90): Promise<string> {
  await rawRgb(width, height, seed).jpeg({ quality }).toFile(file);
  return file;
}

/** A PNG whose header claims width x height (e.g. 30000 x 30000) but holds a tiny image: a decompression bomb. */
export async function hugeHeaderPng(width: number, height: number): Promise<Buffer> {
  const png = await rawRgb(8, 8).png().toBuffer();
  // IHDR data starts at byte 16 (8 signature + 4 length + 4 type); its CRC covers type + data (17 bytes).
  const out = Buffer.from(png);
  out.writeUInt32BE(width, 16);
  out.writeUInt32BE(height, 20);
  out.writeUInt32BE(crc32(out.subarray(12, 29)) >>> 0, 29);
  return out;
}

/** Writes `bytes` and returns the path. */
export function writeBytes(file: string, bytes: Uint8Array | string): string {
  writeFileSync(file, bytes);
  return file;
}
