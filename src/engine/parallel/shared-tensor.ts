import * as tf from '@tensorflow/tfjs-core';

/**
 * A tensor of `values` (e.g. a view of shared memory that the next step overwrites) that does not depend on them
 * afterwards. The wasm backend copies values into its heap when a tensor is made, so a view goes in as it is; other
 * backends may keep the array itself, so they get a copy. Views instead of copies spare the worker ~5 MB of
 * ArrayBuffers a reference step, which V8 counts as external memory and answers with a full GC.
 */
export function tensorFrom(values: Float32Array, shape: number[]): tf.Tensor {
  return tf.tensor(tf.getBackend() === 'wasm' ? values : values.slice(), shape, 'float32');
}

/**
 * The values of float32 tensor `t`: on wasm a view of the backend's heap (no copy; it is valid only until the
 * backend next allocates, so read it at once), elsewhere `dataSync`.
 */
export function valuesOf(t: tf.Tensor): Float32Array {
  const backend = tf.backend() as tf.KernelBackend & { typedArrayFromHeap?: (info: tf.TensorInfo) => Float32Array };
  if (tf.getBackend() === 'wasm' && backend.typedArrayFromHeap) return backend.typedArrayFromHeap(t);
  return t.dataSync() as Float32Array;
}
