/**
 * TF.js *layers* super-resolution models (Keras exports, e.g. the ESRGAN/RDN models shipped in UpscalerJS's npm
 * packages) as otsr {@link UpscaleModel}s. Browser-safe: the caller supplies an IOHandler that reads the files.
 *
 * UpscalerJS's ESRGAN packages hold two families (see their model definitions):
 * - `rdn` (esrgan-slim, esrgan-medium, default-model): standard Keras layers only; pixels in [0, 255];
 * - `rrdn` (esrgan-thick, esrgan-legacy's GANs): two custom layers, `MultiplyBeta` (scales a residual branch by
 *   beta = 0.2) and `PixelShuffle{N}x` (depth-to-space by N, channels last); pixels in [0, 1].
 * Since a model.json does not record its pixel range, otsr infers it the same way: a model using either custom
 * layer takes [0, 1], any other [0, 255]. Pass the range explicitly to override.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { OtsrError } from '../errors.js';
import type { UpscaleModel } from './tiles.js';

type LayerArgs = NonNullable<ConstructorParameters<typeof tfl.layers.Layer>[0]>;
type Kwargs = Parameters<tfl.layers.Layer['call']>[1];

function single(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
  return Array.isArray(inputs) ? inputs[0]! : inputs;
}

/** y = beta x (Keras config `beta`, default 0.2): the residual scaling of RRDN blocks. */
export class MultiplyBeta extends tfl.layers.Layer {
  static readonly className = 'MultiplyBeta';
  readonly beta: number;

  constructor(args: LayerArgs & { beta?: number } = {}) {
    super(args);
    this.beta = args.beta ?? 0.2;
  }

  override call(inputs: tf.Tensor | tf.Tensor[], _kwargs?: Kwargs): tf.Tensor {
    return tf.mul(single(inputs), this.beta);
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), beta: this.beta };
  }
}

/** Pixel shuffle (depth-to-space, NHWC) by a fixed factor, under the Keras class name `PixelShuffle{N}x`. */
function pixelShuffleClass(factor: number) {
  return class PixelShuffle extends tfl.layers.Layer {
    static readonly className = `PixelShuffle${factor}x`;
    readonly factor = factor;

    override computeOutputShape(shape: tfl.Shape | tfl.Shape[]): tfl.Shape {
      const [b, h, w, c] = (Array.isArray(shape[0]) ? shape[0] : shape) as tfl.Shape;
      const times = (v: number | null | undefined) => (v == null ? null : v * factor);
      return [b ?? null, times(h), times(w), c == null ? null : c / (factor * factor)];
    }

    override call(inputs: tf.Tensor | tf.Tensor[], _kwargs?: Kwargs): tf.Tensor {
      return tf.depthToSpace(single(inputs) as tf.Tensor4D, factor, 'NHWC');
    }
  };
}

/** Factors for which a `PixelShuffle{N}x` class is registered (UpscalerJS ships x2, x3, x4 and x8). */
const SHUFFLE_FACTORS = [2, 3, 4, 8];
/** Keras class names that mark an UpscalerJS `rrdn` model (pixels in [0, 1]). */
export const CUSTOM_LAYER_CLASSES: readonly string[] = ['MultiplyBeta', ...SHUFFLE_FACTORS.map((f) => `PixelShuffle${f}x`)];

let registered = false;

/** Registers {@link MultiplyBeta} and the `PixelShuffle{N}x` layers with TF.js's deserializer. Idempotent. */
export function registerUpscalerLayers(): void {
  if (registered) return;
  tf.serialization.registerClass(MultiplyBeta);
  for (const f of SHUFFLE_FACTORS) tf.serialization.registerClass(pixelShuffleClass(f));
  registered = true;
}

/** Keras class names of the layers in a model.json's `modelTopology` (Functional or Sequential). */
export function layerClassNames(modelTopology: unknown): string[] {
  const topo = modelTopology as { model_config?: unknown; config?: unknown } | null;
  const config = (topo?.model_config ?? topo) as { config?: { layers?: unknown } | unknown[] } | null;
  const layers = Array.isArray(config?.config) ? config.config : (config?.config as { layers?: unknown })?.layers;
  if (!Array.isArray(layers)) return [];
  return layers.map((l) => String((l as { class_name?: unknown }).class_name));
}

/** The pixel range a layers model expects (UpscalerJS's rule, see the module doc): 1 or 255. */
export function inferPixelRange(modelTopology: unknown): 1 | 255 {
  return layerClassNames(modelTopology).some((c) => CUSTOM_LAYER_CLASSES.includes(c)) ? 1 : 255;
}

/** A loaded layers super-resolution model with what otsr needs to run it. */
export interface LayersUpscaleModel {
  model: tfl.LayersModel;
  /** Pixel values the model takes and returns span [0, range]. */
  range: number;
  /** Found by running the model once on an 8x8 input. */
  scale: number;
  /** The model as an otsr UpscaleModel: [-1, 1] in and out. */
  upscale: UpscaleModel;
}

/**
 * Loads a TF.js layers model through `handler` and wraps it into otsr's [-1, 1] {@link UpscaleModel} contract:
 * x in [-1, 1] -> (x + 1) range / 2 -> model -> y / (range / 2) - 1 (not clipped; 8-bit conversion clips).
 * The scale is measured on an 8x8 input; the model must map [b, h, w, 3] to [b, s h, s w, 3].
 * @param where names the model in errors.
 */
export async function loadLayersUpscaleModel(
  handler: tf.io.IOHandler,
  where: string,
  options: { range?: number } = {},
): Promise<LayersUpscaleModel> {
  registerUpscalerLayers();
  let range = options.range;
  // Read the topology once through the handler to infer the range, then hand the same artifacts to tfjs-layers.
  const artifacts = await handler.load!();
  range ??= inferPixelRange(artifacts.modelTopology);
  let model: tfl.LayersModel;
  try {
    model = await tfl.loadLayersModel(tf.io.fromMemory(artifacts));
  } catch (err) {
    throw new OtsrError(`${where}: not a TF.js layers model otsr can run (${(err as Error).message})`, { cause: err });
  }
  const probe = 8;
  let outShape: number[];
  try {
    outShape = tf.tidy(() => (model.predict(tf.zeros([1, probe, probe, 3])) as tf.Tensor).shape);
  } catch (err) {
    model.dispose();
    throw new OtsrError(`${where}: the model does not take [batch, height, width, 3] images (${(err as Error).message})`, { cause: err });
  }
  const scale = (outShape[1] ?? 0) / probe;
  if (outShape.length !== 4 || !Number.isInteger(scale) || scale < 1 || outShape[2] !== scale * probe || outShape[3] !== 3) {
    model.dispose();
    throw new OtsrError(`${where}: not a super-resolution model (an 8x8x3 input gave [${outShape.slice(1).join(', ')}])`);
  }
  const half = range / 2;
  const upscale: UpscaleModel = (x) =>
    tf.tidy(() => {
      const y = model.predict(tf.mul(tf.add(x, 1), half)) as tf.Tensor4D;
      return tf.sub(tf.div(y, half), 1);
    });
  return { model, range, scale, upscale };
}
