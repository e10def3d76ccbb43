/**
 * Evaluation of an upscaler on a paired LR/HR set (Node): every LR image upscaled with tiled inference, PSNR and
 * SSIM against its HR image, and FID/KID (otsr features) between the set of outputs and the set of HR images.
 * Protocols: docs/evaluation.md.
 */
import { PairedFolders } from '../data/paired.js';
import { CancelledError, OtsrError } from '../errors.js';
import { type FeatureMode, concatFeatures, imageFeatures } from '../metrics/features.js';
import { frechetDistance, type KidOptions, kernelInceptionDistance } from '../metrics/fid.js';
import { InceptionFeatureNet } from '../metrics/inception.js';
import { psnr, ssim, type RgbImage } from '../metrics/quality.js';
import { upscaleRgb } from '../upscale/files-node.js';
import type { Upscaler } from '../upscale/upscaler-node.js';

export interface EvaluateOptions {
  /** Folders of LR images and of their HR ground truth, matched by name (see PairedFolders). */
  lr: string;
  hr: string;
  /** Tiled inference (see UpscaleOptions); default tile 256, overlap 16. */
  tile?: number;
  overlap?: number;
  /** How images become Inception inputs (see FeatureMode); default `crops`. */
  featureMode?: FeatureMode;
  /** Skip FID/KID (no Inception run): they are then NaN. */
  skipFeatures?: boolean;
  /** Reuse a loaded Inception (it is not disposed); otherwise one is loaded and disposed. */
  inception?: InceptionFeatureNet;
  kid?: KidOptions;
  /** Called after each image (with its scores and the running means) and, within one, per tile. */
  onImage?: (done: number, total: number, image: ImageScores, running: { psnr: number; ssim: number }) => void;
  onTile?: (done: number, total: number) => void;
  onWarning?: (message: string) => void;
  signal?: AbortSignal;
}

/** Scores of one image (on its 8-bit output, `border` = scale pixels cropped). */
export interface ImageScores {
  name: string;
  width: number;
  height: number;
  psnr: number;
  ssim: number;
}

/** What `otsr eval --json` prints: the first seven keys are the summary, the rest details. */
export interface EvaluationResult {
  /** The upscaler's name (`bicubic`, a folder, a package). */
  model: string;
  /** Number of image pairs evaluated. */
  images: number;
  /** Means over images of per-image PSNR (dB) and SSIM. */
  psnr: number;
  ssim: number;
  /** FID and KID (mean over subsets) in otsr features: outputs vs HR images; never comparable with published FIDs. */
  fid: number;
  kid: number;
  /** Wall-clock seconds for the whole evaluation (loading Inception included, loading the model not). */
  seconds: number;
  scale: number;
  /** Standard deviation of KID over its subsets, and their number (1 when a subset is the whole of both sets). */
  kidStd: number;
  kidSubsets: number;
  /** Feature vectors per set (crops or images) and how they were made. */
  features: { mode: FeatureMode; vectors: number };
  perImage: ImageScores[];
}

const withChannels = (img: { width: number; height: number; data: Uint8Array }): RgbImage => ({
  width: img.width,
  height: img.height,
  data: img.data,
  channels: 3,
});

/**
 * Evaluates `upscaler` on the pairs of `options.lr` / `options.hr` (HR sizes must be scale x LR, up to scale - 1
 * extra pixels, which are cut off). One image pair is in memory at a time; only feature vectors are kept.
 * Outputs are 8-bit (rounded and clamped, as a saved PNG); PSNR/SSIM crop `scale` pixels at each border; FID/KID
 * compare outputs with the HR images (each cut to exactly scale x its LR size) under the same feature mode.
 * FID needs at least 2 feature vectors per set (`crops` gives one per 299x299 crop, at least one per image).
 */
export async function evaluate(upscaler: Upscaler, options: EvaluateOptions): Promise<EvaluationResult> {
  const start = performance.now();
  const scale = upscaler.scale;
  const set = await PairedFolders.open({
    lr: options.lr,
    hr: options.hr,
    scale,
    ...(options.onWarning ? { onWarning: options.onWarning } : {}),
  });
  const mode = options.featureMode ?? 'crops';
  const net = options.skipFeatures ? undefined : (options.inception ?? (await InceptionFeatureNet.load()));
  try {
    const perImage: ImageScores[] = [];
    const outFeatures: Float32Array[] = [];
    const hrFeatures: Float32Array[] = [];
    for (let k = 0; k < set.length; k++) {
      if (options.signal?.aborted) throw new CancelledError();
      const pair = await set.load(k);
      const out = await upscaleRgb(pair.lr, upscaler, {
        ...(options.tile !== undefined ? { tile: options.tile } : {}),
        ...(options.overlap !== undefined ? { overlap: options.overlap } : {}),
        ...(options.onTile ? { onTile: options.onTile } : {}),
        ...(options.signal ? { signal: options.signal } : {}),
      });
      if (out.width !== pair.hr.width || out.height !== pair.hr.height) {
        throw new OtsrError(`${pair.name}: the output is ${out.width}x${out.height}, its HR image ${pair.hr.width}x${pair.hr.height}`);
      }
      const [a, b] = [withChannels(out), withChannels(pair.hr)];
      const scores: ImageScores = {
        name: pair.name,
        width: out.width,
        height: out.height,
        psnr: psnr(a, b, { border: scale }),
        ssim: ssim(a, b, { border: scale }),
      };
      perImage.push(scores);
      if (net) {
        const featureOptions = { mode, ...(options.signal ? { signal: options.signal } : {}) };
        outFeatures.push((await imageFeatures(net, a, featureOptions)).data);
        hrFeatures.push((await imageFeatures(net, b, featureOptions)).data);
      }
      options.onImage?.(k + 1, set.length, scores, { psnr: mean(perImage.map((s) => s.psnr)), ssim: mean(perImage.map((s) => s.ssim)) });
    }
    let fid = NaN, kid = NaN, kidStd = NaN, kidSubsets = 0, vectors = 0;
    if (net) {
      const fa = concatFeatures(outFeatures), fb = concatFeatures(hrFeatures);
      vectors = fa.n;
      if (fa.n < 2) {
        options.onWarning?.(`FID and KID need at least 2 feature vectors per set, got ${fa.n}: add images`);
      } else {
        fid = frechetDistance(fa, fb);
        const r = kernelInceptionDistance(fa, fb, options.kid);
        kid = r.mean;
        kidStd = r.std;
        kidSubsets = r.subsets;
      }
    }
    return {
      model: upscaler.name,
      images: perImage.length,
      psnr: mean(perImage.map((s) => s.psnr)),
      ssim: mean(perImage.map((s) => s.ssim)),
      fid,
      kid,
      seconds: (performance.now() - start) / 1000,
      scale,
      kidStd,
      kidSubsets,
      features: { mode, vectors },
      perImage,
    };
  } finally {
    if (net && !options.inception) net.dispose();
  }
}

function mean(values: number[]): number {
  return values.reduce((s, v) => s + v, 0) / values.length;
}
