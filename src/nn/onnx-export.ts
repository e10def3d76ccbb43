/**
 * Export of otsr's image maps (EDSR with or without the bicubic skip, upsampling at HR or LR resolution or by resize convs; UNet) as
 * ONNX models, browser-safe (the protobuf is written by onnx-proto, pure JS).
 *
 * The exported graph follows the convention of PyTorch super-resolution models (and so of chaiNNer and most
 * ONNX tools): input `input` [N, 3, H, W] float32 RGB in [0, 1], output `output` [N, 3, s·H, s·W] in [0, 1]
 * (not clamped), N, H and W dynamic. The graph maps [0, 1] to the model's own data range (otsr's [-1, 1]) and
 * back, so the numbers in between are otsr's. Opset 17, plain ops only: Conv, Relu, Add, Mul, DepthToSpace,
 * Resize, AveragePool, Concat, Slice, Pad, Where and shape arithmetic. The model's ranges, layout, factor and otsr
 * architecture are written to the ONNX metadata (metadata_props), see {@link ONNX_META}.
 *
 * Every op mirrors the TF.js op it replaces, with the attributes that make the numbers agree:
 * - pixel shuffle = DepthToSpace mode DCR (out (h·s+i, w·s+j, c) reads channel (i·s+j)·C + c, as tf.depthToSpace);
 * - the bicubic skip = Resize cubic, cubic_coeff_a −0.75, half_pixel coordinates, exclude_outside 0 (ONNX Runtime
 *   clamps the taps to the border): PyTorch's bicubic, which is otsr's (image/resize-tensor.ts);
 * - UNet's symmetric bottom/right padding = reversed Slices (negative steps) concatenated, sized from the input's
 *   shape at run time (and Pad with zeros where the image is smaller than the pad, as unet.ts does).
 */
import onnxProto from 'onnx-proto';
import { UsageError } from '../errors.js';
import { OTSR_VERSION } from '../version.js';
import type { Module } from './module.js';
import type { OtsrManifest } from './serialize.js';

const { onnx } = onnxProto;

/** The opset the exporter writes (ONNX 1.12, IR version 8): loaded by onnxruntime ≥ 1.12 and chaiNNer. */
export const ONNX_OPSET = 17;
const IR_VERSION = 8;

/** Keys of the exported model's metadata_props. */
export const ONNX_META = {
  /** Pixel range of the input, as JSON `[min, max]`: `[0, 1]`. */
  inputRange: 'input_range',
  /** Pixel range of the output, as JSON: `[0, 1]` (values may overshoot; clamp when quantising). */
  outputRange: 'output_range',
  /** Tensor layout, in words: `NCHW RGB float32`. */
  layout: 'layout',
  /** Upscaling factor, as a decimal integer (1 for maps that keep the size). */
  scale: 'scale',
  /** The otsr architecture (model.json's `arch`), as JSON. */
  arch: 'otsr_arch',
  /** The otsr manifest (model.json's `otsr`: training configuration, data range, dates), as JSON. */
  manifest: 'otsr_manifest',
} as const;

/** The pixel range of exported models' input and output. */
export const ONNX_EXPORT_RANGE: [number, number] = [0, 1];

/** An attribute: INT, INTS, STRING, or FLOAT written as `{ float }` (so that -1.0 is not taken for an int). */
type Attr = number | number[] | string | { float: number };

/** Collects the nodes and initializers of one graph; every value has a fresh name. */
class Graph {
  readonly nodes: onnxProto.onnx.INodeProto[] = [];
  readonly initializers: onnxProto.onnx.ITensorProto[] = [];
  private count = 0;

  private fresh(prefix: string): string {
    return `${prefix}_${this.count++}`;
  }

  /** A float32 initializer. */
  floats(prefix: string, dims: number[], values: Float32Array | number[]): string {
    const data = values instanceof Float32Array ? values : Float32Array.from(values);
    return this.tensor(prefix, dims, onnx.TensorProto.DataType.FLOAT, new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
  }

  /** An int64 initializer (shapes, slice bounds). */
  ints(prefix: string, values: number[]): string {
    const data = BigInt64Array.from(values.map(BigInt));
    return this.tensor(prefix, [values.length], onnx.TensorProto.DataType.INT64, new Uint8Array(data.buffer));
  }

  private tensor(prefix: string, dims: number[], dataType: number, rawData: Uint8Array): string {
    const name = this.fresh(prefix);
    // rawData is little-endian, which Float32Array/BigInt64Array are on every platform Node and browsers run on.
    this.initializers.push({ name, dims, dataType, rawData: rawData.slice() });
    return name;
  }

  /** Appends a node with one output and returns the output's name. `''` stands for an omitted optional input. */
  op(type: string, inputs: string[], attrs: Record<string, Attr> = {}): string {
    const out = this.fresh(type.toLowerCase());
    const attribute = Object.entries(attrs).map(([name, v]): onnxProto.onnx.IAttributeProto => {
      const T = onnx.AttributeProto.AttributeType;
      if (typeof v === 'string') return { name, type: T.STRING, s: new TextEncoder().encode(v) };
      if (Array.isArray(v)) return { name, type: T.INTS, ints: v };
      if (typeof v === 'object') return { name, type: T.FLOAT, f: v.float };
      return { name, type: T.INT, i: v };
    });
    this.nodes.push({ opType: type, input: inputs, output: [out], name: out, attribute });
    return out;
  }
}

/** A module's parameters as plain arrays, looked up by name. */
type Weights = (name: string) => { shape: number[]; values: Float32Array };

/** A TF.js 'same'-padded k×k conv (filter [k, k, cin, cout]) as an ONNX Conv (weights [cout, cin, k, k]). */
function conv(g: Graph, x: string, w: Weights, name: string, pad = true): string {
  const { shape, values } = w(`${name}.w`);
  const [kh, kw, cin, cout] = shape as [number, number, number, number];
  const t = new Float32Array(values.length);
  for (let i = 0; i < kh; i++) {
    for (let j = 0; j < kw; j++) {
      for (let c = 0; c < cin; c++) {
        for (let o = 0; o < cout; o++) t[((o * cin + c) * kh + i) * kw + j] = values[((i * kw + j) * cin + c) * cout + o]!;
      }
    }
  }
  const W = g.floats(`${name}.w`, [cout, cin, kh, kw], t);
  const B = g.floats(`${name}.b`, [cout], w(`${name}.b`).values);
  // TF's 'same' pads an odd kernel by (k-1)/2 on every side; the UNet's 1x1 output conv has none.
  const p = pad ? [(kh - 1) / 2, (kw - 1) / 2, (kh - 1) / 2, (kw - 1) / 2] : [0, 0, 0, 0];
  return g.op('Conv', [x, W, B], { kernel_shape: [kh, kw], pads: p, strides: [1, 1] });
}

function edsr(g: Graph, x: string, w: Weights, spec: Module['spec']): string {
  const resScale = (spec.resScale as number | undefined) ?? 1;
  const scale = spec.scale as number;
  const h0 = conv(g, x, w, 'head');
  let h = h0;
  for (let i = 0; i < (spec.nResBlocks as number); i++) {
    let r = conv(g, g.op('Relu', [conv(g, h, w, `body.${i}.conv1`)]), w, `body.${i}.conv2`);
    if (resScale !== 1) r = g.op('Mul', [r, g.floats('res_scale', [], [resScale])]);
    h = g.op('Add', [h, r]);
  }
  h = g.op('Add', [conv(g, h, w, 'body.conv'), h0]);
  let y: string;
  if (spec.upsampling === 'lr') {
    // ESPCN-style: the tail conv makes 3·s² channels at LR resolution, one shuffle by s.
    y = g.op('DepthToSpace', [conv(g, h, w, 'tail')], { blocksize: scale, mode: 'DCR' });
  } else {
    const factors = scale === 3 ? [3] : Array.from({ length: Math.log2(scale) }, () => 2);
    factors.forEach((factor, i) => {
      if (spec.upsampling === 'resize') {
        // The resize conv as defined (TF.js runs it as ops.ts' resizeConvFilter): nearest-neighbour upsampling,
        // bit-exact as factor² copies along channels shuffled, then the conv at HR resolution.
        const copies = g.op('Concat', Array.from({ length: factor * factor }, () => h), { axis: 1 });
        h = conv(g, g.op('DepthToSpace', [copies], { blocksize: factor, mode: 'DCR' }), w, `up.${i}`);
      } else {
        h = g.op('DepthToSpace', [conv(g, h, w, `up.${i}`)], { blocksize: factor, mode: 'DCR' });
      }
    });
    y = conv(g, h, w, 'tail');
  }
  if (spec.skip === 'upsample') {
    const bicubic = g.op('Resize', [x, '', g.floats('scales', [4], [1, 1, scale, scale])], {
      mode: 'cubic',
      cubic_coeff_a: { float: -0.75 },
      coordinate_transformation_mode: 'half_pixel',
      exclude_outside: 0,
    });
    y = g.op('Add', [y, bicubic]);
  }
  return y;
}

function unet(g: Graph, x: string, w: Weights, spec: Module['spec']): string {
  const depth = spec.depth as number;
  const m = 2 ** depth;
  const double = (v: string, name: string) =>
    g.op('Relu', [conv(g, g.op('Relu', [conv(g, v, w, `${name}.conv0`)]), w, `${name}.conv1`)]);
  // Sizes are known only at run time: pad by (m - n % m) % m, by symmetric reflection, or with zeros on both axes
  // when a pad is larger than its side (unet.ts's padBottomRight): both are built, a Where picks one.
  let y = x;
  let sides: string | undefined;
  if (m > 1) {
    sides = g.op('Gather', [g.op('Shape', [x]), g.ints('hw', [2, 3])], { axis: 0 });
    const M = g.ints('m', [m]);
    const pads = g.op('Mod', [g.op('Sub', [M, g.op('Mod', [sides, M])]), M]);
    const fits = g.op('Min', [pads, sides]);
    let reflected = x;
    for (const [k, axis] of [[0, 2], [1, 3]] as const) {
      const n = g.op('Gather', [fits, g.ints('k', [k])], { axis: 0 });
      // The last n rows (columns) reversed: from index -1 down to, not including, -1 - n.
      const ends = g.op('Sub', [g.ints('minus1', [-1]), n]);
      const mirrored = g.op('Slice', [reflected, g.ints('start', [-1]), ends, g.ints('axis', [axis]), g.ints('step', [-1])]);
      reflected = g.op('Concat', [reflected, mirrored], { axis });
    }
    // Pads (N, C, H, W begins, then ends): zeros after the bottom and right edges.
    const endPads = (hw: string) => g.op('Concat', [g.ints('zeros', [0, 0, 0, 0, 0, 0]), hw], { axis: 0 });
    // The shortfall of a reflection that did not fit, in zeros, only so that both candidates have the same shape.
    reflected = g.op('Pad', [reflected, endPads(g.op('Sub', [pads, fits]))]);
    const zeros = g.op('Pad', [x, endPads(pads)]);
    const big = g.op('Greater', [pads, sides]);
    const tooSmall = g.op('Or', [g.op('Gather', [big, g.ints('k', [0])], { axis: 0 }), g.op('Gather', [big, g.ints('k', [1])], { axis: 0 })]);
    y = g.op('Where', [tooSmall, zeros, reflected]);
  }
  const skips: string[] = [];
  for (let l = 0; l <= depth; l++) {
    if (l > 0) y = g.op('AveragePool', [y], { kernel_shape: [2, 2], strides: [2, 2] });
    y = double(y, `enc${l}`);
    skips.push(y);
  }
  for (let l = depth - 1; l >= 0; l--) {
    const up = g.op('DepthToSpace', [conv(g, y, w, `dec${l}.up`)], { blocksize: 2, mode: 'DCR' });
    y = double(g.op('Concat', [skips[l]!, up], { axis: 1 }), `dec${l}`);
  }
  y = conv(g, y, w, 'out', false);
  if (sides) y = g.op('Slice', [y, g.ints('zero', [0, 0]), sides, g.ints('axes', [2, 3])]);
  return spec.residual === true ? g.op('Add', [y, x]) : y;
}

const ARCHS: Record<string, (g: Graph, x: string, w: Weights, spec: Module['spec']) => string> = { edsr, unet };

/** The architectures {@link exportOnnx} can export (otsr's image maps). */
export const ONNX_EXPORT_KINDS = Object.keys(ARCHS);

/**
 * Encodes an otsr map (EDSR or UNet, with its weights) as an ONNX model (see the module comment for the graph's
 * conventions). `manifest` is the model folder's (scale, data range, training), recorded in the metadata.
 * @throws UsageError for an architecture that is not an image map (critic, MLP).
 */
export async function exportOnnx(module: Module, manifest: Pick<OtsrManifest, 'dataRange'> & Partial<OtsrManifest>): Promise<Uint8Array> {
  const { spec } = module;
  const build = ARCHS[spec.kind];
  if (!build) throw new UsageError(`export: a ${spec.kind} is not an image map; ONNX export supports ${ONNX_EXPORT_KINDS.join(', ')}`);
  const values = new Map<string, { shape: number[]; values: Float32Array }>();
  for (const [name, v] of module.params) values.set(name, { shape: v.shape, values: (await v.data()) as Float32Array });
  const weights: Weights = (name) => {
    const found = values.get(name);
    if (!found) throw new Error(`exportOnnx: ${spec.kind} has no parameter ${name}`);
    return found;
  };
  const channels = (spec.kind === 'unet' ? spec.inChannels : 3) as number;
  const outChannels = (spec.kind === 'unet' ? spec.outChannels : 3) as number;
  const scale = spec.kind === 'edsr' ? (spec.scale as number) : 1;

  const g = new Graph();
  // [0, 1] -> the model's range [lo, hi] and back: x' = lo + x·(hi - lo), y = (y' - lo) / (hi - lo).
  const [lo, hi] = manifest.dataRange;
  const x = g.op('Add', [g.op('Mul', ['input', g.floats('span', [], [hi - lo])]), g.floats('lo', [], [lo])]);
  const y = build(g, x, weights, spec);
  g.nodes.push({
    opType: 'Mul',
    input: [g.op('Sub', [y, g.floats('lo', [], [lo])]), g.floats('inv_span', [], [1 / (hi - lo)])],
    output: ['output'],
    name: 'output',
  });

  const io = (name: string, c: number, prefix: string): onnxProto.onnx.IValueInfoProto => ({
    name,
    type: {
      tensorType: {
        elemType: onnx.TensorProto.DataType.FLOAT,
        shape: { dim: [{ dimParam: 'batch' }, { dimValue: c }, { dimParam: `${prefix}height` }, { dimParam: `${prefix}width` }] },
      },
    },
  });
  const range = JSON.stringify(ONNX_EXPORT_RANGE);
  const model = onnx.ModelProto.create({
    irVersion: IR_VERSION,
    opsetImport: [{ domain: '', version: ONNX_OPSET }],
    producerName: 'otsr',
    producerVersion: OTSR_VERSION,
    docString:
      `otsr ${spec.kind} map, x${scale}: input [N, ${channels}, H, W] float32 RGB in [0, 1], ` +
      `output [N, ${outChannels}, ${scale}H, ${scale}W] in [0, 1] (not clamped).`,
    graph: {
      name: `otsr_${spec.kind}_x${scale}`,
      node: g.nodes,
      initializer: g.initializers,
      input: [io('input', channels, '')],
      output: [io('output', outChannels, scale === 1 ? '' : 'out_')],
    },
    metadataProps: [
      { key: ONNX_META.inputRange, value: range },
      { key: ONNX_META.outputRange, value: range },
      { key: ONNX_META.layout, value: 'NCHW RGB float32' },
      { key: ONNX_META.scale, value: String(scale) },
      { key: ONNX_META.arch, value: JSON.stringify(spec) },
      { key: ONNX_META.manifest, value: JSON.stringify(manifest) },
    ],
  });
  return onnx.ModelProto.encode(model).finish();
}

/** An ONNX model's metadata_props as a record (ONNX Runtime's JS API does not expose them). */
export function onnxMetadata(model: Uint8Array): Record<string, string> {
  const props = onnx.ModelProto.decode(model).metadataProps;
  return Object.fromEntries(props.map((p) => [p.key, p.value]));
}
