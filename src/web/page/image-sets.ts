/** Sets of training photos picked or dropped in the Train tab, decoded once with the browser's decoder. */
import type { RgbImage } from '../../image/pixels.js';
import type { NamedImages } from '../trainer.js';
import { decodeImageFile } from './pixels.js';

/** Decoded bytes held at most, all sets together: beyond this a tab risks being killed. */
export const MAX_DECODED_BYTES = 1.5 * 1024 ** 3;

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
    try {
      const img = await decodeImageFile(f, f.name);
      bytes += img.data.byteLength;
      if (bytes > budgetBytes) {
        throw new Error(`the images decode to more than ${(budgetBytes / 1024 ** 3).toFixed(1)} GiB; pick fewer or smaller ones`);
      }
      images.push({ width: img.width, height: img.height, data: img.data });
      names.push(f.name);
    } catch (err) {
      if (err instanceof Error && /GiB/.test(err.message)) throw err;
      failed.push((err as Error).message);
    }
  }
  onProgress(sorted.length, sorted.length);
  return { images, names, failed, bytes };
}
