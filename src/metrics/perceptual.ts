import * as tf from '@tensorflow/tfjs-core';
import { OtsrError } from '../errors.js';
import { unitRgbTensor } from './features.js';
import { KerasGraph, type KerasModelSource, loadNsfwjsModelSource } from './keras-graph.js';
import type { RgbImage } from './quality.js';

/**
 * "Perceptual (otsr features)": an LPIPS-style distance between images in the feature space of the Keras
 * MobileNetV2 that ships inside the npm package nsfwjs@4.4.0 (`dist/models/mobilenet_v2`, 8-bit quantized
 * weights).
 *
 * Definition (Zhang et al. 2018's LPIPS recipe without its learned weights): the activations of
 * {@link PERCEPTUAL_LAYERS} for both images, each pixel's channel vector scaled to unit length
 * (x / sqrt(|x|^2 + 1e-10)), squared differences summed over channels, averaged over space, then averaged over
 * the layers with **equal weights**. LPIPS weights each channel by a linear layer calibrated on human judgements
 * (BAPPS); no such calibration exists offline for these features, so none is used. The numbers are therefore
 * **not comparable with published LPIPS** values (other network, other weights, no calibration): call them
 * "perceptual (otsr features)" and compare them only with each other.
 *
 * Why these layers: nsfwjs fine-tuned MobileNetV2 for its five content classes, but its saved config marks every
 * layer up to `block_10` as frozen (`trainable: false`), so those keep the ImageNet weights Keras ships; later
 * blocks were retrained and are not used. The taps are the expansion ReLU6 outputs at strides 2, 4, 8, 16 and 16
 * (32, 96, 144, 192, 384 channels). Inputs are fed as Keras' MobileNetV2 expects them, RGB in [-1, 1].
 *
 * 0 for identical images, symmetric, >= 0; differentiable with respect to both images (a training loss can use
 * {@link perceptualDistance} inside `tf.variableGrads`; the network's weights are constants, never variables).
 */

/** The MobileNetV2 layers compared (all ImageNet-frozen in nsfwjs' model), shallow to deep. */
export const PERCEPTUAL_LAYERS: readonly string[] = [
  'Conv1_relu',
  'block_1_expand_relu',
  'block_3_expand_relu',
  'block_6_expand_relu',
  'block_10_expand_relu',
];
/** What to call the distance in tables, reports and logs. */
export const PERCEPTUAL_LABEL = 'perceptual (otsr features)';
/** Smallest image side accepted: the deepest tap is at stride 16, so 32 leaves it 2 x 2 positions. */
export const PERCEPTUAL_MIN_SIZE = 32;
/** Added to |x|^2 before the square root of the unit scaling, so that all-zero vectors have finite gradients. */
const NORM_EPS = 1e-10;

/** Imports the MobileNetV2 definition from the installed nsfwjs package (no network). */
export function loadNsfwjsMobileNetSource(): Promise<KerasModelSource> {
  return loadNsfwjsModelSource('mobilenet_v2', 'MobileNetV2');
}

/**
 * MobileNetV2 cut after its last tap. Create with {@link PerceptualNet.load} (once: it decodes 3.5 MB of weights);
 * call {@link PerceptualNet.dispose} when done.
 */
export class PerceptualNet {
  private constructor(
    private readonly graph: KerasGraph,
    readonly layers: readonly string[],
  ) {}

  /** Loads the network from nsfwjs (or from a given source, e.g. in tests), tapping `layers`. */
  static async load(source?: KerasModelSource, layers: readonly string[] = PERCEPTUAL_LAYERS): Promise<PerceptualNet> {
    if (layers.length === 0) throw new OtsrError('PerceptualNet needs at least one layer to compare');
    return new PerceptualNet(KerasGraph.load(source ?? (await loadNsfwjsMobileNetSource()), layers, 'MobileNetV2'), layers);
  }

  /**
   * The unit-length channel vectors at each tap, in the order of {@link layers}.
   * @param x `[b, h, w, 3]`, RGB in [0, 1], h, w >= {@link PERCEPTUAL_MIN_SIZE}. Not disposed.
   * @returns `[b, h_l, w_l, c_l]` per layer; the caller owns them.
   */
  features(x: tf.Tensor4D): tf.Tensor4D[] {
    checkInput(x.shape, 'PerceptualNet.features');
    return tf.tidy(() => {
      const maps = this.graph.run(tf.sub(tf.mul(x, 2), 1));
      return maps.map((f) => tf.mul(f, tf.rsqrt(tf.add(tf.sum(tf.square(f), -1, true), NORM_EPS))) as tf.Tensor4D);
    });
  }

  /**
   * The mean over the batch of {@link perceptualDistance}: tensors `[b, h, w, 3]` in [0, 1], or two 8-bit images
   * of one size (grey replicated, alpha ignored).
   */
  async distance(a: tf.Tensor4D | RgbImage, b: tf.Tensor4D | RgbImage): Promise<number> {
    const ta = a instanceof tf.Tensor ? a : unitRgbTensor(a);
    const tb = b instanceof tf.Tensor ? b : unitRgbTensor(b);
    try {
      const d = tf.tidy(() => tf.mean(perceptualDistance(this, ta, tb)));
      try {
        return (await d.data())[0]!;
      } finally {
        d.dispose();
      }
    } finally {
      if (ta !== a) ta.dispose();
      if (tb !== b) tb.dispose();
    }
  }

  /** Frees the weights. */
  dispose(): void {
    this.graph.dispose();
  }
}

function checkInput(shape: readonly number[], what: string): void {
  const [, h, w, c] = shape;
  if (shape.length !== 4 || c !== 3 || h! < PERCEPTUAL_MIN_SIZE || w! < PERCEPTUAL_MIN_SIZE) {
    throw new OtsrError(`${what} needs images [b, h, w, 3] with h, w >= ${PERCEPTUAL_MIN_SIZE}; got [${shape}]`);
  }
}

/**
 * The perceptual (otsr features) distance of each pair `a[i]`, `b[i]` (see the module notes), as a tensor:
 * differentiable, for losses (`tf.grad`, `tf.variableGrads`; on wasm it needs otsr's depthwise-conv gradients,
 * which `initBackend` registers).
 * @param a `[b, h, w, 3]` in [0, 1]; `b` the same shape. Neither is disposed.
 * @returns `[b]`; the caller owns it.
 */
export function perceptualDistance(net: PerceptualNet, a: tf.Tensor4D, b: tf.Tensor4D): tf.Tensor1D {
  if (a.shape.join() !== b.shape.join()) {
    throw new OtsrError(`${PERCEPTUAL_LABEL}: the images differ in shape ([${a.shape}] vs [${b.shape}])`);
  }
  checkInput(a.shape, PERCEPTUAL_LABEL);
  return tf.tidy(() => {
    const fa = net.features(a);
    const fb = net.features(b);
    const perLayer = fa.map((f, l) => tf.mean(tf.sum(tf.squaredDifference(f, fb[l]!), -1), [1, 2]));
    return tf.div(perLayer.length === 1 ? perLayer[0]! : tf.addN(perLayer), perLayer.length) as tf.Tensor1D;
  });
}
