import * as tf from '@tensorflow/tfjs-core';

/** Plain data of a tensor, to move it between backends. */
export interface HostTensor {
  values: Float32Array;
  shape: number[];
}

/** Runs one kernel on `backend` with host inputs and returns its output as host data (no leaks). */
export function runOn(backend: string, kernel: string, inputs: Record<string, HostTensor>, attrs: object): HostTensor {
  if (!tf.setBackend(backend)) throw new Error(`backend ${backend} not available`);
  return tf.tidy(() => {
    const named: Record<string, tf.Tensor> = {};
    for (const [k, v] of Object.entries(inputs)) named[k] = tf.tensor(v.values, v.shape, 'float32');
    const y = tf.engine().runKernel(kernel, named as tf.NamedTensorMap, attrs as tf.NamedAttrMap) as tf.Tensor;
    return { values: y.dataSync() as Float32Array, shape: y.shape };
  });
}

/** max |a - b| / max |b|: the error measure of the engine's acceptance tests. */
export function relError(actual: HostTensor, expected: HostTensor): number {
  if (actual.shape.join() !== expected.shape.join()) {
    throw new Error(`shape [${actual.shape}] differs from the reference [${expected.shape}]`);
  }
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < expected.values.length; i++) {
    diff = Math.max(diff, Math.abs(actual.values[i]! - expected.values[i]!));
    scale = Math.max(scale, Math.abs(expected.values[i]!));
  }
  return scale === 0 ? diff : diff / scale;
}

/** [fh, fw, ci, co] -> the same filter with (d-1) zero taps between taps (a dilated conv is a conv with it). */
export function dilateFilter(w: HostTensor, [dh, dw]: [number, number]): HostTensor {
  const [fh, fw, ci, co] = w.shape as [number, number, number, number];
  const [eh, ew] = [(fh - 1) * dh + 1, (fw - 1) * dw + 1];
  const values = new Float32Array(eh * ew * ci * co);
  const k = ci * co;
  for (let a = 0; a < fh; a++) {
    for (let b = 0; b < fw; b++) values.set(w.values.subarray((a * fw + b) * k, (a * fw + b + 1) * k), (a * dh * ew + b * dw) * k);
  }
  return { values, shape: [eh, ew, ci, co] };
}

/** Inverse of {@link dilateFilter}: the taps of a zero-stuffed filter. */
export function undilateFilter(wide: HostTensor, shape: number[], [dh, dw]: [number, number]): HostTensor {
  const [fh, fw, ci, co] = shape as [number, number, number, number];
  const ew = wide.shape[1]!;
  const k = ci * co;
  const values = new Float32Array(fh * fw * k);
  for (let a = 0; a < fh; a++) {
    for (let b = 0; b < fw; b++) values.set(wide.values.subarray((a * dh * ew + b * dw) * k, (a * dh * ew + b * dw + 1) * k), (a * fw + b) * k);
  }
  return { values, shape: [...shape] };
}
