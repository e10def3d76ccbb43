/** Sets of training photos picked or dropped in the Train tab, decoded once with the browser's decoder. */
import { UsageError } from '../../errors.js';
import type { RgbImage } from '../../image/pixels.js';
import type { NamedImages } from '../trainer.js';
import { decodeImageFile } from './pixels.js';

/** Decoded bytes held at most per set: the training itself needs memory too, and a tab has a few GiB. */
export const MAX_DECODED_BYTES = 512 * 1024 ** 2;

export interface DecodedSet extends NamedImages {
  /** Files that could not be decoded, with why. */
  failed: string[];
  bytes: number;
}

/**
 * Decodes image files one by one (in name order, so that a set trains the same whatever order the browser
 * lists it in); files that are not images are reported in `failed`, not fatal.
 */
export async function decodeSet(
  files: readonly File[],
  onProgress: (done: number, total: number) => void,
  budgetBytes = MAX_DECODED_BYTES,
): Promise<DecodedSet> {
  const sorted = [...files].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const images: RgbImage[] = [];
  const names: string[] = [];
  const failed: string[] = [];
  let bytes = 0;
  for (const [i, f] of sorted.entries()) {
    onProgress(i, sorted.length);
    let img: RgbImage;
    try {
      img = await decodeImageFile(f, f.name);
    } catch (err) {
      failed.push((err as Error).message);
      continue;
    }
    bytes += img.data.byteLength;
    if (bytes > budgetBytes) {
      throw new UsageError(`the images decode to more than ${Math.round(budgetBytes / 1024 ** 2)} MiB; pick fewer or smaller ones`);
    }
    images.push({ width: img.width, height: img.height, data: img.data });
    names.push(f.name);
  }
  onProgress(sorted.length, sorted.length);
  return { images, names, failed, bytes };
}
