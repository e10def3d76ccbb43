/**
 * One measurement of `otsr bench upscale --memory`, in a process of its own (a fresh heap, and maxRSS is the peak
 * of this one job): what `otsr upscale IN -o OUT.png --workers 1` does, then its peak RSS as one JSON line on stdout.
 */
import { initBackend } from '../engine/backend.js';
import { planOutputs, upscaleFiles } from '../upscale/files-node.js';
import { loadUpscaler } from '../upscale/upscaler-node.js';

const job = JSON.parse(process.argv[2]!) as { input: string; output: string; model: string; scale: number; tile: number; overlap: number };
await initBackend('wasm', { gradients: false });
const upscaler = await loadUpscaler(job.model, job.model === 'bicubic' ? { scale: job.scale } : {});
const t0 = performance.now();
try {
  await upscaleFiles(await planOutputs([job.input], job.output), upscaler, { tile: job.tile, overlap: job.overlap, workers: 1 });
} finally {
  upscaler.dispose();
}
process.stdout.write(`${JSON.stringify({ peakRssMB: process.resourceUsage().maxRSS / 1024, seconds: (performance.now() - t0) / 1000 })}\n`);
