import * as tf from '@tensorflow/tfjs-core';
import type { Module } from '../nn/module.js';
import { assignChecked } from './adam.js';

/**
 * An exponential moving average (EMA) of the map's weights over the solver's outer steps:
 *
 *     A_1 = W_1,   A_t = d·A_{t−1} + (1 − d)·W_t
 *
 * where W_t are the map's weights after solver step t (pretraining steps are not averaged: their cosine schedule
 * already anneals them) and d the decay, so A averages over the last ~1/(1 − d) steps. The saddle-point updates
 * make the map oscillate around where the cost and the potential balance (bench/RESULTS.md, "The OT stage's
 * kicks"); the average keeps the centre and drops the kicks, as GANs' generators are averaged for evaluation
 * (Karras et al. 2018; Yazıcı et al. 2019). Training always continues from W; the average is what is validated,
 * sampled and exported.
 *
 * The update is the same few tfjs ops wherever it runs (in-process solvers, worker threads), so on one backend
 * every worker's average is bit-identical to the in-process one.
 */
export class MapAverage {
  readonly decay: number;
  private average: Map<string, tf.Variable> | undefined;

  /** @param decay d in (0, 1): the weight of the past per outer step. */
  constructor(decay: number) {
    if (!(decay > 0 && decay < 1)) throw new Error(`the map average's decay must be in (0, 1), got ${decay}`);
    this.decay = decay;
  }

  /** Whether a solver step has been averaged yet. */
  get started(): boolean {
    return this.average !== undefined;
  }

  /** Blends the map's current weights in (the first call copies them). */
  update(map: Module): void {
    if (!this.average) {
      this.average = new Map([...map.params].map(([name, v]) => [name, copyVariable(v)]));
      return;
    }
    const d = this.decay;
    for (const [name, v] of map.params) {
      const a = this.average.get(name);
      if (!a) throw new Error(`the map average lacks parameter ${name}`);
      tf.tidy(() => a.assign(tf.add(tf.mul(a, d), tf.mul(v, 1 - d))));
    }
  }

  /** Copies the average into `target` (a map of the same architecture); false, leaving it as it is, before the first update. */
  copyInto(target: Module): boolean {
    if (!this.average) return false;
    for (const [name, v] of target.params) {
      const a = this.average.get(name);
      if (!a) throw new Error(`the map average lacks parameter ${name}`);
      assignChecked(v, a, `map average ${name}`);
    }
    return true;
  }

  /** The average's weights by parameter name (new tensors, the caller's), or undefined before the first update. */
  getState(): Record<string, tf.Tensor> | undefined {
    if (!this.average) return undefined;
    return Object.fromEntries([...this.average].map(([name, a]) => [name, tf.clone(a)]));
  }

  /** Restores {@link getState}'s record (copied; undefined: not started). */
  setState(weights: Record<string, tf.Tensor> | undefined): void {
    this.dispose();
    if (weights === undefined) return;
    this.average = new Map(Object.entries(weights).map(([name, t]) => [name, copyVariable(t)]));
  }

  dispose(): void {
    for (const a of this.average?.values() ?? []) a.dispose();
    this.average = undefined;
  }
}

/** A new (untrainable) variable holding a copy of `t`; the copy's own tensor is freed (the variable keeps its data). */
function copyVariable(t: tf.Tensor): tf.Variable {
  const copy = tf.clone(t);
  const v = tf.variable(copy, false, undefined, 'float32');
  copy.dispose();
  return v;
}

/** The average of a run whose decay is `decay` (0: none). */
export function mapAverageOf(decay: number): MapAverage | undefined {
  return decay > 0 ? new MapAverage(decay) : undefined;
}
