import { packPanels } from '../engine/wasm/gemm.js';
import { SimdKernels, relaxedSimdSupported } from '../engine/wasm/simd-kernels.js';
import { Rng } from '../util/rng.js';

/**
 * otsr's SIMD GEMM alone, on the shape of the reference EDSR's 64-channel conv (4608 output pixels, 9 taps of
 * 64 channels, 64 output channels), with its data laid out as a conv lays it out, on a heap of its own: what
 * the kernel reaches without the rest of a training step, with multiply + add and with FMA.
 */
export interface GemmSpeed {
  shape: { rows: number; segments: number; segmentLength: number; cols: number };
  /** GFLOP/s, best of the timed runs. */
  mulAdd: number;
  /** GFLOP/s with relaxed SIMD's FMA; null where the engine lacks relaxed SIMD. */
  fma: number | null;
}

export function measureGemmSpeed(options: { runs?: number; rows?: number } = {}): GemmSpeed {
  const runs = options.runs ?? 5;
  const shape = { rows: options.rows ?? 4608, segments: 9, segmentLength: 64, cols: 64 };
  const { rows, segments, segmentLength, cols } = shape;
  const k = segments * segmentLength;
  // Floats: A (one run per row and tap), B, packed B, out.
  const [a, b, packed, out] = [16, 16 + rows * k, 16 + rows * k + k * cols, 16 + rows * k + 2 * k * cols];
  const floats = out + rows * cols;
  const memory = new WebAssembly.Memory({ initial: Math.ceil((floats * 4 + rows * segments * 4) / 65536) + 1 });
  const heap = new Float32Array(memory.buffer);
  const rng = new Rng(7);
  heap.set(rng.normals(rows * k), a);
  heap.set(rng.normals(k * cols), b);
  packPanels(heap, b, cols, k, cols, packed);
  const tableAt = floats;
  const table = new Int32Array(memory.buffer, tableAt * 4, rows * segments);
  for (let r = 0; r < rows; r++) for (let s = 0; s < segments; s++) table[r * segments + s] = (a + (r * segments + s) * segmentLength) * 4;
  const time = (fma: boolean): number => {
    const kernels = SimdKernels.on(memory, { fma });
    const call = { indirection: tableAt * 4, segments, segmentLength, packedB: packed * 4, out: out * 4, outStride: cols, rows, cols };
    kernels.gemm(call);
    kernels.gemm(call); // V8 optimises a wasm function after its first calls
    let best = Infinity;
    for (let i = 0; i < runs; i++) {
      const t0 = performance.now();
      kernels.gemm(call);
      best = Math.min(best, performance.now() - t0);
    }
    return (2 * rows * k * cols) / (best / 1000) / 1e9;
  };
  const round = (x: number) => Math.round(x * 100) / 100;
  return { shape, mulAdd: round(time(false)), fma: relaxedSimdSupported() ? round(time(true)) : null };
}
