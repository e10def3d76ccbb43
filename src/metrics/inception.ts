import * as tf from '@tensorflow/tfjs-core';
import { OtsrError } from '../errors.js';

/**
 * InceptionV3 features for FID/KID, from the Keras InceptionV3 that ships inside the npm package
 * nsfwjs@4.4.0 (`dist/models/inception_v3`: a Keras 2.2.4 model.json plus six base64 weight shards, with
 * uint8-quantized weights).
 *
 * That network is ImageNet InceptionV3 fine-tuned by nsfwjs to classify five classes of content, and its weights
 * are quantized to 8 bits: its features are **not** those of the TF-slim Inception used by published FIDs. Scores
 * computed with it are "FID (otsr features)" and must never be compared with published FID numbers.
 *
 * The graph is run by a small interpreter over tfjs-core ops (no tfjs-layers): the model uses only seven layer
 * kinds, and each Conv2D → BatchNormalization → ReLU chain is folded into one fused convolution with bias and
 * ReLU, which is both faster and lighter than running the layers one by one. Loading needs no network: the
 * weights are imported from the installed package.
 */

/** The Keras layer whose output, averaged over space, is the 2048-d feature vector. */
export const FEATURE_LAYER = 'mixed10';
/** Feature dimension of mixed10. */
export const FEATURE_DIM = 2048;
/** Input side InceptionV3 was trained at. */
export const INCEPTION_SIZE = 299;
/** Smallest input side the network accepts (the spatial size must survive five valid stride-2 reductions). */
export const INCEPTION_MIN_SIZE = 75;

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

/** One step of the interpreted graph. */
interface Op {
  name: string;
  kind: 'input' | 'conv' | 'bn' | 'relu' | 'maxPool' | 'avgPool' | 'concat';
  inputs: string[];
  // conv
  filter?: tf.Tensor4D;
  bias?: tf.Tensor1D;
  strides?: [number, number];
  pad?: 'same' | 'valid';
  relu?: boolean;
  // bn (unfolded)
  bnScale?: tf.Tensor1D;
  bnShift?: tf.Tensor1D;
  // pools
  poolSize?: [number, number];
}

/** The raw model definition as stored in nsfwjs: a topology and the base64 weight shards, in order. */
export interface InceptionSource {
  modelJson: unknown;
  shards: string[];
}

/** Imports the model definition from the installed nsfwjs package (no network). */
export async function loadNsfwjsInceptionSource(): Promise<InceptionSource> {
  let def: { modelJson: () => Promise<{ default: unknown }>; weightBundles: (() => Promise<{ default: string }>)[] };
  try {
    // Dynamic: 29 MB of JavaScript that only FID/KID need.
    ({ InceptionV3Model: def } = (await import('nsfwjs/models/inception_v3')) as unknown as {
      InceptionV3Model: typeof def;
    });
  } catch (err) {
    throw new OtsrError(
      'cannot load the InceptionV3 weights from the npm package nsfwjs@4.4.0; is it installed (npm ci)?',
      { cause: err },
    );
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

/**
 * InceptionV3 truncated at {@link FEATURE_LAYER}: maps RGB images to 2048-d feature vectors.
 * Create with {@link InceptionFeatureNet.load}; call {@link InceptionFeatureNet.dispose} when done.
 */
export class InceptionFeatureNet {
  private readonly ops: Op[];
  private readonly output: string;

  private constructor(ops: Op[], output: string) {
    this.ops = ops;
    this.output = output;
  }

  /** Loads the network from nsfwjs (or from a given source, e.g. in tests), up to `layer` (mixed10). */
  static async load(source?: InceptionSource, layer = FEATURE_LAYER): Promise<InceptionFeatureNet> {
    const { modelJson, shards } = source ?? (await loadNsfwjsInceptionSource());
    const json = modelJson as KerasModelJson;
    const layers = json?.modelTopology?.model_config?.config?.layers;
    if (!Array.isArray(layers) || !Array.isArray(json.weightsManifest)) {
      throw new OtsrError('the nsfwjs InceptionV3 model.json has an unexpected format');
    }
    const specs = json.weightsManifest.flatMap((group) => group.weights);
    const weights = tf.io.decodeWeights(weightData(shards), specs);
    try {
      return new InceptionFeatureNet(buildOps(layers, weights, layer), layer);
    } finally {
      tf.dispose(Object.values(weights));
    }
  }

  /**
   * Spatially averaged {@link FEATURE_LAYER} activations of a batch of images.
   * @param batch `[b, h, w, 3]`, RGB in [0, 1] (nsfwjs' own preprocessing: pixel / 255), h, w >= 75.
   * @returns `[b, 2048]`. The caller owns it; `batch` is not disposed.
   */
  embed(batch: tf.Tensor4D): tf.Tensor2D {
    const [, h, w, c] = batch.shape;
    if (c !== 3 || h < INCEPTION_MIN_SIZE || w < INCEPTION_MIN_SIZE) {
      throw new OtsrError(`InceptionV3 needs [b, h, w, 3] with h, w >= ${INCEPTION_MIN_SIZE}; got [${batch.shape}]`);
    }
    const map = this.run(batch);
    const out = tf.mean(map, [1, 2]) as tf.Tensor2D;
    map.dispose();
    return out;
  }

  /** Runs the graph, freeing each activation as soon as its last consumer has run (bounded peak memory). */
  private run(input: tf.Tensor4D): tf.Tensor4D {
    const uses = new Map<string, number>();
    for (const op of this.ops) for (const name of op.inputs) uses.set(name, (uses.get(name) ?? 0) + 1);
    uses.set(this.output, (uses.get(this.output) ?? 0) + 1);
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
    for (const op of this.ops) {
      const xs = op.inputs.map((name) => values.get(name)!);
      const y = op.kind === 'input' ? input : tf.tidy(() => runOp(op, xs));
      values.set(op.name, y);
      op.inputs.forEach(release);
    }
    return values.get(this.output)!;
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
    case 'bn':
      return tf.add(tf.mul(x, op.bnScale!), op.bnShift!);
    case 'relu':
      return tf.relu(x);
    case 'maxPool':
      return tf.maxPool(x, op.poolSize!, op.strides!, op.pad!);
    case 'avgPool':
      return tf.avgPool(x, op.poolSize!, op.strides!, op.pad!);
    case 'concat':
      return tf.concat(xs, 3);
    case 'input':
      return x;
  }
}

function pair(v: unknown, what: string): [number, number] {
  if (Array.isArray(v) && v.length === 2 && v.every((n) => Number.isInteger(n))) return [v[0], v[1]];
  throw new OtsrError(`InceptionV3 model.json: bad ${what}: ${JSON.stringify(v)}`);
}

/**
 * Translates the Keras layers needed for `output` into ops, folding BatchNormalization into the preceding
 * convolution and ReLU into the convolution when each link has a single consumer. Weights are copied; the caller
 * disposes `weights`.
 */
function buildOps(layers: KerasLayer[], weights: tf.NamedTensorMap, output: string): Op[] {
  const byName = new Map(layers.map((l) => [l.name, l]));
  if (!byName.has(output)) throw new OtsrError(`InceptionV3 model.json has no layer ${output}`);
  const inputsOf = (l: KerasLayer) => (l.inbound_nodes[0] ?? []).map((n) => n[0]);

  // Keep only the ancestors of the output layer (the classifier head is dropped).
  const needed = new Set<string>();
  const stack = [output];
  while (stack.length > 0) {
    const name = stack.pop()!;
    if (needed.has(name)) continue;
    needed.add(name);
    stack.push(...inputsOf(byName.get(name)!));
  }
  const consumers = new Map<string, number>();
  for (const l of layers) if (needed.has(l.name)) for (const i of inputsOf(l)) consumers.set(i, (consumers.get(i) ?? 0) + 1);

  const weight = (name: string) => {
    const w = weights[name];
    if (!w) throw new OtsrError(`InceptionV3 weights lack ${name}`);
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
    let op: Op;
    switch (layer.class_name) {
      case 'InputLayer':
        op = { name: layer.name, kind: 'input', inputs: [] };
        break;
      case 'Conv2D': {
        if (c.activation !== 'linear' || c.data_format !== 'channels_last') {
          throw new OtsrError(`InceptionV3 model.json: unsupported Conv2D config in ${layer.name}`);
        }
        const dil = pair(c.dilation_rate, 'dilation_rate');
        if (dil[0] !== 1 || dil[1] !== 1) throw new OtsrError(`InceptionV3 model.json: dilated conv ${layer.name}`);
        op = {
          name: layer.name,
          kind: 'conv',
          inputs,
          filter: tf.clone(weight(`${layer.name}/kernel`)) as tf.Tensor4D,
          bias: c.use_bias ? (tf.clone(weight(`${layer.name}/bias`)) as tf.Tensor1D) : undefined,
          strides: pair(c.strides, 'strides'),
          pad: c.padding === 'same' ? 'same' : 'valid',
        };
        break;
      }
      case 'BatchNormalization': {
        if (c.axis !== 3 && c.axis !== -1) throw new OtsrError(`InceptionV3 model.json: BN axis ${c.axis}`);
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
        if (prev?.kind === 'conv' && !prev.relu && single(inputs[0]!)) {
          // conv(x, W)·s + t = conv(x, W·s) + (b·s + t): scale the output channels of the filter.
          const old = [prev.filter!, prev.bias];
          prev.filter = tf.tidy(() => tf.mul(prev.filter!, scale)) as tf.Tensor4D;
          prev.bias = tf.tidy(() => (prev.bias ? tf.add(tf.mul(prev.bias, scale), shift) : tf.clone(shift))) as tf.Tensor1D;
          tf.dispose([...old.filter((t) => t !== undefined), scale, shift]);
          alias.set(layer.name, prev.name);
          continue;
        }
        op = { name: layer.name, kind: 'bn', inputs, bnScale: scale, bnShift: shift };
        break;
      }
      case 'Activation': {
        if (c.activation !== 'relu') throw new OtsrError(`InceptionV3 model.json: activation ${c.activation}`);
        const prev = opByName.get(inputs[0]!);
        if (prev?.kind === 'conv' && !prev.relu && single(inputs[0]!)) {
          prev.relu = true;
          alias.set(layer.name, prev.name);
          continue;
        }
        op = { name: layer.name, kind: 'relu', inputs };
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
      case 'Concatenate':
        if (c.axis !== 3 && c.axis !== -1) throw new OtsrError(`InceptionV3 model.json: concat axis ${c.axis}`);
        op = { name: layer.name, kind: 'concat', inputs };
        break;
      default:
        throw new OtsrError(`InceptionV3 model.json: unsupported layer ${layer.class_name} (${layer.name})`);
    }
    ops.push(op);
    opByName.set(op.name, op);
  }
  // The output may have been folded into an op of another name.
  const last = resolve(output);
  if (last !== output) opByName.get(last)!.name = output;
  for (const op of ops) op.inputs = op.inputs.map((n) => (n === last ? output : n));
  return ops;
}
