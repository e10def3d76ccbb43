/**
 * The degradations that make pretraining pairs from HR photos (data/synthetic-pairs.ts): their spec, the
 * `--degradation` parser and the `blind` family. Browser-safe (no sharp): the config and the page import it.
 */
import { UsageError } from '../errors.js';
import type { DegradeOptions } from '../image/degrade-float.js';
import type { Rng } from '../util/rng.js';

/**
 * How HR crops become LR ones: `blind`, a random degradation per crop from a wide family (below), or one
 * fixed degradation (`{ blur, noise, jpeg }` in `otsr degrade`'s units). `bicubic` is the fixed degradation
 * with nothing but the downscaling.
 */
export type DegradationSpec = 'blind' | Omit<DegradeOptions, 'scale' | 'seed'>;

/**
 * The `blind` family: a smaller copy of Real-ESRGAN's first-order degradation, broad enough to cover common
 * camera, scan and web pipelines without knowing the user's. Per crop: Gaussian blur σ ~ U[0.2, 2] HR px;
 * antialiased bicubic 1/s; with probability 0.7 Gaussian noise σ ~ U[1, 12] levels; with probability 0.8
 * JPEG quality ~ U{40..95}.
 */
export const BLIND_DEGRADATION = {
  blur: [0.2, 2.0],
  noiseProbability: 0.7,
  noise: [1, 12],
  jpegProbability: 0.8,
  jpeg: [40, 95],
} as const;

/** Parses `--degradation`: `blind`, `bicubic`, or `blur=S,noise=N,jpeg=Q` (any subset). */
export function parseDegradation(text: string): DegradationSpec {
  const t = text.trim();
  if (t === 'blind') return 'blind';
  if (t === 'bicubic') return {};
  const out: { blur?: number; noise?: number; jpeg?: number } = {};
  for (const part of t.split(',')) {
    const [key, value, ...rest] = part.split('=').map((s) => s.trim());
    const v = Number(value);
    if (rest.length > 0 || value === undefined || value === '' || !Number.isFinite(v)) {
      throw new UsageError(`--degradation: '${part}' is not KEY=NUMBER (use blind, bicubic, or e.g. blur=1.2,noise=8,jpeg=60)`);
    }
    if (key === 'blur' && v >= 0) out.blur = v;
    else if (key === 'noise' && v >= 0) out.noise = v;
    else if (key === 'jpeg' && Number.isInteger(v) && v >= 1 && v <= 100) out.jpeg = v;
    else throw new UsageError(`--degradation: '${part}': use blur=SIGMA (>= 0), noise=LEVELS (>= 0) or jpeg=QUALITY (1-100)`);
  }
  return out;
}

/** The degradation of one crop: the fixed one, or a fresh draw from the blind family. */
export function drawDegradation(spec: DegradationSpec, scale: number, rng: Rng): DegradeOptions {
  if (spec !== 'blind') return { scale, ...spec };
  const b = BLIND_DEGRADATION;
  const uniform = ([lo, hi]: readonly [number, number]) => lo + (hi - lo) * rng.next();
  const blur = uniform(b.blur);
  const noise = rng.next() < b.noiseProbability ? uniform(b.noise) : 0;
  const jpeg = rng.next() < b.jpegProbability ? b.jpeg[0] + rng.int(b.jpeg[1] - b.jpeg[0] + 1) : undefined;
  return { scale, blur, noise, ...(jpeg !== undefined ? { jpeg } : {}) };
}
