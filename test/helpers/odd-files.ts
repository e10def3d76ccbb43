/**
 * The zoo of files a user's folders really hold, for end-to-end tests of `otsr train` and `otsr upscale`:
 * broken files that must be refused with one line naming them, and odd but valid images that must work.
 */
import * as path from 'node:path';
import { hugeHeaderPng, rawRgb, writeBytes, writePng } from './images.js';

/** A broken file and the words its one-line refusal must contain. */
export interface BadFile {
  name: string;
  problem: RegExp;
  /** Its header reads fine; only decoding the data finds the damage. */
  headerOk?: boolean;
}

/**
 * Writes broken image files into `dir`: zero bytes, truncated PNG and JPEG, text named .png, a
 * 30000x30000 header (decompression bomb). Returns them with the problem each must be refused for.
 */
export async function writeBadFiles(dir: string, prefix = ''): Promise<BadFile[]> {
  const png = await rawRgb(40, 32, 5).png().toBuffer();
  const jpg = await rawRgb(40, 32, 5).jpeg({ quality: 90 }).toBuffer();
  const files: (BadFile & { bytes: Uint8Array | string })[] = [
    { name: 'zero.png', bytes: new Uint8Array(0), problem: /file is empty \(0 bytes\)/ },
    { name: 'truncated.png', bytes: png.subarray(0, png.length >> 1), problem: /truncated or corrupt/, headerOk: true },
    { name: 'truncated.jpg', bytes: jpg.subarray(0, jpg.length >> 1), problem: /truncated or corrupt/, headerOk: true },
    { name: 'notes.png', bytes: 'shopping list: eggs, milk\n', problem: /not an image/ },
    { name: 'bomb.png', bytes: await hugeHeaderPng(30000, 30000), problem: /30000x30000 \(900 MP\), above the limit of 100 MP/ },
  ];
  for (const f of files) {
    f.name = prefix + f.name;
    writeBytes(path.join(dir, f.name), f.bytes);
  }
  return files.map(({ name, problem, headerOk }) => ({ name, problem, ...(headerOk ? { headerOk } : {}) }));
}

/** An odd but valid image and its size once decoded (EXIF orientation applied). */
export interface OddFile {
  name: string;
  width: number;
  height: number;
  alpha: boolean;
}

/**
 * Writes odd but valid images of about `w` x `h` into `dir`: grey, CMYK, 16-bit, palette, alpha,
 * EXIF-rotated (orientation 6: displayed as h x w), a 1x1 pixel, and a name with spaces and non-ASCII
 * characters.
 */
export async function writeOddFiles(dir: string, w = 40, h = 32): Promise<OddFile[]> {
  const f = (name: string) => path.join(dir, name);
  await rawRgb(w, h, 1).toColourspace('b-w').png().toFile(f('grey.png'));
  await rawRgb(w, h, 2).toColourspace('cmyk').jpeg({ quality: 90 }).toFile(f('cmyk.jpg'));
  await rawRgb(w, h, 3).toColourspace('rgb16').png().toFile(f('deep16.png'));
  await rawRgb(w, h, 4).png({ palette: true, colours: 64 }).toFile(f('palette.png'));
  await rawRgb(w, h, 5).ensureAlpha(0.5).png().toFile(f('alpha.png'));
  await rawRgb(w, h, 6).withMetadata({ orientation: 6 }).jpeg({ quality: 90 }).toFile(f('rotated.jpg'));
  await writePng(f('dot.png'), 1, 1, 7);
  await writePng(f('été photo — 写真 1.png'), w, h, 8);
  const plain = (name: string, alpha = false): OddFile => ({ name, width: w, height: h, alpha });
  return [
    plain('grey.png'),
    plain('cmyk.jpg'),
    plain('deep16.png'),
    plain('palette.png'),
    plain('alpha.png', true),
    { name: 'rotated.jpg', width: h, height: w, alpha: false },
    { name: 'dot.png', width: 1, height: 1, alpha: false },
    plain('été photo — 写真 1.png'),
  ];
}

/** What a user must never see: a JavaScript stack trace or an internal error. */
export const STACK_TRACE = /^\s+at .+[(:]\d+|internal error|TypeError|RangeError|ReferenceError/m;
