import { encodeModule } from './encoder.js';
import { type GemmCall, TILE_COLS, gemmArguments, gemmFunction, packFunction } from './gemm.js';
import { channelsFirstFunction, columnSumsFunction } from './layout.js';

/** otsr's wasm SIMD kernels in one module, for an unshared heap or a shared one (tfjs's multi-threaded build). */
export function simdModuleBytes(shared = false): Uint8Array<ArrayBuffer> {
  return encodeModule(
    { gemm: gemmFunction(), pack: packFunction(), channelsFirst: channelsFirstFunction(), columnSums: columnSumsFunction() },
    { importMemory: { shared } },
  );
}

type Export = (...args: number[]) => void;

/**
 * otsr's SIMD kernels (wasm/gemm.ts, wasm/layout.ts) instantiated on one wasm memory, the heap of one TF.js
 * wasm backend: they read and write tensors in place. Addresses are byte offsets on that heap.
 */
export class SimdKernels {
  private static readonly byMemory = new WeakMap<WebAssembly.Memory, SimdKernels>();
  private static readonly modules = new Map<boolean, WebAssembly.Module>();

  private constructor(private readonly exports: Record<'gemm' | 'pack' | 'channelsFirst' | 'columnSums', Export>) {}

  /** The kernels on `memory` (compiled once per process, instantiated once per memory). */
  static on(memory: WebAssembly.Memory): SimdKernels {
    let kernels = SimdKernels.byMemory.get(memory);
    if (kernels === undefined) {
      const shared = typeof SharedArrayBuffer !== 'undefined' && memory.buffer instanceof SharedArrayBuffer;
      let module = SimdKernels.modules.get(shared);
      if (module === undefined) SimdKernels.modules.set(shared, (module = new WebAssembly.Module(simdModuleBytes(shared))));
      const instance = new WebAssembly.Instance(module, { env: { memory } });
      kernels = new SimdKernels(instance.exports as unknown as SimdKernels['exports']);
      SimdKernels.byMemory.set(memory, kernels);
    }
    return kernels;
  }

  /** out (=|+=) A·B; see {@link GemmCall}. */
  gemm(call: GemmCall): void {
    this.exports.gemm(...gemmArguments(call));
  }

  /**
   * Packs `rows` rows of a row-major matrix at `src` (`rowStride` floats apart; `cols`, a multiple of 8, of
   * them) into GEMM panels at `dst` (see packPanels, which also handles partial panels).
   */
  pack(src: number, rowStride: number, rows: number, cols: number, dst: number): void {
    if (cols % TILE_COLS !== 0 || cols <= 0) throw new Error(`pack: cols ${cols} is not a positive multiple of ${TILE_COLS}`);
    if (rows > 0) this.exports.pack(src, rowStride * 4, rows, cols / TILE_COLS, dst);
  }

  /**
   * `pixels` (a multiple of 4) pixels of `channels` (a multiple of 4) floats each at `src` to channel rows:
   * channel c's run of pixels at dst + c·dstStride floats.
   */
  channelsFirst(src: number, pixels: number, channels: number, dst: number, dstStride: number): void {
    if (pixels % 4 !== 0 || channels % 4 !== 0) throw new Error(`channelsFirst: ${pixels} pixels x ${channels} channels are not multiples of 4`);
    if (pixels > 0 && channels > 0) this.exports.channelsFirst(src, pixels / 4, channels, dst, dstStride * 4);
  }

  /** dst[c] = Σ_r src[r][c] (float32) over `rows` rows of `cols` (a multiple of 4) floats. */
  columnSums(src: number, rows: number, cols: number, dst: number): void {
    if (cols % 4 !== 0 || cols <= 0) throw new Error(`columnSums: cols ${cols} is not a positive multiple of 4`);
    if (rows > 0) this.exports.columnSums(src, rows, cols / 4, dst);
  }
}
