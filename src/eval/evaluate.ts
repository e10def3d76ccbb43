/**
 * Evaluation of an upscaler on a paired LR/HR set (Node): every LR image upscaled with tiled inference, PSNR, SSIM
 * and the perceptual (otsr features) distance against its HR image, and FID/KID (otsr features) between the set of
 * outputs and the set of HR images, with a bootstrap spread over images. Protocols: docs/evaluation.md.
 */
import { PairedFolders } from '../data/paired.js';
import { CancelledError, OtsrError } from '../errors.js';
import { type BootstrapOptions, bootstrapFeatureDistances } from '../metrics/bootstrap.js';
import { FEATURE_DIM } from '../metrics/inception.js';
import { type FeatureMode, concatFeatures, imageFeatures } from '../metrics/features.js';
import { PERCEPTUAL_MIN_SIZE, PerceptualNet } from '../metrics/perceptual.js';
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
  /** How images become Inception inputs (see FeatureMode); default `dense`. */
  featureMode?: FeatureMode;
  /** Skip FID/KID (no Inception run): they are then NaN. */
  skipFeatures?: boolean;
  /** Reuse a loaded Inception (it is not disposed); otherwise one is loaded and disposed. */
  inception?: InceptionFeatureNet;
  kid?: KidOptions;
  /** Bootstrap over images of FID/KID (default 100 resamples, seed 0); `false` skips it (fidStd, kidStd NaN). */
  bootstrap?: BootstrapOptions | false;
  /** Skip the perceptual distance (no MobileNetV2 run): it is then NaN. */
  skipPerceptual?: boolean;
  /** Reuse a loaded PerceptualNet (it is not disposed); otherwise one is loaded and disposed. */
  perceptualNet?: PerceptualNet;
  /** Called after each image (with its scores and the running means) and, within one, per tile. */
  onImage?: (done: number, total: number, image: ImageScores, running: { psnr: number; ssim: number; perceptual?: number }) => void;
  onTile?: (done: number, total: number) => void;
  onWarning?: (message: string) => void;
  signal?: AbortSignal;
}

/** Scores of one image (on its 8-bit output; PSNR/SSIM with `border` = scale pixels cropped). */
export interface ImageScores {
  name: string;
  width: number;
  height: number;
  psnr: number;
  ssim: number;
  /** Perceptual (otsr features) distance to the HR image, on the whole image (lower is better). */
  perceptual: number;
}

/** What `otsr eval --json` prints: the first eight keys are the summary, the rest details. */
export interface EvaluationResult {
  /** The upscaler's name (`bicubic`, a folder, a package). */
  model: string;
  /** Number of image pairs evaluated. */
  images: number;
  /** Means over images of per-image PSNR (dB) and SSIM. */
  psnr: number;
  ssim: number;
  /** Mean over images of the per-image perceptual (otsr features) distance; never comparable with published LPIPS. */
  perceptual: number;
  /** FID and KID (mean over subsets) in otsr features: outputs vs HR images; never comparable with published FIDs. */
  fid: number;
  kid: number;
  /** Wall-clock seconds for the whole evaluation (loading the metric networks included, loading the model not). */
  seconds: number;
  scale: number;
  /** Standard deviations of FID and KID over bootstrap resamples of the images (see bootstrap.ts). */
  fidStd: number;
  kidStd: number;
  /** The resamples themselves (same draws for every model on the same set and seed: paired comparisons). */
  bootstrap: { resamples: number; seed: number; fid: number[]; kid: number[] } | null;
  /** KID's subsets of vectors (1 when a subset is the whole of both sets) and the std of KID over them. */
  kidSubsets: number;
  kidSubsetStd: number;
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
 * Outputs are 8-bit (rounded and clamped, as a saved PNG); PSNR/SSIM crop `scale` pixels at each border, the
 * perceptual distance takes the whole image; FID/KID compare outputs with the HR images (each cut to exactly scale x
 * its LR size) under the same feature mode, with a bootstrap over images for their spread.
 * FID needs at least 2 feature vectors per set (`dense` and `crops` give one per 299x299 crop, at least one per image).
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
  const mode = options.featureMode ?? 'dense';
  const net = options.skipFeatures ? undefined : (options.inception ?? (await InceptionFeatureNet.load()));
  const perceptualNet = options.skipPerceptual ? undefined : (options.perceptualNet ?? (await PerceptualNet.load()));
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
      if (perceptualNet && Math.min(out.width, out.height) < PERCEPTUAL_MIN_SIZE) {
        throw new OtsrError(`${pair.name}: the perceptual distance needs images of at least ${PERCEPTUAL_MIN_SIZE} pixels a side, the HR image is ${out.width}x${out.height}`);
      }
      const scores: ImageScores = {
        name: pair.name,
        width: out.width,
        height: out.height,
        psnr: psnr(a, b, { border: scale }),
        ssim: ssim(a, b, { border: scale }),
        perceptual: perceptualNet ? await perceptualNet.distance(a, b) : NaN,
      };
      perImage.push(scores);
      if (net) {
        const featureOptions = { mode, ...(options.signal ? { signal: options.signal } : {}) };
        outFeatures.push((await imageFeatures(net, a, featureOptions)).data);
        hrFeatures.push((await imageFeatures(net, b, featureOptions)).data);
      }
      options.onImage?.(k + 1, set.length, scores, {
        psnr: mean(perImage.map((s) => s.psnr)),
        ssim: mean(perImage.map((s) => s.ssim)),
        ...(perceptualNet ? { perceptual: mean(perImage.map((s) => s.perceptual)) } : {}),
      });
    }
    let fid = NaN, kid = NaN, kidSubsetStd = NaN, kidSubsets = 0, vectors = 0, fidStd = NaN, kidStd = NaN;
    let bootstrap: EvaluationResult['bootstrap'] = null;
    if (net) {
      const fa = concatFeatures(outFeatures), fb = concatFeatures(hrFeatures);
      vectors = fa.n;
      if (fa.n < 2) {
        options.onWarning?.(`FID and KID need at least 2 feature vectors per set, got ${fa.n}: add images`);
      } else {
        fid = frechetDistance(fa, fb);
        const r = kernelInceptionDistance(fa, fb, options.kid);
        kid = r.mean;
        kidSubsetStd = r.std;
        kidSubsets = r.subsets;
        if (options.bootstrap !== false && perImage.length >= 2) {
          const b = bootstrapFeatureDistances(outFeatures, hrFeatures, FEATURE_DIM, options.bootstrap ?? {});
          [fidStd, kidStd] = [b.fidStd, b.kidStd];
          bootstrap = { resamples: b.resamples, seed: b.seed, fid: b.fid, kid: b.kid };
        }
      }
    }
    return {
      model: upscaler.name,
      images: perImage.length,
      psnr: mean(perImage.map((s) => s.psnr)),
      ssim: mean(perImage.map((s) => s.ssim)),
      perceptual: mean(perImage.map((s) => s.perceptual)),
      fid,
      kid,
      seconds: (performance.now() - start) / 1000,
      scale,
      fidStd,
      kidStd,
      bootstrap,
      kidSubsets,
      kidSubsetStd,
      features: { mode, vectors },
      perImage,
    };
  } finally {
    if (net && !options.inception) net.dispose();
    if (perceptualNet && !options.perceptualNet) perceptualNet.dispose();
  }
}

function mean(values: number[]): number {
  return values.reduce((s, v) => s + v, 0) / values.length;
}
