import * as tf from '@tensorflow/tfjs-core';
import { OtsrError } from '../errors.js';

/**
 * A small interpreter for the Keras 2.2.4 models that ship inside the npm package nsfwjs@4.4.0 (InceptionV3 for
 * FID/KID, MobileNetV2 for the perceptual distance), over tfjs-core ops, without tfjs-layers:
 *
 * - the models use only a handful of layer kinds, and each Conv2D / DepthwiseConv2D → BatchNormalization
 *   (→ plain ReLU) chain is folded into one fused convolution with a bias, which is faster and lighter than
 *   running the layers one by one;
 * - the weights stay plain constant tensors, never `tf.Variable`s, so a training loss built on these nets can
 *   never have them picked up by `tf.variableGrads` or an optimizer;
 * - every op is differentiable (folded ReLU only when it is a plain one: tfjs's fused-conv gradient exists for
 *   `relu` but not `relu6`), so `tf.grad` works through the graph with respect to the input;
 * - only the ancestors of the requested outputs are built, so a classifier head that fixes the input size is
 *   dropped and the graph runs on any image size its convolutions accept.
 *
 * Loading needs no network: the weights are imported from the installed package.
 */

/** The nsfwjs models otsr uses. */
export type NsfwjsModel = 'inception_v3' | 'mobilenet_v2';

/** The raw model definition as stored in nsfwjs: a topology and the base64 weight shards, in order. */
export interface KerasModelSource {
  modelJson: unknown;
  shards: string[];
}

interface KerasLayer {
  name: string;
  class_name: string;
  config: Record<string, unknown>;
  inbound_nodes: [string, number, number, unknown][][];
}

interface KerasModelJson {
  modelTopology: { model_config: { class_name: string; config: { layers: KerasLayer[] } } };
  weightsManifest: { paths: string[]; weights: tf.io.WeightsManifestEntry[] }[];
}

type ModelDef = { modelJson: () => Promise<{ default: unknown }>; weightBundles: (() => Promise<{ default: string }>)[] };

/** Imports a model definition from the installed nsfwjs package (no network). `what` names it in errors. */
export async function loadNsfwjsModelSource(model: NsfwjsModel, what: string): Promise<KerasModelSource> {
  let def: ModelDef;
  try {
    // Dynamic and literal (bundlers must see the specifiers): tens of MB of JavaScript only the metrics need.
    def =
      model === 'inception_v3'
        ? ((await import('nsfwjs/models/inception_v3')) as unknown as { InceptionV3Model: ModelDef }).InceptionV3Model
        : ((await import('nsfwjs/models/mobilenet_v2')) as unknown as { MobileNetV2Model: ModelDef }).MobileNetV2Model;
  } catch (err) {
    throw new OtsrError(`cannot load the ${what} weights from the npm package nsfwjs@4.4.0; is it installed (npm ci)?`, {
      cause: err,
    });
  }
  const modelJson = (await def.modelJson()).default;
  const shards = await Promise.all(def.weightBundles.map(async (load) => (await load()).default));
  return { modelJson, shards };
}

/** The weight shards decoded and concatenated, in manifest order (what `tf.io.decodeWeights` reads). */
export function weightData(shards: readonly string[]): ArrayBuffer {
  const bytes = shards.map(base64ToBytes);
  const buffer = new Uint8Array(bytes.reduce((n, b) => n + b.length, 0));
  let offset = 0;
  for (const b of bytes) {
    buffer.set(b, offset);
    offset += b.length;
  }
  return buffer.buffer;
}

function base64ToBytes(text: string): Uint8Array {
  // atob exists in browsers and in Node >= 16; no Node-only Buffer here.
  const binary = atob(text);
  const out = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) out[i] = binary.charCodeAt(i);
  return out;
}

/** One step of the interpreted graph. */
interface Op {
  name: string;
  kind: 'input' | 'conv' | 'depthwise' | 'bn' | 'relu' | 'maxPool' | 'avgPool' | 'concat' | 'pad' | 'add';
  inputs: string[];
  // conv, depthwise
  filter?: tf.Tensor4D;
  bias?: tf.Tensor1D;
  strides?: [number, number];
  pad?: 'same' | 'valid';
  /** Plain ReLU folded into a conv. */
  relu?: boolean;
  // relu (unfolded): upper bound (6 for MobileNet's ReLU6), none when undefined
  maxValue?: number;
  // bn (unfolded)
  bnScale?: tf.Tensor1D;
  bnShift?: tf.Tensor1D;
  // pools
  poolSize?: [number, number];
  // pad: [[top, bottom], [left, right]]
  padding?: [[number, number], [number, number]];
}

/**
 * A Keras functional model from nsfwjs, truncated at some of its layers. Create with {@link KerasGraph.load};
 * call {@link KerasGraph.dispose} when done. `label` names the model in errors.
 */
export class KerasGraph {
  private readonly ops: Op[];

  private constructor(
    ops: Op[],
    readonly outputs: readonly string[],
  ) {
    this.ops = ops;
  }

  /** Builds the graph from `source` up to the layers `outputs` (weights copied; the decoded ones are freed). */
  static load(source: KerasModelSource, outputs: readonly string[], label: string): KerasGraph {
    const json = source.modelJson as KerasModelJson;
    const layers = json?.modelTopology?.model_config?.config?.layers;
    if (!Array.isArray(layers) || !Array.isArray(json.weightsManifest)) {
      throw new OtsrError(`the nsfwjs ${label} model.json has an unexpected format`);
    }
    const specs = json.weightsManifest.flatMap((group) => group.weights);
    const weights = tf.io.decodeWeights(weightData(source.shards), specs);
    try {
      return new KerasGraph(buildOps(layers, weights, outputs, label), outputs);
    } finally {
      tf.dispose(Object.values(weights));
    }
  }

  /**
   * Runs the graph on `input`, freeing each activation as soon as its last consumer has run (bounded peak
   * memory). Differentiable with respect to `input`.
   * @returns the activations of {@link outputs}, in their order; the caller owns them; `input` is not disposed.
   */
  run(input: tf.Tensor4D): tf.Tensor4D[] {
    const uses = new Map<string, number>();
    for (const op of this.ops) for (const name of op.inputs) uses.set(name, (uses.get(name) ?? 0) + 1);
    for (const name of this.outputs) uses.set(name, (uses.get(name) ?? 0) + 1);
    const values = new Map<string, tf.Tensor4D>();
    const release = (name: string) => {
      const left = uses.get(name)! - 1;
      uses.set(name, left);
      if (left === 0) {
        const t = values.get(name)!;
        if (t !== input) t.dispose();
        values.delete(name);
      }
    };
    try {
      for (const op of this.ops) {
        const xs = op.inputs.map((name) => values.get(name)!);
        const y = op.kind === 'input' ? input : tf.tidy(() => runOp(op, xs));
        values.set(op.name, y);
        op.inputs.forEach(release);
      }
    } catch (err) {
      for (const t of values.values()) if (t !== input) t.dispose();
      throw err;
    }
    return this.outputs.map((name) => values.get(name)!);
  }

  /** Frees the weights. */
  dispose(): void {
    for (const op of this.ops) tf.dispose([op.filter, op.bias, op.bnScale, op.bnShift].filter((t) => t !== undefined));
    this.ops.length = 0;
  }
}

function runOp(op: Op, xs: tf.Tensor4D[]): tf.Tensor4D {
  const x = xs[0]!;
  switch (op.kind) {
    case 'conv':
      return tf.fused.conv2d({
        x,
        filter: op.filter!,
        strides: op.strides!,
        pad: op.pad!,
        bias: op.bias,
        activation: op.relu ? 'relu' : 'linear',
      });
    case 'depthwise':
      return tf.fused.depthwiseConv2d({
        x,
        filter: op.filter!,
        strides: op.strides!,
        pad: op.pad!,
        bias: op.bias,
        activation: op.relu ? 'relu' : 'linear',
      });
    case 'bn':
      return tf.add(tf.mul(x, op.bnScale!), op.bnShift!);
    case 'relu':
      return op.maxValue === 6 ? tf.relu6(x) : op.maxValue === undefined ? tf.relu(x) : tf.clipByValue(x, 0, op.maxValue);
    case 'maxPool':
      return tf.maxPool(x, op.poolSize!, op.strides!, op.pad!);
    case 'avgPool':
      return tf.avgPool(x, op.poolSize!, op.strides!, op.pad!);
    case 'concat':
      return tf.concat(xs, 3);
    case 'pad': {
      const [[t, b], [l, r]] = op.padding!;
      return tf.pad(x, [[0, 0], [t, b], [l, r], [0, 0]]);
    }
    case 'add':
      return xs.slice(1).reduce((s, v) => tf.add(s, v), x);
    case 'input':
      return x;
  }
}

/**
 * Translates the Keras layers needed for `outputs` into ops, folding BatchNormalization into the preceding
 * convolution and a plain ReLU into the convolution when each link has a single consumer (and is not itself an
 * output). Weights are copied; the caller disposes `weights`.
 */
function buildOps(layers: KerasLayer[], weights: tf.NamedTensorMap, outputs: readonly string[], label: string): Op[] {
  const fail = (what: string) => new OtsrError(`${label} model.json: ${what}`);
  const pair = (v: unknown, what: string): [number, number] => {
    if (Array.isArray(v) && v.length === 2 && v.every((n) => Number.isInteger(n))) return [v[0], v[1]];
    throw fail(`bad ${what}: ${JSON.stringify(v)}`);
  };
  const byName = new Map(layers.map((l) => [l.name, l]));
  for (const output of outputs) if (!byName.has(output)) throw new OtsrError(`${label} model.json has no layer ${output}`);
  const inputsOf = (l: KerasLayer) => (l.inbound_nodes[0] ?? []).map((n) => n[0]);

  // Keep only the ancestors of the outputs (a classifier head is dropped).
  const needed = new Set<string>();
  const stack = [...outputs];
  while (stack.length > 0) {
    const name = stack.pop()!;
    if (needed.has(name)) continue;
    needed.add(name);
    stack.push(...inputsOf(byName.get(name)!));
  }
  // An output counts as a consumer of itself, so nothing is folded into a layer whose value is wanted.
  const consumers = new Map<string, number>(outputs.map((o) => [o, 1]));
  for (const l of layers) if (needed.has(l.name)) for (const i of inputsOf(l)) consumers.set(i, (consumers.get(i) ?? 0) + 1);

  const weight = (name: string) => {
    const w = weights[name];
    if (!w) throw new OtsrError(`${label} weights lack ${name}`);
    return w;
  };
  const ops: Op[] = [];
  const opByName = new Map<string, Op>();
  // Layers folded into an earlier op are renamed to it.
  const alias = new Map<string, string>();
  const resolve = (name: string) => alias.get(name) ?? name;

  for (const layer of layers) {
    if (!needed.has(layer.name)) continue;
    const c = layer.config;
    const inputs = inputsOf(layer).map(resolve);
    const single = (src: string) => consumers.get(src) === 1;
    // The layer's own input (maybe folded into the conv already) and the conv must both feed only this layer.
    const raw = inputsOf(layer)[0];
    const foldable = (prev: Op | undefined): prev is Op =>
      (prev?.kind === 'conv' || prev?.kind === 'depthwise') && !prev.relu && single(prev.name) && raw !== undefined && single(raw);
    let op: Op;
    switch (layer.class_name) {
      case 'InputLayer':
        op = { name: layer.name, kind: 'input', inputs: [] };
        break;
      case 'Conv2D':
      case 'DepthwiseConv2D': {
        const depthwise = layer.class_name === 'DepthwiseConv2D';
        if (c.activation !== 'linear' || c.data_format !== 'channels_last') throw fail(`unsupported ${layer.class_name} config in ${layer.name}`);
        const dil = pair(c.dilation_rate, 'dilation_rate');
        if (dil[0] !== 1 || dil[1] !== 1) throw fail(`dilated conv ${layer.name}`);
        op = {
          name: layer.name,
          kind: depthwise ? 'depthwise' : 'conv',
          inputs,
          filter: tf.clone(weight(`${layer.name}/${depthwise ? 'depthwise_kernel' : 'kernel'}`)) as tf.Tensor4D,
          bias: c.use_bias ? (tf.clone(weight(`${layer.name}/bias`)) as tf.Tensor1D) : undefined,
          strides: pair(c.strides, 'strides'),
          pad: c.padding === 'same' ? 'same' : 'valid',
        };
        break;
      }
      case 'BatchNormalization': {
        if (c.axis !== 3 && c.axis !== -1) throw fail(`BN axis ${c.axis}`);
        const eps = Number(c.epsilon);
        const { scale, shift } = tf.tidy(() => {
          const mean = weight(`${layer.name}/moving_mean`);
          const variance = weight(`${layer.name}/moving_variance`);
          const gamma = c.scale ? weight(`${layer.name}/gamma`) : tf.onesLike(mean);
          const beta = c.center ? weight(`${layer.name}/beta`) : tf.zerosLike(mean);
          const scale = tf.div(gamma, tf.sqrt(tf.add(variance, eps))) as tf.Tensor1D;
          const shift = tf.sub(beta, tf.mul(mean, scale)) as tf.Tensor1D;
          return { scale, shift };
        });
        const prev = opByName.get(inputs[0]!);
        if (foldable(prev)) {
          // conv(x, W)·s + t = conv(x, W·s) + (b·s + t): scale the output channels of the filter (a depthwise
          // filter [h, w, C, m] has output channel c·m + k at [.., c, k]).
          const old = [prev.filter!, prev.bias];
          const [, , ci, co] = prev.filter!.shape;
          prev.filter = tf.tidy(() => tf.mul(prev.filter!, prev.kind === 'depthwise' ? tf.reshape(scale, [ci, co]) : scale)) as tf.Tensor4D;
          prev.bias = tf.tidy(() => (prev.bias ? tf.add(tf.mul(prev.bias, scale), shift) : tf.clone(shift))) as tf.Tensor1D;
          tf.dispose([...old.filter((t) => t !== undefined), scale, shift]);
          alias.set(layer.name, prev.name);
          continue;
        }
        op = { name: layer.name, kind: 'bn', inputs, bnScale: scale, bnShift: shift };
        break;
      }
      case 'Activation':
      case 'ReLU': {
        let maxValue: number | undefined;
        if (layer.class_name === 'Activation') {
          if (c.activation !== 'relu') throw fail(`activation ${c.activation}`);
        } else {
          if ((c.negative_slope ?? 0) !== 0 || (c.threshold ?? 0) !== 0) throw fail(`leaky or thresholded ReLU ${layer.name}`);
          maxValue = c.max_value === null || c.max_value === undefined ? undefined : Number(c.max_value);
        }
        const prev = opByName.get(inputs[0]!);
        if (maxValue === undefined && foldable(prev)) {
          prev.relu = true;
          alias.set(layer.name, prev.name);
          continue;
        }
        op = { name: layer.name, kind: 'relu', inputs, ...(maxValue !== undefined ? { maxValue } : {}) };
        break;
      }
      case 'MaxPooling2D':
      case 'AveragePooling2D':
        op = {
          name: layer.name,
          kind: layer.class_name === 'MaxPooling2D' ? 'maxPool' : 'avgPool',
          inputs,
          poolSize: pair(c.pool_size, 'pool_size'),
          strides: pair(c.strides, 'strides'),
          pad: c.padding === 'same' ? 'same' : 'valid',
        };
        break;
      case 'ZeroPadding2D': {
        const p = c.padding;
        if (!Array.isArray(p) || p.length !== 2) throw fail(`bad padding of ${layer.name}: ${JSON.stringify(p)}`);
        op = { name: layer.name, kind: 'pad', inputs, padding: [pair(p[0], 'padding'), pair(p[1], 'padding')] };
        break;
      }
      case 'Concatenate':
        if (c.axis !== 3 && c.axis !== -1) throw fail(`concat axis ${c.axis}`);
        op = { name: layer.name, kind: 'concat', inputs };
        break;
      case 'Add':
        op = { name: layer.name, kind: 'add', inputs };
        break;
      default:
        throw fail(`unsupported layer ${layer.class_name} (${layer.name})`);
    }
    ops.push(op);
    opByName.set(op.name, op);
  }
  // An output may have been folded into an op of another name (nothing is folded into an output, so no op
  // carries two).
  for (const output of outputs) {
    const last = resolve(output);
    if (last === output) continue;
    opByName.get(last)!.name = output;
    for (const op of ops) op.inputs = op.inputs.map((n) => (n === last ? output : n));
  }
  return ops;
}
