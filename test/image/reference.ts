/** Loads the Pillow / PyTorch bicubic reference numbers (made by fixtures/make-bicubic-reference.py). */
import { readFileSync } from 'node:fs';
import type { FloatImage } from '../../src/image/io.js';

export interface ReferenceCase {
  kernel: 'pil' | 'torch';
  seed: number;
  inWidth: number;
  inHeight: number;
  how: { size?: [number, number]; scale?: number };
  width: number;
  height: number;
  data: number[];
}

export const reference = JSON.parse(
  readFileSync(new URL('./fixtures/bicubic-reference.json', import.meta.url), 'utf8'),
) as { pillow: string; torch: string; cases: ReferenceCase[] };

/** The script's input formula, exact in float32. */
export function referencePattern(width: number, height: number, seed: number): FloatImage {
  const data = new Float32Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      for (let c = 0; c < 3; c++) data[(y * width + x) * 3 + c] = ((x * 37 + y * 91 + c * 53 + seed * 17) % 256) / 127.5 - 1;
    }
  }
  return { width, height, channels: 3, data };
}

