/**
 * Square crops with the 8 symmetries of the square (flips and quarter turns), cut straight out of an 8-bit
 * RGB image into a float batch in [-1, 1]: one pass over the crop's pixels, no intermediate copies.
 */
import type { RgbImage } from '../image/pixels.js';

/** Where a crop comes from and how it is transformed. */
export interface CropSpec {
  /** Top-left corner of the crop in the source image (after EXIF orientation). */
  readonly x: number;
  readonly y: number;
  /** Crop side in pixels. */
  readonly size: number;
  /** Counter-clockwise quarter turns, 0-3 (as numpy's rot90(k)). */
  readonly rot: number;
  /** Mirror left-right after the turn. */
  readonly flip: boolean;
}

/**
 * Source pixel (row, column) inside the crop for output pixel (i, j): out = fliplr?(rot90(crop, rot)).
 * Exported so that tests and paired crops use the same definition.
 */
export function sourceOf(i: number, j: number, size: number, rot: number, flip: boolean): [number, number] {
  const n = size - 1;
  const jj = flip ? n - j : j;
  switch (rot & 3) {
    case 0:
      return [i, jj];
    case 1:
      return [jj, n - i];
    case 2:
      return [n - i, n - jj];
    default:
      return [n - jj, i];
  }
}

/** Writes the transformed crop of `img` as float HWC in [-1, 1] into `out` at `offset` (size * size * 3 values). */
export function writeCrop(img: RgbImage, spec: CropSpec, out: Float32Array, offset: number): void {
  const { x, y, size, rot, flip } = spec;
  if (x < 0 || y < 0 || x + size > img.width || y + size > img.height) {
    throw new RangeError(`crop ${size}x${size} at (${x}, ${y}) is outside the ${img.width}x${img.height} image`);
  }
  const src = img.data;
  const w = img.width;
  let o = offset;
  for (let i = 0; i < size; i++) {
    for (let j = 0; j < size; j++) {
      const [r, c] = sourceOf(i, j, size, rot, flip);
      const p = ((y + r) * w + (x + c)) * 3;
      out[o++] = src[p]! / 127.5 - 1;
      out[o++] = src[p + 1]! / 127.5 - 1;
      out[o++] = src[p + 2]! / 127.5 - 1;
    }
  }
}
