/**
 * Tiled inference on ONNX Runtime's native CPU kernels (onnxruntime-node, Node only): otsr maps exported in memory
 * (nn/onnx-export.ts) and any ONNX super-resolution model a user brings (e.g. exported from PyTorch).
 *
 * The model is a {@link TileRunner}, so the tiling, blending, alpha and atomic writes are those of every other
 * upscaler; ONNX Runtime spreads each tile over its own intra-op threads instead of otsr's worker threads.
 */
import * as ort from 'onnxruntime-node';
import { InputError, OtsrError, UsageError } from '../errors.js';
import { ONNX_META, onnxMetadata } from '../nn/onnx-export.js';
import type { TileRunner } from './tiles.js';

/** What runs an upscaler's model: TF.js (wasm or cpu backend, otsr's worker threads) or ONNX Runtime. */
export type Engine = 'tfjs' | 'onnx';
export const ENGINES: readonly Engine[] = ['tfjs', 'onnx'];

/** Pixel ranges an ONNX model may read and write: [0, 1] (PyTorch's convention) or [0, 255]. */
export const ONNX_RANGES = [1, 255] as const;
export type OnnxRange = (typeof ONNX_RANGES)[number];

export interface OnnxRunnerOptions {
  /** The model's pixel range, [0, range]; default: its metadata's `input_range`, else 1. */
  range?: OnnxRange;
  /** ONNX Runtime's intra-op threads (default 1). */
  threads?: number;
}

/** Side of the probe that finds a foreign model's factor: a multiple of the window sizes of common SR nets. */
const PROBE = 32;

/** An ONNX image-to-image model on ONNX Runtime, as a tile runner; {@link OnnxRunner.scale} is its factor. */
export class OnnxRunner implements TileRunner {
  /** ONNX Runtime parallelises inside each call; one call at a time keeps its threads busy. */
  readonly concurrency = 1;

  private constructor(
    private readonly session: ort.InferenceSession,
    private readonly where: string,
    readonly range: OnnxRange,
    readonly scale: number,
  ) {}

  /**
   * Opens an ONNX model (the bytes of a file named `where` in messages) and finds its factor by running it once
   * on a [1, 3, 32, 32] input.
   * @throws InputError naming the file when it is not an ONNX model, does not map [N, 3, H, W] float32 images to
   *   [N, 3, sH, sW] with an integer s, or cannot run at free sizes.
   */
  static async open(model: Uint8Array, where: string, options: OnnxRunnerOptions = {}): Promise<OnnxRunner> {
    const threads = options.threads ?? 1;
    if (!Number.isInteger(threads) || threads < 1) throw new UsageError(`ONNX Runtime threads must be a positive integer, got ${threads}`);
    let session: ort.InferenceSession;
    const sessionOptions: ort.InferenceSession.SessionOptions = {
      intraOpNumThreads: threads,
      interOpNumThreads: 1,
      executionMode: 'sequential',
      graphOptimizationLevel: 'all',
      // Fatal only: its errors reach the user once, as otsr's one-line errors, not also as its colour log lines.
      logSeverityLevel: 4,
    };
    try {
      session = await ort.InferenceSession.create(model, sessionOptions);
    } catch (err) {
      throw new InputError(where, `is not an ONNX model ONNX Runtime can load: ${firstLine(err)}`, { cause: err });
    }
    try {
      const range = options.range ?? metadataRange(model, where) ?? 1;
      const runner = new OnnxRunner(session, where, range, 1);
      checkSignature(session, where);
      const probe = await runner.run(new Float32Array(3 * PROBE * PROBE), [1, PROBE, PROBE, 3]).catch((err: unknown) => {
        throw new InputError(where, `could not run on a [1, 3, ${PROBE}, ${PROBE}] image: ${firstLine(err)}`, { cause: err });
      });
      const [, oh, ow, oc] = probe.shape;
      const scale = oh! / PROBE;
      if (probe.shape.length !== 4 || oc !== 3 || !Number.isInteger(scale) || scale < 1 || ow !== scale * PROBE) {
        throw new InputError(where, `is not a super-resolution model: it maps [1, 3, ${PROBE}, ${PROBE}] to [${nchw(probe.shape)}], expected [1, 3, s·${PROBE}, s·${PROBE}]`);
      }
      return new OnnxRunner(session, where, range, scale);
    } catch (err) {
      await session.release();
      throw err;
    }
  }

  /** Runs a batch of tiles: NHWC values in [-1, 1] in, NHWC values in [-1, 1] out (the model sees NCHW in [0, range]). */
  async run(pixels: Float32Array, shape: [number, number, number, number]): Promise<{ data: Float32Array; shape: number[] }> {
    const [b, h, w, c] = shape;
    const input = new Float32Array(pixels.length);
    const k = this.range / 2;
    for (let n = 0; n < b; n++) {
      for (let i = 0; i < h * w; i++) {
        for (let ch = 0; ch < c; ch++) input[(n * c + ch) * h * w + i] = (pixels[(n * h * w + i) * c + ch]! + 1) * k;
      }
    }
    let output: ort.Tensor;
    try {
      const result = await this.session.run({ [this.session.inputNames[0]!]: new ort.Tensor('float32', input, [b, c, h, w]) });
      output = result[this.session.outputNames[0]!]!;
    } catch (err) {
      throw new OtsrError(`${this.where}: ONNX Runtime failed on a [${b}, ${c}, ${h}, ${w}] tile batch: ${firstLine(err)}`, { cause: err });
    }
    const [ob, oc, oh, ow] = output.dims.map(Number) as [number, number, number, number];
    if (output.dims.length !== 4 || output.type !== 'float32') {
      throw new InputError(this.where, `returned a ${output.type} tensor of shape [${output.dims.join(', ')}]; expected float32 [N, 3, H, W]`);
    }
    const values = output.data as Float32Array;
    const data = new Float32Array(values.length);
    const inv = 2 / this.range;
    for (let n = 0; n < ob; n++) {
      for (let i = 0; i < oh * ow; i++) {
        for (let ch = 0; ch < oc; ch++) data[(n * oh * ow + i) * oc + ch] = values[(n * oc + ch) * oh * ow + i]! * inv - 1;
      }
    }
    output.dispose();
    return { data, shape: [ob, oh, ow, oc] };
  }

  /** Frees the session (native memory). */
  release(): Promise<void> {
    return this.session.release();
  }
}

/** [N, H, W, C] written as the model's NCHW, for messages. */
function nchw(shape: number[]): string {
  const [n, h, w, c] = shape;
  return [n, c, h, w].join(', ');
}

function firstLine(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).split('\n')[0]!;
}

/** The model's input must be one 4-D float32 tensor with 3 channels (or a free channel count) and free sides. */
function checkSignature(session: ort.InferenceSession, where: string): void {
  if (session.inputNames.length !== 1 || session.outputNames.length < 1) {
    throw new InputError(where, `has ${session.inputNames.length} inputs and ${session.outputNames.length} outputs; an upscaler has one image in and one out`);
  }
  const meta = session.inputMetadata[0];
  if (!meta?.isTensor) return;
  if (meta.type !== 'float32') throw new InputError(where, `reads ${meta.type} input; otsr runs float32 models only`);
  const dims = meta.shape;
  const fixed = (d: number | string | undefined) => typeof d === 'number' && d > 0;
  if (dims.length === 0) return; // not declared
  if (dims.length !== 4 || (fixed(dims[1]) && dims[1] !== 3)) {
    throw new InputError(where, `reads input of shape [${dims.join(', ')}]; expected [N, 3, H, W] (NCHW RGB)`);
  }
  if (fixed(dims[2]) || fixed(dims[3])) {
    throw new InputError(where, `reads a fixed ${String(dims[2])}x${String(dims[3])} input; tiled upscaling needs free height and width (export it with dynamic axes)`);
  }
}

/** [0, 1] or [0, 255] from the `input_range` metadata otsr's exports carry (absent in most foreign models). */
function metadataRange(model: Uint8Array, where: string): OnnxRange | undefined {
  const raw = onnxMetadata(model)[ONNX_META.inputRange];
  if (raw === undefined) return undefined;
  let range: unknown;
  try {
    range = (JSON.parse(raw) as unknown[])[1];
  } catch {
    range = undefined;
  }
  if (!ONNX_RANGES.includes(range as OnnxRange)) throw new InputError(where, `has an unsupported input_range ${raw} in its metadata; give --onnx-range 1 or 255`);
  return range as OnnxRange;
}
