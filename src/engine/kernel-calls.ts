import * as tf from '@tensorflow/tfjs-core';
import { type KernelLanes, kernelLanes } from './threads/lanes.js';
import { SimdKernels } from './wasm/simd-kernels.js';

type TensorInfo = tf.TensorInfo;

/** The parts of tfjs-backend-wasm's `BackendWasm` that otsr's kernels use. */
export interface WasmBackendLike {
  makeOutput(shape: number[], dtype: tf.DataType): TensorInfo;
  typedArrayFromHeap(info: TensorInfo): Float32Array | Int32Array | Uint8Array;
  disposeData(dataId: tf.DataId, force?: boolean): boolean;
  /**
   * The Emscripten module. The heap every tensor lives on is exported by the single-threaded build
   * (`asm.memory`) and created in JS, shared, by the multi-threaded one (`wasmMemory`; browsers use it
   * when the page is cross-origin isolated).
   */
  wasm?: { asm?: { memory?: unknown }; wasmMemory?: unknown };
}

/**
 * Calls other kernels of one backend from inside a kernel, and frees their outputs.
 *
 * A kernel runs below the engine, so it cannot use `tf.*` ops (they would be recorded on the tape and
 * counted as tensors); it calls the backend's own kernel functions instead, and every intermediate
 * `TensorInfo` they return must be released with `backend.disposeData`. `KernelCalls` records every
 * intermediate; `keep` marks the one that becomes the kernel's output and `dispose` frees the rest
 * ({@link withKernelCalls} does the dispose).
 *
 * Heap addresses survive an allocation, views do not: an allocation (any kernel run, `empty`, `zeros`, ...)
 * can grow the wasm memory, which replaces its buffer and detaches every typed array on it. So a byte
 * address from {@link address} stays valid for the whole kernel, while a {@link view} or {@link heap} must be
 * taken after the last allocation that precedes its use.
 */
export class KernelCalls {
  private readonly temps: TensorInfo[] = [];

  constructor(
    readonly backend: WasmBackendLike,
    readonly backendName: string,
  ) {}

  /** Runs kernel `name` of this backend; the result is freed by {@link dispose} unless kept. */
  run(name: string, inputs: tf.NamedTensorInfoMap | TensorInfo[], attrs: object = {}): TensorInfo {
    const config = tf.getKernel(name, this.backendName);
    if (config === undefined) throw new Error(`kernel ${name} is not registered for backend ${this.backendName}`);
    const out = config.kernelFunc({
      inputs: inputs as tf.NamedTensorInfoMap,
      backend: this.backend as unknown as tf.KernelBackend,
      attrs: attrs as tf.NamedAttrMap,
    });
    if (Array.isArray(out)) throw new Error(`kernel ${name} returned several outputs`);
    this.temps.push(out);
    return out;
  }

  /** A new zero-filled float32 tensor (also freed by {@link dispose} unless kept). */
  zeros(shape: number[]): TensorInfo {
    const out = this.backend.makeOutput(shape, 'float32');
    this.backend.typedArrayFromHeap(out).fill(0);
    this.temps.push(out);
    return out;
  }

  /** A new tensor whose contents the caller writes (also freed by {@link dispose} unless kept). */
  empty(shape: number[], dtype: 'float32' | 'int32' = 'float32'): TensorInfo {
    const out = this.backend.makeOutput(shape, dtype);
    this.temps.push(out);
    return out;
  }

  /** Byte address of a tensor's first element on the wasm heap. */
  address(info: TensorInfo): number {
    return this.backend.typedArrayFromHeap(info).byteOffset;
  }

  /** otsr's SIMD kernels on this backend's heap. */
  simd(): SimdKernels {
    return SimdKernels.on(this.memory());
  }

  /** The kernel threads that share this backend's heap (threads/), if more than the calling one. */
  lanes(): KernelLanes | undefined {
    return kernelLanes(this.memory());
  }

  private memory(): WebAssembly.Memory {
    const memory = this.backend.wasm?.asm?.memory ?? this.backend.wasm?.wasmMemory;
    if (!(memory instanceof WebAssembly.Memory)) throw new Error(`backend ${this.backendName} has no wasm heap for otsr's SIMD kernels`);
    return memory;
  }

  /** A new float32 tensor whose values `fill` writes (also freed by {@link dispose} unless kept). */
  fromValues(shape: number[], fill: (out: Float32Array) => void): TensorInfo {
    const out = this.backend.makeOutput(shape, 'float32');
    fill(this.backend.typedArrayFromHeap(out) as Float32Array);
    this.temps.push(out);
    return out;
  }

  /** Read-only view of a float32 tensor's data (valid until the next allocation on the backend). */
  view(info: TensorInfo): Float32Array {
    return this.backend.typedArrayFromHeap(info) as Float32Array;
  }

  /**
   * The whole wasm heap as floats, and the index in it of each tensor's first element, for bulk
   * `copyWithin` between tensors without allocating views (valid until the next allocation).
   */
  heap(...infos: TensorInfo[]): { heap: Float32Array; at: number[] } {
    const views = infos.map((t) => this.backend.typedArrayFromHeap(t));
    const heap = new Float32Array(views[0]!.buffer);
    // >>> (unsigned): a heap grows past 2 GiB (full-size OTS training does), where `>>` would turn byte offsets
    // negative and copyWithin would then count from the end of the heap, silently corrupting it.
    return { heap, at: views.map((v) => v.byteOffset >>> 2) };
  }

  transpose(x: TensorInfo, perm: number[]): TensorInfo {
    return this.run('Transpose', { x }, { perm });
  }

  reshape(x: TensorInfo, shape: number[]): TensorInfo {
    return this.run('Reshape', { x }, { shape });
  }

  /** Slices `x`; returns `x` itself (not recorded) when the slice is the whole tensor. */
  slice(x: TensorInfo, begin: number[], size: number[]): TensorInfo {
    if (begin.every((b) => b === 0) && size.every((s, i) => s === x.shape[i])) return x;
    return this.run('Slice', { x }, { begin, size });
  }

  /**
   * The first `cols` columns of a 2-D float32 tensor, as `shape`: a reshape when that is all of them, else a
   * JS copy (tfjs-backend-wasm's Slice took ~1.5x as long for an RGB conv output, [73728, 8] -> 3 columns).
   */
  firstColumns(x: TensorInfo, cols: number, shape: number[]): TensorInfo {
    const [rows, stride] = x.shape as [number, number];
    if (stride === cols) return this.reshape(x, shape);
    return this.fromValues(shape, (out) => {
      const src = this.view(x);
      for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[r * cols + c] = src[r * stride + c]!;
    });
  }

  /** Forward NHWC convolution with explicit padding `[[top, bottom], [left, right]]`. */
  conv2d(
    x: TensorInfo,
    filter: TensorInfo,
    strides: [number, number],
    dilations: [number, number],
    pad: [[number, number], [number, number]],
  ): TensorInfo {
    return this.run('Conv2D', { x, filter }, {
      strides,
      dilations,
      pad: [[0, 0], pad[0], pad[1], [0, 0]],
      dataFormat: 'NHWC',
    });
  }

  /** Frees one intermediate now (to bound memory inside loops). */
  free(info: TensorInfo): void {
    const i = this.temps.lastIndexOf(info);
    if (i < 0) return;
    this.temps.splice(i, 1);
    this.backend.disposeData(info.dataId);
  }

  /** Makes `info` the kernel's output: {@link dispose} will not free it. */
  keep(info: TensorInfo): TensorInfo {
    const i = this.temps.lastIndexOf(info);
    if (i >= 0) this.temps.splice(i, 1);
    return info;
  }

  /** Frees every intermediate not kept. */
  dispose(): void {
    for (const t of this.temps) this.backend.disposeData(t.dataId);
    this.temps.length = 0;
  }
}

/**
 * Runs `body` with a {@link KernelCalls} on `backend`, then frees every intermediate `body` did not keep
 * (also when it throws): the frame of each of otsr's kernel functions.
 */
export function withKernelCalls<T>(backend: unknown, backendName: string, body: (calls: KernelCalls) => T): T {
  const calls = new KernelCalls(backend as WasmBackendLike, backendName);
  try {
    return body(calls);
  } finally {
    calls.dispose();
  }
}
