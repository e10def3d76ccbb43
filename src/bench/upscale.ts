import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BackendName } from '../engine/backend.js';
import * as tf from '@tensorflow/tfjs-core';
import { defaultWorkers } from '../engine/parallel/index.js';
import { CancelledError } from '../errors.js';
import { readImage, toFloat } from '../image/io.js';
import { resizeBicubic } from '../image/resize.js';
import { Edsr } from '../nn/edsr.js';
import { saveModel } from '../nn/serialize-node.js';
import { TilePool } from '../upscale/tile-pool-node.js';
import { type FloatImage, tileCount, upscaleTiles } from '../upscale/tiles.js';
import { type Upscaler, loadUpscaler } from '../upscale/upscaler-node.js';
import { type BenchMachine, benchMachine, formatMachine } from './machine.js';

/** The photo of the benchmark: a real 1024x768 photo shipped with otsr (see assets/demo/README.md). */
export const UPSCALE_BENCH_PHOTO = fileURLToPath(new URL('../../assets/demo/hr/dragonfly_by_bolly.png', import.meta.url));

export interface UpscaleBenchResult {
  /** Megapixels of the input photo upscaled per second (input pixels: 1024·768 = 0.786 MP a run), 1 worker. */
  mpps1: number;
  /** The same with `n` worker threads. */
  mppsN: number;
  n: number;
  /** mppsN / mpps1. */
  speedup: number;
  /** Peak resident memory of the whole process (all threads) over the benchmark, in MB (maxRSS). */
  peakRssMB: number;
  /** Resident memory per phase: maxRSS after the 1-worker runs, and the highest RSS sampled during the N-worker runs. */
  rssMB: { workers1: number; workersN: number };
  /** Seconds of every timed run, and the median process CPU seconds (all threads) per run. */
  seconds: { workers1: number[]; workersN: number[] };
  cpuSeconds: { workers1: number; workersN: number };
  /** Seconds to start the N workers (each loads the model); not in the timings. */
  startSeconds: number;
  /** The N-worker output equals the 1-worker output bit for bit. */
  identical: boolean;
  /**
   * The same model exported to ONNX in memory and run by ONNX Runtime's CPU kernels (`otsr upscale --engine onnx`),
   * with 1 and `n` intra-op threads, in this thread.
   */
  onnx: {
    mpps1: number;
    mppsN: number;
    speedup: number;
    seconds: { threads1: number[]; threadsN: number[] };
    cpuSeconds: { threads1: number; threadsN: number };
    /** Largest |ONNX Runtime - TF.js| over the output image, in otsr's range [-1, 1]. */
    maxAbsDiff: number;
    /** The n-thread output equals the 1-thread output bit for bit. */
    identical: boolean;
    /** onnx.mpps1 / mpps1: how much faster ONNX Runtime is than TF.js in one thread. */
    vsTfjs1: number;
    /** onnx.mppsN / mppsN: ONNX Runtime on n threads against TF.js on n worker threads. */
    vsTfjsN: number;
  };
  workload: {
    image: string;
    width: number;
    height: number;
    scale: number;
    model: string;
    tile: number;
    overlap: number;
    tiles: number;
  };
  machine: BenchMachine;
  date: string;
  backend: BackendName;
  quick: boolean;
}

export interface UpscaleBenchOptions {
  /** N (default: the number of cores, at most 8). */
  workers?: number;
  /** Timed runs per worker count after a warm-up tile per worker (default 1; the median is reported). */
  repeats?: number;
  /** Tile side and overlap in input pixels (default 256 and 16, `otsr upscale`'s defaults). */
  tile?: number;
  overlap?: number;
  /** The photo (default {@link UPSCALE_BENCH_PHOTO}); resized (bicubic) to 1024x768 if it is another size. */
  image?: string;
  /** A tiny model on a 128x96 resize of the photo: a smoke run, not a measurement. */
  quick?: boolean;
  /** An x4 otsr model folder (e.g. models/unpaired-x4) to time instead of the reference EDSR. */
  model?: string;
  onProgress?: (event: { label: string }) => void;
  signal?: AbortSignal;
}

const FULL = { nResBlocks: 8, nFeats: 64, width: 1024, height: 768, tile: 256, overlap: 16 };
const QUICK = { nResBlocks: 1, nFeats: 8, width: 128, height: 96, tile: 32, overlap: 8 };
const SCALE = 4;

const round = (x: number, digits: number) => Math.round(x * 10 ** digits) / 10 ** digits;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/**
 * Times `otsr upscale`'s tiled inference of a real 1024x768 photo x4 with the reference EDSR (8 blocks x 64
 * features, no skip, random weights seeded as `otsr bench train`'s), in this thread and on N worker threads
 * ({@link TilePool}), then on ONNX Runtime with 1 and N threads: megapixels per second and peak memory. The TF.js
 * backend is the one initialised (wasm). Decoding and encoding are not timed; tiling, the model calls and the blend are.
 */
export async function benchUpscale(options: UpscaleBenchOptions = {}): Promise<UpscaleBenchResult> {
  const quick = options.quick ?? false;
  const cfg = quick ? QUICK : FULL;
  const n = options.workers ?? defaultWorkers();
  if (!Number.isInteger(n) || n < 1) throw new Error(`workers must be a positive integer, got ${n}`);
  const repeats = options.repeats ?? 1;
  const tile = options.tile ?? cfg.tile;
  const overlap = options.overlap ?? cfg.overlap;
  const file = options.image ?? UPSCALE_BENCH_PHOTO;
  const say = (label: string) => options.onProgress?.({ label });
  const check = () => {
    if (options.signal?.aborted) throw new CancelledError('benchmark cancelled');
  };
  const loadavgBefore = os.loadavg();
  const backend = tf.getBackend() as BackendName;

  let image: FloatImage = toFloat(await readImage(file));
  if (image.width !== cfg.width || image.height !== cfg.height) image = resizeBicubic(image, cfg.width, cfg.height);
  const megapixels = (cfg.width * cfg.height) / 1e6;

  // The model goes through a model folder, as a user's would, so that the workers load the very same weights.
  const temp = options.model === undefined ? await fs.mkdtemp(path.join(os.tmpdir(), 'otsr-bench-upscale-')) : undefined;
  const dir = options.model ?? temp!;
  if (temp) {
    const edsr = new Edsr({ nResBlocks: cfg.nResBlocks, nFeats: cfg.nFeats, scale: SCALE, seed: 1 });
    await saveModel(temp, edsr, { scale: SCALE });
    edsr.dispose();
  }
  const upscaler = await loadUpscaler(dir, { engine: 'tfjs', scale: SCALE });
  const onnxUpscalers: Upscaler[] = [];
  const rss = () => process.memoryUsage.rss() / 2 ** 20;
  const maxRss = () => process.resourceUsage().maxRSS / 1024;
  const opts = { tile, overlap, signal: options.signal };
  const tiles = tileCount(cfg.width, cfg.height, opts);

  /** Timed runs of `run`; returns their seconds, median CPU seconds and the last output. */
  async function timed(label: string, run: () => Promise<FloatImage>) {
    const seconds: number[] = [];
    const cpu: number[] = [];
    let out: FloatImage | undefined;
    for (let r = 0; r < repeats; r++) {
      check();
      out = undefined; // let the previous output go before the next run allocates its own
      const c0 = process.cpuUsage();
      const t0 = performance.now();
      out = await run();
      seconds.push((performance.now() - t0) / 1000);
      const c = process.cpuUsage(c0);
      cpu.push((c.user + c.system) / 1e6);
      say(`${label}: ${round(seconds.at(-1)!, 2)} s (${round(megapixels / seconds.at(-1)!, 4)} MP/s)`);
    }
    return { seconds, cpu: median(cpu), out: out! };
  }

  let pool: TilePool | undefined;
  try {
    // One worker: this thread, as `otsr upscale --workers 1`.
    say(`1 worker: warm-up`);
    const warmTile = cropOf(image, Math.min(tile, cfg.width), Math.min(tile, cfg.height));
    await upscaleTiles(warmTile, { tile, overlap }, upscaler.runner);
    const one = await timed('1 worker', () => upscaleTiles(image, opts, upscaler.runner));
    const rss1 = maxRss();
    const first = one.out;

    check();
    say(`${n} workers: starting`);
    const t0 = performance.now();
    pool = await TilePool.start(upscaler, { workers: n, backend });
    const startSeconds = (performance.now() - t0) / 1000;
    // Warm-up: one tile in every worker at once.
    await Promise.all(Array.from({ length: n }, () => pool!.upscale(warmTile, { tile, overlap })));
    let rssN = rss();
    const many = await timed(`${n} workers`, () =>
      pool!.upscale(image, { ...opts, progress: () => void (rssN = Math.max(rssN, rss())) }),
    );
    rssN = Math.max(rssN, rss());
    const identical = sameBits(first, many.out);
    await pool.close();
    pool = undefined;
    const mpps1 = megapixels / median(one.seconds);
    const mppsN = megapixels / median(many.seconds);

    const onnxRuns: Awaited<ReturnType<typeof timed>>[] = [];
    for (const threads of [1, n]) {
      check();
      say(`ONNX Runtime, ${threads} thread(s): warm-up`);
      const u = await loadUpscaler(dir, { engine: 'onnx', threads });
      onnxUpscalers.push(u);
      await upscaleTiles(warmTile, { tile, overlap }, u.runner);
      onnxRuns.push(await timed(`ONNX Runtime, ${threads} thread(s)`, () => upscaleTiles(image, opts, u.runner)));
    }
    const [o1, oN] = onnxRuns as [(typeof onnxRuns)[number], (typeof onnxRuns)[number]];
    let maxAbsDiff = 0;
    for (let i = 0; i < first.data.length; i++) maxAbsDiff = Math.max(maxAbsDiff, Math.abs(o1.out.data[i]! - first.data[i]!));
    const onnxMpps1 = megapixels / median(o1.seconds);
    const onnxMppsN = megapixels / median(oN.seconds);
    return {
      mpps1: round(mpps1, 4),
      mppsN: round(mppsN, 4),
      n,
      speedup: round(mppsN / mpps1, 2),
      peakRssMB: Math.round(maxRss()),
      rssMB: { workers1: Math.round(rss1), workersN: Math.round(rssN) },
      seconds: { workers1: one.seconds.map((s) => round(s, 3)), workersN: many.seconds.map((s) => round(s, 3)) },
      cpuSeconds: { workers1: round(one.cpu, 3), workersN: round(many.cpu, 3) },
      startSeconds: round(startSeconds, 3),
      identical,
      onnx: {
        mpps1: round(onnxMpps1, 4),
        mppsN: round(onnxMppsN, 4),
        speedup: round(onnxMppsN / onnxMpps1, 2),
        seconds: { threads1: o1.seconds.map((s) => round(s, 3)), threadsN: oN.seconds.map((s) => round(s, 3)) },
        cpuSeconds: { threads1: round(o1.cpu, 3), threadsN: round(oN.cpu, 3) },
        maxAbsDiff,
        identical: sameBits(o1.out, oN.out),
        vsTfjs1: round(onnxMpps1 / mpps1, 2),
        vsTfjsN: round(onnxMppsN / mppsN, 2),
      },
      workload: {
        image: path.relative(process.cwd(), file) || file,
        width: cfg.width,
        height: cfg.height,
        scale: SCALE,
        model: options.model ?? `EDSR ${cfg.nResBlocks}x${cfg.nFeats} x${SCALE}, no skip, random weights (seed 1)`,
        tile,
        overlap,
        tiles,
      },
      machine: benchMachine(loadavgBefore),
      date: new Date().toISOString(),
      backend,
      quick,
    };
  } finally {
    await pool?.close();
    upscaler.dispose();
    for (const u of onnxUpscalers) u.dispose();
    if (temp) await fs.rm(temp, { recursive: true, force: true });
  }
}

function sameBits(a: FloatImage, b: FloatImage): boolean {
  return Buffer.from(a.data.buffer, a.data.byteOffset, a.data.byteLength).equals(Buffer.from(b.data.buffer, b.data.byteOffset, b.data.byteLength));
}

/** The top-left `w` x `h` pixels of an image. */
function cropOf(img: FloatImage, w: number, h: number): FloatImage {
  const c = img.channels;
  const data = new Float32Array(w * h * c);
  for (let y = 0; y < h; y++) data.set(img.data.subarray(y * img.width * c, (y * img.width + w) * c), y * w * c);
  return { data, width: w, height: h, channels: c };
}

/** A few lines for terminals. */
export function formatUpscaleBench(r: UpscaleBenchResult): string {
  const w = r.workload;
  return [
    `otsr upscale benchmark${r.quick ? ' (quick smoke run, not a measurement)' : ''}: ${r.backend}, ${r.date}`,
    formatMachine(r.machine),
    `workload: ${w.image} at ${w.width}x${w.height} x${w.scale}, ${w.model}, tile ${w.tile} overlap ${w.overlap} (${w.tiles} tiles)`,
    `1 worker: ${r.mpps1.toFixed(4)} MP/s; ${r.n} workers: ${r.mppsN.toFixed(4)} MP/s (${r.speedup.toFixed(2)}x; outputs ${r.identical ? 'identical' : 'DIFFER'})`,
    `ONNX Runtime: 1 thread ${r.onnx.mpps1.toFixed(4)} MP/s (${r.onnx.vsTfjs1.toFixed(2)}x TF.js); ${r.n} threads ${r.onnx.mppsN.toFixed(4)} MP/s ` +
      `(${r.onnx.vsTfjsN.toFixed(2)}x TF.js on ${r.n} workers; outputs ${r.onnx.identical ? 'identical' : 'DIFFER'}); max |ONNX - TF.js| ${r.onnx.maxAbsDiff.toExponential(2)}`,
    `peak RSS ${r.peakRssMB} MB (1 worker ${r.rssMB.workers1} MB, ${r.n} workers ${r.rssMB.workersN} MB); workers started in ${r.startSeconds.toFixed(1)} s`,
  ].join('\n');
}
