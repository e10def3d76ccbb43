import type * as tf from '@tensorflow/tfjs-core';

/**
 * A source of batches from one distribution (P: LR images or source vectors; Q: HR images or targets).
 * The solvers only see this interface, so vectors, synthetic images and folders of photos are alike.
 */
export interface Sampler {
  /** Draws `batch` samples: a float32 tensor [batch, ...shape] that the caller disposes. */
  sample(batch: number): Promise<tf.Tensor>;
  /** Shape of one sample (e.g. [d] or [h, w, 3]). */
  readonly shape: readonly number[];
  /** Serializable state (RNG position, etc.) so that a resumed run draws the same batches. */
  getState(): unknown;
  setState(state: unknown): void;
}
