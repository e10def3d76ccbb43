import { V128, WasmFunction, encodeModule } from './encoder.js';
import { type GemmActivation, type GemmCall, TILE_COLS, gemmArguments, gemmFunction, packFunction } from './gemm.js';
import { channelsFirstFunction, columnSumsFunction } from './layout.js';
import { adamFunction } from './adam.js';
import { addressTableFunction } from './tables.js';
import {
  type WinogradTile,
  winogradDyFunction,
  winogradFilterFunction,
  winogradFilterGradFunction,
  winogradInputFunction,
  winogradOutputFunction,
} from './winograd.js';

const WINOGRAD_TILES: WinogradTile[] = [2, 4];
const ACTIVATIONS: GemmActivation[] = ['linear', 'relu', 'leakyrelu'];

/** The Winograd transforms of each tile size (and output transforms per activation), by export name. */
function winogradFunctions(): Record<string, WasmFunction> {
  const out: Record<string, WasmFunction> = {};
  for (const tile of WINOGRAD_TILES) {
    out[`winogradInput${tile}`] = winogradInputFunction(tile);
    out[`winogradFilter${tile}`] = winogradFilterFunction(tile);
    out[`winogradDy${tile}`] = winogradDyFunction(tile);
    out[`winogradFilterGrad${tile}`] = winogradFilterGradFunction(tile);
    for (const a of ACTIVATIONS) out[`winogradOutput${tile}_${a}`] = winogradOutputFunction(tile, a);
  }
  return out;
}

/** How the kernels are built: for a shared heap or not (tfjs's multi-threaded build), with FMA or not. */
export interface SimdVariant {
  shared: boolean;
  fma: boolean;
}

/** otsr's wasm SIMD kernels in one module. */
export function simdModuleBytes(variant: SimdVariant = { shared: false, fma: false }): Uint8Array<ArrayBuffer> {
  return encodeModule(
    {
      gemm: gemmFunction({ fma: variant.fma }),
      pack: packFunction(),
      channelsFirst: channelsFirstFunction(),
      columnSums: columnSumsFunction(),
      addressTable: addressTableFunction(),
      adam: adamFunction(),
      ...winogradFunctions(),
    },
    { importMemory: { shared: variant.shared } },
  );
}

let relaxedSimd: boolean | undefined;

/**
 * Whether this engine compiles relaxed SIMD (`f32x4.relaxed_madd`): Chrome 114+, Node 22+, Node 20 with
 * V8's flag (which otsr sets in Node, see backend.ts). Probed once (again with `recheck`, after setting it).
 */
export function relaxedSimdSupported(options: { recheck?: boolean } = {}): boolean {
  if (relaxedSimd === undefined || options.recheck) {
    const f = new WasmFunction([], [V128]);
    f.v128Zero().v128Zero().v128Zero().f32x4RelaxedMadd();
    relaxedSimd = WebAssembly.validate(encodeModule({ probe: f }));
  }
  return relaxedSimd;
}

/**
 * Node 20's V8 compiles relaxed SIMD (standard WebAssembly, on by default from Node 22 and Chrome 114) only
 * behind a flag; otsr's GEMM multiply-adds with its FMA, ~1.3x faster on this project's CPU than a multiply
 * and an add. Node documents `v8.setFlagsFromString` for setting a V8 flag at run time; this one affects
 * modules compiled afterwards, and otsr compiles its kernels on first use. Where the engine already has
 * relaxed SIMD nothing is set. Node only (the engine's backend setup calls it there).
 */
export async function enableRelaxedSimdInNode(): Promise<void> {
  if (relaxedSimdSupported()) return;
  const v8 = await import('node:v8');
  v8.setFlagsFromString('--experimental-wasm-relaxed-simd');
  relaxedSimdSupported({ recheck: true });
}

type Export = (...args: number[]) => void;

/** The scalars of one Adam update (src/ot/adam.ts): c1 = 1 - beta1, c2 = 1 - beta2, stepSize = lr / (1 - beta1^t), invSqrtBc2 = 1 / sqrt(1 - beta2^t). */
export interface AdamScalars {
  beta1: number;
  beta2: number;
  c1: number;
  c2: number;
  stepSize: number;
  invSqrtBc2: number;
  eps: number;
}

/**
 * The geometry of an address table: pixel (gh·step[0] - origin[0] + kh·dilation[0], likewise for columns)
 * of an image of `size` pixels of `pixelBytes` at `base`, for each image, grid point and tap; `fallback`
 * outside the image.
 */
export interface AddressTable {
  batch: number;
  grid: [number, number];
  step: [number, number];
  taps: [number, number];
  dilation: [number, number];
  origin: [number, number];
  size: [number, number];
  base: number;
  pixelBytes: number;
  fallback: number;
}

/** Bytes of packed B one kernel call streams per tile of rows: half of a typical 512 KiB L2. */
const B_BYTES_PER_CALL = 256 * 1024;

/**
 * otsr's SIMD kernels (wasm/gemm.ts, wasm/layout.ts) instantiated on one wasm memory, the heap of one TF.js
 * wasm backend: they read and write tensors in place. Addresses are byte offsets on that heap.
 */
export class SimdKernels {
  private static readonly byMemory = new WeakMap<WebAssembly.Memory, Map<boolean, SimdKernels>>();
  private static readonly modules = new Map<string, WebAssembly.Module>();

  /**
   * Kernels whose calls are not run but handed to `sink` (the index in `names` of the export, its arguments):
   * a kernel thread pool
   * (engine/threads/) records one lane's share of a conv with the same wrappers, then runs it on another thread.
   */
  static recording(names: string[], sink: (index: number, args: number[]) => void, fma: boolean): SimdKernels {
    const exports: Record<string, Export> = {};
    names.forEach((name, index) => (exports[name] = (...args: number[]) => sink(index, args)));
    return new SimdKernels(exports, fma);
  }

  /** These kernels with more exports (a kernel thread pool's `barrier`). */
  static extended(base: SimdKernels, extra: Record<string, Export>): SimdKernels {
    return new SimdKernels({ ...base.exports, ...extra }, base.fma);
  }

  /** The compiled module of a variant (once per process). */
  static module(variant: SimdVariant): WebAssembly.Module {
    const key = `${variant.shared}/${variant.fma}`;
    let module = SimdKernels.modules.get(key);
    if (module === undefined) SimdKernels.modules.set(key, (module = new WebAssembly.Module(simdModuleBytes(variant))));
    return module;
  }

  private constructor(
    private readonly exports: Record<string, Export>,
    /** Whether the GEMM multiply-adds with FMA (relaxed SIMD). */
    readonly fma: boolean,
  ) {}

  /**
   * The kernels on `memory` (compiled once per process and variant, instantiated once per memory), with FMA
   * where the engine has relaxed SIMD unless `fma` says otherwise (tests compare both).
   */
  static on(memory: WebAssembly.Memory, options: { fma?: boolean } = {}): SimdKernels {
    const fma = options.fma ?? relaxedSimdSupported();
    let perVariant = SimdKernels.byMemory.get(memory);
    if (perVariant === undefined) SimdKernels.byMemory.set(memory, (perVariant = new Map()));
    let kernels = perVariant.get(fma);
    if (kernels === undefined) {
      const shared = typeof SharedArrayBuffer !== 'undefined' && memory.buffer instanceof SharedArrayBuffer;
      const instance = new WebAssembly.Instance(SimdKernels.module({ shared, fma }), { env: { memory } });
      kernels = new SimdKernels(instance.exports as unknown as SimdKernels['exports'], fma);
      perVariant.set(fma, kernels);
    }
    return kernels;
  }

  /**
   * Inside a kernel thread pool's run (engine/threads/): returns once every lane of the run has reached its
   * barrier, so that one lane may read what another wrote before it. Elsewhere (one lane) nothing to wait for.
   */
  barrier(): void {
    this.exports.barrier?.();
  }

  /**
   * out (=|+=) A·B; see {@link GemmCall}. The kernel streams a call's packed B for every tile of rows, so wide
   * problems run as column groups whose B fits {@link B_BYTES_PER_CALL}.
   */
  gemm(call: GemmCall): void {
    const k = call.segments * call.segmentLength;
    const group = Math.min(call.cols, Math.max(1, Math.floor(B_BYTES_PER_CALL / (k * TILE_COLS * 4))) * TILE_COLS);
    // One checked argument list, its column group's fields rewritten per call: no object per call (a step
    // makes thousands of these calls, and with kernel lanes the calling thread makes every lane's).
    const args = gemmArguments(call);
    const [packedB, out, bias] = [args[4]!, args[5]!, args[9]!];
    for (let c0 = 0; c0 < call.cols; c0 += group) {
      args[4] = packedB + c0 * k * 4;
      args[5] = out + c0 * 4;
      args[8] = Math.min(group, call.cols - c0) / TILE_COLS;
      args[9] = bias ? bias + c0 * 4 : 0;
      this.exports.gemm(...args);
    }
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

  /**
   * One fused Adam update (wasm/adam.ts) of the first 4·⌊count/4⌋ floats at p, m, v, g into pOut, mOut, vOut
   * (the caller does the rest).
   */
  adam(at: { p: number; m: number; v: number; g: number; pOut: number; mOut: number; vOut: number }, count: number, h: AdamScalars): void {
    const quads = Math.floor(count / 4);
    if (quads === 0) return;
    this.exports.adam!(at.p, at.m, at.v, at.g, quads, h.beta1, h.beta2, h.c1, h.c2, h.stepSize, h.invSqrtBc2, h.eps, at.pOut, at.mOut, at.vOut);
  }

  /** Fills an address table (wasm/tables.ts) at `table`: batch x grid x taps i32 entries. */
  addressTable(table: number, t: AddressTable): void {
    this.exports.addressTable!(
      table, t.batch, t.grid[0], t.grid[1], t.step[0], t.step[1], t.taps[0], t.taps[1], t.dilation[0], t.dilation[1],
      t.origin[0], t.origin[1], t.size[0], t.size[1], t.base, t.pixelBytes, t.fallback,
    );
  }

  /**
   * Winograd input transform (wasm/winograd.ts): `tiles` tiles of `channels` (a multiple of 4) channels, each
   * tile's n² pixel addresses in the i32 table at `table`; position ξ of tile t to dst + ξ·xiStride + t·rowBytes.
   */
  winogradInput(tile: WinogradTile, table: number, tiles: number, channels: number, dst: number, xiStride: number, rowBytes: number): void {
    if (channels % 4 !== 0 || channels <= 0) throw new Error(`winogradInput: ${channels} channels is not a positive multiple of 4`);
    if (tiles > 0) this.exports[`winogradInput${tile}`]!(table, tiles, channels / 4, dst, xiStride, rowBytes);
  }

  /**
   * Winograd output transform: M (position ξ of tile t at src + ξ·xiStride + t·rowBytes) to each tile's m²
   * output pixels (addresses in the table), with the bias (`channels` floats at `bias`) and the activation.
   */
  winogradOutput(
    tile: WinogradTile,
    activation: GemmActivation,
    call: { table: number; tiles: number; channels: number; src: number; xiStride: number; rowBytes: number; bias: number; alpha?: number },
  ): void {
    if (call.channels % 4 !== 0 || call.channels <= 0) throw new Error(`winogradOutput: ${call.channels} channels is not a positive multiple of 4`);
    if (call.tiles > 0) {
      this.exports[`winogradOutput${tile}_${activation}`]!(call.table, call.tiles, call.channels / 4, call.src, call.xiStride, call.rowBytes, call.bias, call.alpha ?? 0);
    }
  }

  /**
   * Winograd filter transform of a [3, 3, inC, outC] filter at `src` (outC a multiple of 4) into the packed B
   * [panels][inC][8] of each position ξ at dst + ξ·xiStride; columns of a last half panel are left as they are.
   * Only input channels [first, end) where `rows` says (a kernel lane's share; default all).
   */
  winogradFilter(tile: WinogradTile, src: number, inC: number, outC: number, dst: number, xiStride: number, rows: [number, number] = [0, inC]): void {
    if (outC % 4 !== 0 || outC <= 0 || inC <= 0) throw new Error(`winogradFilter: ${inC} -> ${outC} channels (outC must be a multiple of 4)`);
    const [first, end] = rows;
    if (end <= first) return;
    this.exports[`winogradFilter${tile}`]!(src + first * outC * 4, end - first, outC / 4, inC * outC * 4, outC * 4, dst + first * 32, xiStride, inC * 16);
  }

  /**
   * The filter gradient's dy transform (wasm/winograd.ts): `tiles` tiles of dy (m² pixel addresses each in
   * the table), `channels` (a multiple of 4) channels, into the packed B [panels][tiles][8] of each position
   * ξ at dst + ξ·xiStride; columns of a last half panel are left as they are. The panels hold `panelTiles`
   * rows (default `tiles`): more when these tiles are a run of a larger block (`dst` then at the run's first row).
   */
  winogradDy(tile: WinogradTile, table: number, tiles: number, channels: number, dst: number, xiStride: number, panelTiles = tiles): void {
    if (channels % 4 !== 0 || channels <= 0) throw new Error(`winogradDy: ${channels} channels is not a positive multiple of 4`);
    if (tiles > 0) this.exports[`winogradDy${tile}`]!(table, tiles, channels / 4, dst, xiStride, panelTiles * 16);
  }

  /**
   * The filter gradient's last transform: M ([inC x cols] per position ξ, at src + ξ·xiStride) to the
   * [3, 3, inC, outC] gradient at `dst` (outC a multiple of 4).
   */
  winogradFilterGrad(tile: WinogradTile, src: number, inC: number, outC: number, cols: number, xiStride: number, dst: number): void {
    if (outC % 4 !== 0 || outC <= 0 || inC <= 0) throw new Error(`winogradFilterGrad: ${inC} -> ${outC} channels (outC must be a multiple of 4)`);
    this.exports[`winogradFilterGrad${tile}`]!(src, inC, outC / 4, cols * 4, xiStride, dst, inC * outC * 4, outC * 4);
  }

  /** dst[c] = Σ_r src[r][c] (float32) over `rows` rows of `cols` (a multiple of 4) floats. */
  columnSums(src: number, rows: number, cols: number, dst: number): void {
    if (cols % 4 !== 0 || cols <= 0) throw new Error(`columnSums: cols ${cols} is not a positive multiple of 4`);
    if (rows > 0) this.exports.columnSums(src, rows, cols / 4, dst);
  }
}
