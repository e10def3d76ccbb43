import * as tf from '@tensorflow/tfjs-core';
import { valuesOf } from './shared-tensor.js';

/**
 * Writes gradient `g` times `weight` (its shard's share of the batch) into `slot` from `offset`, with the bits of
 * `slot[offset + i] = d[i] * weight` (float64 product, rounded to float32 on the store).
 *
 * Where `weight` is itself a float32 (equal shards: 1/2, 1/4, 1/8; or 1 for one worker), the backend's float32
 * multiply gives those same bits (the product of two float32s is exact in float64, so both round it once), and
 * the copy is a typed-array `set`: no JS loop over the ~10⁶ values. Such a loop runs unoptimised for the first
 * steps when every core computes, because V8 optimises it on a background thread that then gets no core
 * (measured: 17-92 ms a step for the first four steps of 2 workers, 4.5 ms later). Other weights (uneven
 * shards) keep the float64 loop.
 */
export function writeScaled(slot: Float32Array, offset: number, g: tf.Tensor, weight: number): void {
  if (Math.fround(weight) === weight) {
    const scaled = weight === 1 ? g : tf.tidy(() => tf.mul(g, tf.scalar(weight, 'float32')));
    try {
      slot.set(valuesOf(scaled), offset);
    } finally {
      if (scaled !== g) scaled.dispose();
    }
    return;
  }
  const d = valuesOf(g);
  for (let i = 0; i < d.length; i++) slot[offset + i] = d[i]! * weight;
}

/** Adds gradient `g` times `weight` to `slot` from `offset` (a later micro-batch of the same shard), rounding once. */
export function addScaled(slot: Float32Array, offset: number, g: tf.Tensor, weight: number): void {
  const d = valuesOf(g);
  for (let i = 0; i < d.length; i++) slot[offset + i] += d[i]! * weight;
}
