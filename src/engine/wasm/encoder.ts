/**
 * A small WebAssembly binary encoder: enough to write otsr's SIMD kernels as TypeScript that emits their
 * instructions, so they are generated at run time (a few KB, compiled in milliseconds) instead of shipped
 * as an opaque binary or built by a toolchain that CI and users would have to install.
 *
 * Only the opcodes the kernels use are here; names follow the WebAssembly text format.
 */

export const I32 = 0x7f;
export const F32 = 0x7d;
export const V128 = 0x7b;
export type ValueType = typeof I32 | typeof F32 | typeof V128;

/** Unsigned LEB128 (sizes, indices, memarg offsets). */
export function uleb128(n: number): number[] {
  const out: number[] = [];
  do {
    let byte = n & 0x7f;
    n >>>= 7;
    if (n !== 0) byte |= 0x80;
    out.push(byte);
  } while (n !== 0);
  return out;
}

/** Signed LEB128 (`i32.const` immediates). */
export function sleb128(n: number): number[] {
  const out: number[] = [];
  for (;;) {
    const byte = n & 0x7f;
    n >>= 7;
    const done = (n === 0 && (byte & 0x40) === 0) || (n === -1 && (byte & 0x40) !== 0);
    out.push(done ? byte : byte | 0x80);
    if (done) return out;
  }
}

function f32Bytes(value: number): number[] {
  return [...new Uint8Array(new Float32Array([value]).buffer)];
}

/** SIMD opcodes (after the 0xfd prefix). */
const Simd = {
  load: 0x00,
  load32Splat: 0x09,
  i8x16Shuffle: 0x0d,
  store: 0x0b,
  const: 0x0c,
  f32x4Splat: 0x13,
  f32x4ExtractLane: 0x1f,
  f32x4Lt: 0x43,
  bitselect: 0x52,
  f32x4Sqrt: 0xe3,
  f32x4Add: 0xe4,
  f32x4Sub: 0xe5,
  f32x4Mul: 0xe6,
  f32x4Div: 0xe7,
  f32x4Max: 0xe9,
  f32x4RelaxedMadd: 0x105,
} as const;

/**
 * One function's signature, locals and body, written as a stack machine program with chainable methods:
 * `f.get(a).i32Const(4).i32Add().set(a)` is `a += 4`.
 */
export class WasmFunction {
  private readonly code: number[] = [];
  private readonly locals: ValueType[] = [];

  constructor(
    readonly params: readonly ValueType[],
    readonly results: readonly ValueType[] = [],
  ) {}

  /** Declares a local of `type`; returns its index. */
  local(type: ValueType): number {
    this.locals.push(type);
    return this.params.length + this.locals.length - 1;
  }

  private emit(...bytes: number[]): this {
    this.code.push(...bytes);
    return this;
  }

  private simd(op: number, ...immediates: number[]): this {
    return this.emit(0xfd, ...uleb128(op), ...immediates);
  }

  get(local: number): this {
    return this.emit(0x20, ...uleb128(local));
  }
  set(local: number): this {
    return this.emit(0x21, ...uleb128(local));
  }
  tee(local: number): this {
    return this.emit(0x22, ...uleb128(local));
  }

  /** `block` (branch 0 inside it jumps to its end). */
  block(): this {
    return this.emit(0x02, 0x40);
  }
  /** `loop` (branch 0 inside it jumps back to its start). */
  loop(): this {
    return this.emit(0x03, 0x40);
  }
  /** `if` on the i32 on the stack. */
  if(): this {
    return this.emit(0x04, 0x40);
  }
  end(): this {
    return this.emit(0x0b);
  }
  brIf(depth: number): this {
    return this.emit(0x0d, ...uleb128(depth));
  }
  /** `select`: (a, b, condition) -> condition ? a : b. */
  select(): this {
    return this.emit(0x1b);
  }

  i32Const(n: number): this {
    return this.emit(0x41, ...sleb128(n));
  }
  f32Const(x: number): this {
    return this.emit(0x43, ...f32Bytes(x));
  }
  /** `i32.load` with a constant byte offset. */
  i32Load(offset = 0): this {
    return this.emit(0x28, 2, ...uleb128(offset));
  }
  /** `i32.store`: (address, value), with a constant byte offset. */
  i32Store(offset = 0): this {
    return this.emit(0x36, 2, ...uleb128(offset));
  }
  i32Add(): this {
    return this.emit(0x6a);
  }
  i32Sub(): this {
    return this.emit(0x6b);
  }
  i32Mul(): this {
    return this.emit(0x6c);
  }
  i32And(): this {
    return this.emit(0x71);
  }
  i32Shl(): this {
    return this.emit(0x74);
  }
  i32Eq(): this {
    return this.emit(0x46);
  }
  i32LtU(): this {
    return this.emit(0x49);
  }

  /** `v128.load` (16 bytes) at the address on the stack plus a constant byte offset. */
  v128Load(offset = 0): this {
    return this.simd(Simd.load, 4, ...uleb128(offset));
  }
  /** `v128.store`: (address, value). */
  v128Store(offset = 0): this {
    return this.simd(Simd.store, 4, ...uleb128(offset));
  }
  /** `v128.load32_splat`: one float from memory into all four lanes. */
  v128Load32Splat(offset = 0): this {
    return this.simd(Simd.load32Splat, 2, ...uleb128(offset));
  }
  v128Zero(): this {
    return this.simd(Simd.const, ...new Array<number>(16).fill(0));
  }
  /**
   * `i8x16.shuffle` written with 32-bit lanes: lane i of the result is lane `lanes[i]` of (a, b), lanes 0-3
   * being a's and 4-7 b's.
   */
  i32x4Shuffle(lanes: [number, number, number, number]): this {
    return this.simd(Simd.i8x16Shuffle, ...lanes.flatMap((l) => [4 * l, 4 * l + 1, 4 * l + 2, 4 * l + 3]));
  }
  /** `v128.bitselect`: (a, b, mask) -> a where mask bits are set, else b. */
  v128Bitselect(): this {
    return this.simd(Simd.bitselect);
  }
  f32x4Splat(): this {
    return this.simd(Simd.f32x4Splat);
  }
  f32x4ExtractLane(lane: number): this {
    return this.simd(Simd.f32x4ExtractLane, lane);
  }
  f32x4Add(): this {
    return this.simd(Simd.f32x4Add);
  }
  /** `f32x4.sub`: (a, b) -> a - b. */
  f32x4Sub(): this {
    return this.simd(Simd.f32x4Sub);
  }
  f32x4Mul(): this {
    return this.simd(Simd.f32x4Mul);
  }
  /** `f32x4.div`: (a, b) -> a / b. */
  f32x4Div(): this {
    return this.simd(Simd.f32x4Div);
  }
  f32x4Sqrt(): this {
    return this.simd(Simd.f32x4Sqrt);
  }
  /**
   * `f32x4.relaxed_madd` (relaxed SIMD): (a, b, c) -> a·b + c, fused or not as the CPU does it. V8 emits one
   * FMA instruction where the CPU has FMA.
   */
  f32x4RelaxedMadd(): this {
    return this.simd(Simd.f32x4RelaxedMadd);
  }
  f32x4Max(): this {
    return this.simd(Simd.f32x4Max);
  }
  f32x4Lt(): this {
    return this.simd(Simd.f32x4Lt);
  }

  /** The function's entry in the code section: its size, its locals (run-length encoded) and its body. */
  encodeBody(): number[] {
    const runs: { count: number; type: ValueType }[] = [];
    for (const type of this.locals) {
      const last = runs[runs.length - 1];
      if (last !== undefined && last.type === type) last.count++;
      else runs.push({ count: 1, type });
    }
    const body = [...uleb128(runs.length), ...runs.flatMap((r) => [...uleb128(r.count), r.type]), ...this.code, 0x0b];
    return [...uleb128(body.length), ...body];
  }
}

function section(id: number, body: number[]): number[] {
  return [id, ...uleb128(body.length), ...body];
}

function vector(items: number[][]): number[] {
  return [...uleb128(items.length), ...items.flat()];
}

function name(text: string): number[] {
  const bytes = [...new TextEncoder().encode(text)];
  return [...uleb128(bytes.length), ...bytes];
}

/** Limits of an imported memory: at least one page; a shared one must declare a maximum (here 4 GiB, any). */
function memoryLimits(shared: boolean): number[] {
  return shared ? [0x03, 0x01, ...uleb128(65536)] : [0x00, 0x01];
}

/**
 * A module exporting `functions` by name. With `importMemory`, it imports `env.memory` (shared or not, as
 * the memory it will be given), so its functions work directly on another module's heap.
 */
export function encodeModule(
  functions: Record<string, WasmFunction>,
  options: { importMemory?: { shared: boolean } } = {},
): Uint8Array<ArrayBuffer> {
  const entries = Object.entries(functions);
  const types = entries.map(([, f]) => [0x60, ...uleb128(f.params.length), ...f.params, ...uleb128(f.results.length), ...f.results]);
  return new Uint8Array([
    ...[0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00],
    ...section(1, vector(types)),
    ...(options.importMemory ? section(2, vector([[...name('env'), ...name('memory'), 0x02, ...memoryLimits(options.importMemory.shared)]])) : []),
    ...section(3, vector(entries.map((_, i) => uleb128(i)))),
    ...section(7, vector(entries.map(([exported], i) => [...name(exported), 0x00, ...uleb128(i)]))),
    ...section(10, vector(entries.map(([, f]) => f.encodeBody()))),
  ]);
}
