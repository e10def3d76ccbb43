/**
 * Aligned (LR, HR) crop pairs made from the HR folder alone, by degrading each HR crop on the fly.
 *
 * This is how real-world SR models are pretrained without pairs of the real degradation (ESRGAN pretrains on
 * bicubic pairs; BSRGAN and Real-ESRGAN on randomly blurred, noised and JPEG-compressed ones): the pairs teach
 * the map to restore *some* family of degradations, and the neural-OT stage that follows moves it towards the
 * real LR photos, which it sees only unpaired. No pair of the real, unknown degradation is ever used.
 *
 * A fixed degradation (`blur=1.2,noise=8,jpeg=60`) gives the supervised *oracle* of a benchmark whose
 * degradation is known: the same map trained with exactly the right pairs.
 *
 * Browser-safe: the HR crops come from any {@link Sampler} (a folder in Node, decoded images on the page) and the
 * JPEG step from the caller (sharp in Node, a canvas on the page).
 */
import * as tf from '@tensorflow/tfjs-core';
import { UsageError } from '../errors.js';
import { type JpegRoundTrip, degradeRgb } from '../image/degrade-float.js';
import type { RgbImage } from '../image/pixels.js';
import { Rng } from '../util/rng.js';
import { type DegradationSpec, drawDegradation } from './degradation.js';
import type { Sampler } from './sampler.js';

/** A source of aligned pairs: x [B, c/s, c/s, 3] (LR) and y [B, c, c, 3] (HR), both in [-1, 1]. */
export interface PairSampler {
  samplePairs(batch: number): Promise<{ x: tf.Tensor4D; y: tf.Tensor4D }>;
  readonly lrShape: readonly number[];
  readonly hrShape: readonly number[];
  getState(): unknown;
  setState(state: unknown): void;
}

/**
 * HR border (pixels, a multiple of the scale) drawn around each crop and cut off after degrading, so that the
 * blur, the downscaling kernel and the JPEG blocks see real image content at the crop's edges, as they do
 * inside a whole degraded photo.
 */
export function pairMargin(scale: number): number {
  return 3 * scale;
}

interface SyntheticPairState {
  hr: unknown;
  rng: number[];
}

/**
 * Pairs from HR crops: `hr` must draw crops of side c + 2·{@link pairMargin}(s) in [-1, 1]; each is degraded (blur,
 * 1/s, noise, JPEG through `jpeg`), and the centre c x c HR crop is paired with the matching c/s x c/s LR crop.
 * Seeded and resumable: the state is the HR sampler's and the degradation RNG's.
 */
export class SyntheticPairSampler implements PairSampler {
  readonly lrShape: readonly number[];
  readonly hrShape: readonly number[];
  private readonly rng: Rng;
  private readonly margin: number;

  constructor(
    private readonly hr: Sampler,
    readonly scale: number,
    readonly crop: number,
    readonly degradation: DegradationSpec,
    seed: number,
    private readonly jpeg: JpegRoundTrip,
  ) {
    this.margin = pairMargin(scale);
    if (crop % scale !== 0) throw new UsageError(`the HR crop (${crop}) must be a multiple of the scale (${scale})`);
    if (hr.shape[0] !== crop + 2 * this.margin) {
      throw new Error(`the HR sampler draws ${hr.shape[0]} px crops; pairs need ${crop + 2 * this.margin} (crop + 2 x margin)`);
    }
    this.rng = new Rng(seed);
    this.lrShape = [crop / scale, crop / scale, 3];
    this.hrShape = [crop, crop, 3];
  }

  async samplePairs(batch: number): Promise<{ x: tf.Tensor4D; y: tf.Tensor4D }> {
    const big = await this.hr.sample(batch);
    const data = (await big.data()) as Float32Array;
    big.dispose();
    const { crop, scale, margin } = this;
    const side = crop + 2 * margin;
    const lrSide = crop / scale;
    const xs = new Float32Array(batch * lrSide * lrSide * 3);
    const ys = new Float32Array(batch * crop * crop * 3);
    for (let b = 0; b < batch; b++) {
      const hr = toBytes(data.subarray(b * side * side * 3, (b + 1) * side * side * 3), side);
      const lr = await degradeRgb(hr, drawDegradation(this.degradation, scale, this.rng), this.rng, this.jpeg);
      copyWindow(hr, margin, crop, ys, b * crop * crop * 3);
      copyWindow(lr, margin / scale, lrSide, xs, b * lrSide * lrSide * 3);
    }
    return { x: tf.tensor4d(xs, [batch, lrSide, lrSide, 3]), y: tf.tensor4d(ys, [batch, crop, crop, 3]) };
  }

  getState(): SyntheticPairState {
    return { hr: this.hr.getState(), rng: this.rng.getState() };
  }

  setState(state: unknown): void {
    const s = state as Partial<SyntheticPairState> | null;
    if (!s || !Array.isArray(s.rng)) throw new Error('not a synthetic pair sampler state');
    this.hr.setState(s.hr);
    this.rng.setState(s.rng);
  }
}

/** A square float crop in [-1, 1] (from 8-bit pixels, so exact) back to 8-bit RGB. */
function toBytes(data: Float32Array, side: number): RgbImage {
  const out = new Uint8Array(data.length);
  for (let i = 0; i < data.length; i++) out[i] = Math.round((data[i]! + 1) * 127.5);
  return { width: side, height: side, data: out };
}

/** The size x size window at (at, at) of `img`, as floats in [-1, 1], into `out` at `offset`. */
function copyWindow(img: RgbImage, at: number, size: number, out: Float32Array, offset: number): void {
  let o = offset;
  for (let r = 0; r < size; r++) {
    const row = ((at + r) * img.width + at) * 3;
    for (let i = 0; i < size * 3; i++) out[o++] = img.data[row + i]! / 127.5 - 1;
  }
}
