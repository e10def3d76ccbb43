import * as tf from '@tensorflow/tfjs-core';
import { OtsrError } from '../errors.js';
import { KerasGraph, type KerasModelSource, loadNsfwjsModelSource } from './keras-graph.js';

export { weightData } from './keras-graph.js';

/**
 * InceptionV3 features for FID/KID, from the Keras InceptionV3 that ships inside the npm package
 * nsfwjs@4.4.0 (`dist/models/inception_v3`: a Keras 2.2.4 model.json plus six base64 weight shards, with
 * uint8-quantized weights).
 *
 * That network is ImageNet InceptionV3 fine-tuned by nsfwjs to classify five classes of content, and its weights
 * are quantized to 8 bits: its features are **not** those of the TF-slim Inception used by published FIDs. Scores
 * computed with it are "FID (otsr features)" and must never be compared with published FID numbers.
 *
 * The graph is run by otsr's interpreter of nsfwjs' Keras models (keras-graph.ts: each Conv2D →
 * BatchNormalization → ReLU chain folded into one fused convolution). Loading needs no network: the weights are
 * imported from the installed package.
 */

/** The Keras layer whose output, averaged over space, is the 2048-d feature vector. */
export const FEATURE_LAYER = 'mixed10';
/** Feature dimension of mixed10. */
export const FEATURE_DIM = 2048;
/** Input side InceptionV3 was trained at. */
export const INCEPTION_SIZE = 299;
/** Smallest input side the network accepts (the spatial size must survive five valid stride-2 reductions). */
export const INCEPTION_MIN_SIZE = 75;

/** The raw model definition as stored in nsfwjs (see {@link KerasModelSource}). */
export type InceptionSource = KerasModelSource;

/** Imports the InceptionV3 definition from the installed nsfwjs package (no network). */
export function loadNsfwjsInceptionSource(): Promise<InceptionSource> {
  return loadNsfwjsModelSource('inception_v3', 'InceptionV3');
}

/**
 * InceptionV3 truncated at {@link FEATURE_LAYER}: maps RGB images to 2048-d feature vectors.
 * Create with {@link InceptionFeatureNet.load}; call {@link InceptionFeatureNet.dispose} when done.
 */
export class InceptionFeatureNet {
  private constructor(private readonly graph: KerasGraph) {}

  /** Loads the network from nsfwjs (or from a given source, e.g. in tests), up to `layer` (mixed10). */
  static async load(source?: InceptionSource, layer = FEATURE_LAYER): Promise<InceptionFeatureNet> {
    return new InceptionFeatureNet(KerasGraph.load(source ?? (await loadNsfwjsInceptionSource()), [layer], 'InceptionV3'));
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
    const [map] = this.graph.run(batch);
    const out = tf.mean(map!, [1, 2]) as tf.Tensor2D;
    map!.dispose();
    return out;
  }

  /** Frees the weights. */
  dispose(): void {
    this.graph.dispose();
  }
}
