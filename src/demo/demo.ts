import { promises as fs } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { readImage, encodeImage, writeImage, type RgbImage } from '../image/io.js';
import { PERCEPTUAL_LABEL, PerceptualNet } from '../metrics/perceptual.js';
import { psnr, ssim } from '../metrics/quality.js';
import { escapeXml } from '../report/svg-plot.js';
import { DEFAULT_TRAIN_CONFIG, MAP_PRESETS, POTENTIAL_PRESETS, type TrainConfig } from '../train/config.js';
import { writeRunReport } from '../train/report.js';
import { type TrainOptions, type TrainResult, train } from '../train/train.js';
import { upscaleRgb } from '../upscale/files-node.js';
import { loadUpscaler } from '../upscale/upscaler-node.js';

/** The bundled photos (assets/demo): two unpaired training folders and one held-out pair. */
export const DEMO_ASSETS = fileURLToPath(new URL('../../assets/demo/', import.meta.url));

export interface DemoOptions extends Pick<TrainOptions, 'onProgress' | 'onMessage' | 'signal'> {
  /** Output folder (run, upscaled images, report). */
  out: string;
  /** Training time budget. */
  minutes: number;
  seed?: number;
}

export interface DemoResult {
  train: TrainResult;
  report: string;
  images: { lr: string; bicubic: string; otsr: string; hr: string };
  metrics: { bicubic: DemoScores; otsr: DemoScores };
}

/** Scores of one upscale of the held-out photo against its ground truth. */
export interface DemoScores {
  psnr: number;
  ssim: number;
  /** The perceptual (otsr features) distance (lower is better; never comparable with published LPIPS). */
  perceptual: number;
}

/** Demo pretraining steps per minute of `--minutes`: a little under what two idle cores of this project's machine make (88 a minute, validation included), so that it ends annealed. */
export const DEMO_STEPS_PER_MINUTE = 80;

/**
 * A small run that trains in minutes on a laptop CPU, with the recipe of `otsr train` (DEFAULT_TRAIN_CONFIG):
 * the map learns to restore blind-degraded copies of the HR photos (pretraining), and, as in otsr train's
 * defaults, no OT stage follows (it makes the map worse at these budgets: bench/RESULTS.md). Smaller than the
 * defaults: the `small` map on 32 px HR crops and a pretraining meant to fill most of the default 3 minutes on
 * two idle cores.
 */
export function demoConfig(seed = 1, minutes = 3): TrainConfig {
  const crop = 32;
  // The pretraining's length (and so its cosine schedule) follows the time given, so that it ends annealed.
  const steps = Math.max(1, Math.round(DEMO_STEPS_PER_MINUTE * minutes));
  return {
    lr: [path.join(DEMO_ASSETS, 'lr')],
    hr: [path.join(DEMO_ASSETS, 'hr')],
    scale: 4,
    solver: 'ots',
    lambda: 0,
    costWeight: DEFAULT_TRAIN_CONFIG.costWeight,
    costResolution: DEFAULT_TRAIN_CONFIG.costResolution,
    // As otsr train's defaults: pretraining only (the OT stage after it makes the map worse: bench/RESULTS.md).
    steps,
    crop,
    batch: 8,
    map: MAP_PRESETS.small!(4),
    potential: POTENTIAL_PRESETS.tiny!(crop),
    learningRate: DEFAULT_TRAIN_CONFIG.learningRate,
    kMap: DEFAULT_TRAIN_CONFIG.kMap,
    nCritic: DEFAULT_TRAIN_CONFIG.nCritic,
    refreshEvery: 0,
    pretrainSteps: steps,
    pretrainLearningRate: DEFAULT_TRAIN_CONFIG.pretrainLearningRate,
    pretrainSchedule: DEFAULT_TRAIN_CONFIG.pretrainSchedule,
    degradation: DEFAULT_TRAIN_CONFIG.degradation,
    valLr: path.join(DEMO_ASSETS, 'val/lr'),
    valHr: path.join(DEMO_ASSETS, 'val/hr'),
    seed,
    checkpointEvery: 20,
    sampleEvery: 40,
    cacheMB: 128,
  };
}

/**
 * `otsr demo`: trains on the bundled photos for `minutes` (at most), upscales the held-out photo with the trained
 * map and with bicubic, measures both against the ground truth and writes one HTML report.
 */
export async function runDemo(options: DemoOptions): Promise<DemoResult> {
  const runDir = path.join(options.out, 'run');
  await fs.rm(runDir, { recursive: true, force: true }); // a demo always starts fresh
  const config = demoConfig(options.seed, options.minutes);
  const result = await train(config, runDir, {
    timeLimitSeconds: options.minutes * 60,
    ...(options.onProgress ? { onProgress: options.onProgress } : {}),
    ...(options.onMessage ? { onMessage: options.onMessage } : {}),
    ...(options.signal ? { signal: options.signal } : {}),
  });
  const lr = await readImage(path.join(DEMO_ASSETS, 'val/lr/fruits.jpg'));
  const hr = await readImage(path.join(DEMO_ASSETS, 'val/hr/fruits.png'));
  const outputs: { name: 'bicubic' | 'otsr'; model: string }[] = [
    { name: 'bicubic', model: 'bicubic' },
    { name: 'otsr', model: result.modelDir },
  ];
  const images = { lr: path.join(options.out, 'fruits-lr.png'), hr: path.join(options.out, 'fruits-hr.png') } as DemoResult['images'];
  const metrics = {} as DemoResult['metrics'];
  const upscaled = {} as Record<'bicubic' | 'otsr', RgbImage>;
  const perceptual = await PerceptualNet.load();
  try {
    for (const { name, model } of outputs) {
      const upscaler = await loadUpscaler(model, { scale: 4 });
      try {
        const img = await upscaleRgb(lr, upscaler);
        upscaled[name] = img;
        images[name] = path.join(options.out, `fruits-${name}.png`);
        await writeImage(images[name], img);
        const [a, b] = [{ ...img, channels: 3 }, { ...hr, channels: 3 }];
        metrics[name] = { psnr: psnr(a, b, { border: 4 }), ssim: ssim(a, b, { border: 4 }), perceptual: await perceptual.distance(a, b) };
      } finally {
        upscaler.dispose();
      }
    }
  } finally {
    perceptual.dispose();
  }
  await writeImage(images.lr, lr);
  await writeImage(images.hr, hr);
  const lead = await beforeAfterHtml(lr, upscaled.bicubic, upscaled.otsr, hr, metrics, result);
  const report = await writeRunReport(runDir, { leadHtml: lead });
  const demoReport = path.join(options.out, 'report.html');
  await fs.copyFile(report, demoReport);
  return { train: result, report: demoReport, images, metrics };
}

async function beforeAfterHtml(
  lr: RgbImage,
  bicubic: RgbImage,
  otsr: RgbImage,
  hr: RgbImage,
  metrics: DemoResult['metrics'],
  result: TrainResult,
): Promise<string> {
  const uri = async (img: RgbImage) => `data:image/png;base64,${(await encodeImage(img, 'png')).toString('base64')}`;
  const [lrUri, bicUri, otsrUri, hrUri] = await Promise.all([lr, bicubic, otsr, hr].map(uri));
  const w = hr.width, h = hr.height;
  const row = (name: string, m: DemoScores) =>
    `<tr><td>${escapeXml(name)}</td><td>${m.psnr.toFixed(2)}</td><td>${m.ssim.toFixed(4)}</td><td>${m.perceptual.toFixed(4)}</td></tr>`;
  return `<h2>Before / after: a held-out photo, x4</h2>
<p>Trained ${result.steps} steps in ${(result.seconds / 60).toFixed(1)} min on the bundled unpaired photos; the photo below was never seen in training.
Drag the slider: bicubic on the left, otsr on the right.</p>
<div style="position:relative;width:${w}px;max-width:100%;aspect-ratio:${w}/${h}">
<img src="${otsrUri}" style="position:absolute;inset:0;width:100%;height:100%" alt="otsr">
<div id="cmp" style="position:absolute;inset:0;width:50%;overflow:hidden;border-right:2px solid #fff"><img src="${bicUri}" style="width:${w}px;max-width:none;height:100%" alt="bicubic"></div>
</div>
<input type="range" min="0" max="100" value="50" style="width:${w}px;max-width:100%" oninput="document.getElementById('cmp').style.width=this.value+'%'">
<table border="1" cellpadding="4" style="border-collapse:collapse;margin:8px 0"><tr><th>x4 method</th><th>PSNR (dB)</th><th>SSIM</th><th>${escapeXml(PERCEPTUAL_LABEL)} (lower is better)</th></tr>
${row('bicubic', metrics.bicubic)}${row('otsr (this run)', metrics.otsr)}</table>
<p>PSNR/SSIM on RGB in [0, 255], 4-pixel border cropped, against the ground-truth photo; the perceptual distance
compares deep features of an ImageNet MobileNetV2 (docs/evaluation.md). SSIM rewards smoothing on this degradation:
judge by the perceptual distance and the pictures, with PSNR as a fidelity check.</p>
<div class="plots"><figure><img src="${lrUri}" width="${w}" style="image-rendering:pixelated" alt="LR"><figcaption>input (LR, shown at x4)</figcaption></figure>
<figure><img src="${hrUri}" alt="HR"><figcaption>ground truth (HR)</figcaption></figure></div>`;
}
