import { execFile } from 'node:child_process';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import sharp from 'sharp';
import { siblingModule } from '../engine/parallel/index.js';
import { initBackend } from '../engine/backend.js';
import { Edsr } from '../nn/edsr.js';
import { saveModel } from '../nn/serialize-node.js';
import { type BenchMachine, benchMachine, formatMachine } from './machine.js';
import { bandBudget } from '../upscale/files-node.js';
import { tilePlan } from '../upscale/tiles.js';
import { UPSCALE_BENCH_PHOTO } from './upscale.js';

/** One measurement: `otsr upscale` of a `megapixels` JPEG x4 with `tile`, in a fresh process. */
export interface UpscaleMemoryRow {
  megapixels: number;
  width: number;
  height: number;
  tile: number;
  /** The tiles' height: `tile`, or less where the output is so wide that a row of tiles would pass the band budget. */
  tileHeight: number;
  /** What the blend holds for a row of tiles (bandBytes), in MB. */
  bandMB: number;
  /** The median of `peaksMB`, one per run (each in a fresh process). */
  peakRssMB: number;
  peaksMB: number[];
  seconds: number;
}

export interface UpscaleMemoryResult {
  model: string;
  scale: number;
  overlap: number;
  rows: UpscaleMemoryRow[];
  /** Per tile: the largest peak over the smallest, across image sizes (the target is <= 1.2). */
  spread: Record<number, number>;
  machine: BenchMachine;
  date: string;
}

export interface UpscaleMemoryOptions {
  /** Input sizes in megapixels, 4:3 (default 1, 12, 48). */
  sizes?: number[];
  /** Tile sides (default 128 and 512). */
  tiles?: number[];
  /** Runs per size and tile (default 1): the peak reported is their median, for GC timing moves a short run's peak. */
  repeats?: number;
  /** `bicubic` (default) or `edsr`: a small EDSR (2 blocks x 16 features, random weights), to see the model's memory too. */
  model?: 'bicubic' | 'edsr';
  onProgress?: (label: string) => void;
}

const SCALE = 4;
const OVERLAP = 16;

/**
 * Peak resident memory of `otsr upscale` (x4, PNG output, one thread) by image size and tile side, each measurement
 * in a child process of its own, on JPEGs made from the benchmark photo. The input is read and the output written a
 * band of rows at a time, and the band is bounded by files-node.ts's bandBudget, so for one tile the peaks should stay
 * flat across sizes (the target: within 20%).
 */
export async function benchUpscaleMemory(options: UpscaleMemoryOptions = {}): Promise<UpscaleMemoryResult> {
  const sizes = options.sizes ?? [1, 12, 48];
  const tiles = options.tiles ?? [128, 512];
  const say = options.onProgress ?? (() => {});
  const loadavg = os.loadavg();
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'otsr-bench-memory-'));
  try {
    let model = 'bicubic';
    let name = 'bicubic x4';
    if (options.model === 'edsr') {
      await initBackend('wasm', { gradients: false });
      model = path.join(dir, 'edsr');
      const edsr = new Edsr({ nResBlocks: 2, nFeats: 16, scale: SCALE, seed: 1 });
      await saveModel(model, edsr, { scale: SCALE });
      edsr.dispose();
      name = 'EDSR 2x16 x4 (random weights)';
    }
    const rows: UpscaleMemoryRow[] = [];
    for (const mp of sizes) {
      const width = Math.round(Math.sqrt((mp * 1e6 * 4) / 3));
      const height = Math.round((width * 3) / 4);
      const input = path.join(dir, `${mp}mp.jpg`);
      await sharp(UPSCALE_BENCH_PHOTO).resize(width, height, { fit: 'fill' }).jpeg({ quality: 90 }).toFile(input);
      for (const tile of tiles) {
        say(`${mp} MP (${width}x${height}), tile ${tile}`);
        const output = path.join(dir, 'out.png');
        const runs: { peakRssMB: number; seconds: number }[] = [];
        for (let k = 0; k < (options.repeats ?? 1); k++) {
          runs.push(await measure({ input, output, model, scale: SCALE, tile, overlap: OVERLAP }));
          await fs.rm(output, { force: true });
        }
        const { peakRssMB, seconds } = [...runs].sort((a, b) => a.peakRssMB - b.peakRssMB)[Math.floor(runs.length / 2)]!;
        const peaksMB = runs.map((r) => Math.round(r.peakRssMB));
        const plan = tilePlan(width, height, 3, SCALE, { tile, overlap: OVERLAP, depth: 8, maxBandBytes: bandBudget(tile, SCALE, 3) });
        const bandMB = Math.round(plan.bandBytes / 2 ** 20);
        rows.push({ megapixels: mp, width, height, tile, tileHeight: plan.tileHeight, bandMB, peakRssMB: Math.round(peakRssMB), peaksMB, seconds: Math.round(seconds * 10) / 10 });
        say(`  peak RSS ${peaksMB.join(', ')} MB, in ${Math.round(seconds)} s (the median)`);
      }
    }
    const spread: Record<number, number> = {};
    for (const tile of tiles) {
      const peaks = rows.filter((r) => r.tile === tile).map((r) => r.peakRssMB);
      spread[tile] = Math.round((Math.max(...peaks) / Math.min(...peaks)) * 100) / 100;
    }
    return { model: name, scale: SCALE, overlap: OVERLAP, rows, spread, machine: benchMachine(loadavg), date: new Date().toISOString() };
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
}

/** Runs the child (from source under tsx, or compiled) and reads its one line of JSON. */
async function measure(job: object): Promise<{ peakRssMB: number; seconds: number }> {
  const url = siblingModule(import.meta.url, 'upscale-memory-child');
  const args = [...(url.endsWith('.ts') ? ['--import', import.meta.resolve('tsx')] : []), fileURLToPath(url), JSON.stringify(job)];
  const { stdout } = await promisify(execFile)(process.execPath, args, { maxBuffer: 1 << 20 });
  return JSON.parse(stdout.trim().split('\n').at(-1)!) as { peakRssMB: number; seconds: number };
}

/** The table, for terminals and bench/RESULTS.md. */
export function formatUpscaleMemory(r: UpscaleMemoryResult): string {
  const tiles = [...new Set(r.rows.map((x) => x.tile))];
  const sizes = [...new Set(r.rows.map((x) => x.megapixels))];
  const cell = (mp: number, tile: number) => {
    const row = r.rows.find((x) => x.megapixels === mp && x.tile === tile)!;
    const all = row.peaksMB.length > 1 ? ` of ${row.peaksMB.join(', ')}` : '';
    return `${row.peakRssMB} MB${all} (${row.seconds} s; tiles ${row.tile}x${row.tileHeight}, band ${row.bandMB} MB)`;
  };
  return [
    `otsr upscale peak RSS, ${r.model}, overlap ${r.overlap}, PNG output, 1 thread, each run in a fresh process: ${r.date}`,
    formatMachine(r.machine),
    '',
    `| input | ${tiles.map((t) => `tile ${t}`).join(' | ')} |`,
    `| --- | ${tiles.map(() => '---').join(' | ')} |`,
    ...sizes.map((mp) => {
      const row = r.rows.find((x) => x.megapixels === mp)!;
      return `| ${mp} MP (${row.width}x${row.height}) | ${tiles.map((t) => cell(mp, t)).join(' | ')} |`;
    }),
    `| largest / smallest | ${tiles.map((t) => `${r.spread[t]}x`).join(' | ')} |`,
  ].join('\n');
}
