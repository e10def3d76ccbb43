import * as tf from '@tensorflow/tfjs-core';
import { PairedFolders, alignedCrops, type LoadedPair } from '../data/paired.js';
import { imageToTensor, tensorToImage } from '../image/io.js';
import { upsampleBicubic } from '../image/resize-tensor.js';
import { psnr, ssim } from '../metrics/quality.js';
import type { Module } from '../nn/module.js';
import { writeSampleGrid } from './samples.js';

/** Validation sets larger than this are cut to their first pairs (validation runs every few steps). */
const MAX_PAIRS = 16;
/** LR side of the aligned crops shown in sample grids. */
const GRID_CROP = 24;

/**
 * Validation during training on a paired set (val LR/HR folders): PSNR and SSIM (src/metrics' protocol)
 * of the map's outputs on whole images, next to bicubic's, and sample grids of aligned centre crops.
 */
export class Validator {
  private constructor(
    private readonly pairs: LoadedPair[],
    readonly scale: number,
    private readonly bicubic: { psnr: number; ssim: number },
  ) {}

  static async open(lrDir: string, hrDir: string, scale: number, onWarning: (m: string) => void, maxPixels?: number): Promise<Validator> {
    const folders = await PairedFolders.open({ lr: lrDir, hr: hrDir, scale, onWarning, ...(maxPixels !== undefined ? { maxPixels } : {}) });
    if (folders.length > MAX_PAIRS) onWarning(`validation uses the first ${MAX_PAIRS} of ${folders.length} pairs`);
    const pairs: LoadedPair[] = [];
    for (let k = 0; k < Math.min(MAX_PAIRS, folders.length); k++) pairs.push(await folders.load(k));
    const bicubic = await measure(pairs, scale, (x) => upsampleBicubic(x, scale));
    return new Validator(pairs, scale, bicubic);
  }

  /** Mean PSNR/SSIM of the map on the validation pairs, with bicubic's for reference. */
  async evaluate(map: Module): Promise<Record<string, number>> {
    const m = await measure(this.pairs, this.scale, (x) => map.apply(x) as tf.Tensor4D);
    return { psnr: m.psnr, ssim: m.ssim, psnrBicubic: this.bicubic.psnr, ssimBicubic: this.bicubic.ssim };
  }

  /** A sample grid of aligned centre crops of the first pairs: LR | bicubic | map | HR. */
  async writeGrid(file: string, map: Module): Promise<void> {
    const chosen = this.pairs.slice(0, 4).filter((p) => p.lr.width >= GRID_CROP && p.lr.height >= GRID_CROP);
    if (chosen.length === 0) return;
    const crops = chosen.map((p) =>
      alignedCrops(p, { x: (p.lr.width - GRID_CROP) >> 1, y: (p.lr.height - GRID_CROP) >> 1, size: GRID_CROP, rot: 0, flip: false }, this.scale),
    );
    const n = crops.length, hrSide = GRID_CROP * this.scale;
    const lr = tf.tensor4d(concat(crops.map((c) => c.lr)), [n, GRID_CROP, GRID_CROP, 3]);
    const hr = tf.tensor4d(concat(crops.map((c) => c.hr)), [n, hrSide, hrSide, 3]);
    try {
      await writeSampleGrid(file, lr, this.scale, (x) => map.apply(x) as tf.Tensor4D, hr);
    } finally {
      tf.dispose([lr, hr]);
    }
  }

  dispose(): void {
    this.pairs.length = 0;
  }
}

async function measure(pairs: LoadedPair[], scale: number, upscale: (x: tf.Tensor4D) => tf.Tensor4D) {
  let p = 0, s = 0;
  for (const pair of pairs) {
    const out = tf.tidy(() => upscale(tf.expandDims(imageToTensor(pair.lr), 0) as tf.Tensor4D));
    const img = await tensorToImage(out);
    out.dispose();
    const [a, b] = [{ ...img, channels: 3 }, { ...pair.hr, channels: 3 }];
    p += psnr(a, b, { border: scale });
    s += ssim(a, b, { border: scale });
  }
  return { psnr: p / pairs.length, ssim: s / pairs.length };
}

function concat(parts: Float32Array[]): Float32Array {
  const out = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}
