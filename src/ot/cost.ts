import * as tf from '@tensorflow/tfjs-core';
import type { Module } from '../nn/module.js';
import { assignChecked } from './adam.js';

/** What a cost keeps across steps (for checkpoints): a frozen reference map's weights, for instance. */
export interface CostState {
  /** Outer step at which the reference was last refreshed, or null if it is still the initial one. */
  refreshedAt: number | null;
  /** The frozen reference's weights by parameter name (present when `refreshedAt` is not null). */
  weights?: Record<string, tf.Tensor>;
}

/**
 * A transport cost c(x, y) between a batch x from P (as the map receives it) and a batch y in Q's space
 * (y = T(x)), one value per sample. Costs are objects, as in OTT-JAX, so that solvers are cost-agnostic.
 */
export interface TransportCost {
  /** Short name for logs and tables (e.g. `quadratic`, `l1`, `quadratic(ref)`). */
  readonly name: string;
  /** Per-sample cost, shape [B]. Differentiable in `y`; never disposes its inputs. */
  cost(x: tf.Tensor, y: tf.Tensor): tf.Tensor;
  /** Called by the solver after every outer step (`step` counts from 1), with the current map. */
  afterStep?(step: number, map: Module): void;
  /** State to checkpoint (tensors owned by the caller), or null when the cost is stateless. */
  getState?(): CostState | null;
  setState?(state: CostState | null): void;
  /** Frees what the cost owns (not the maps or functions it was given). */
  dispose?(): void;
}

/** Axes of every dimension but the batch one. */
function sampleAxes(t: tf.Tensor): number[] {
  return [...Array(t.rank).keys()].slice(1);
}

function checkSameShape(x: tf.Tensor, y: tf.Tensor, name: string): void {
  if (!tf.util.arraysEqual(x.shape, y.shape)) {
    throw new Error(`${name} cost: shapes ${JSON.stringify(x.shape)} and ${JSON.stringify(y.shape)} differ`);
  }
}

/** How a pointwise cost reduces over the elements of one sample. */
export type Reduction = 'mean' | 'sum';

function reduce(t: tf.Tensor, reduction: Reduction, axes: number[]): tf.Tensor {
  return reduction === 'mean' ? tf.mean(t, axes) : tf.sum(t, axes);
}

/**
 * c(x, y) = ½ · mean over elements of (x − y)², per sample (the paper's ½·MSE on images). With
 * `reduction: 'sum'` it is the textbook ½|x − y|²; the two differ by the constant 1/d, which leaves the OT map
 * unchanged but scales the potential (and so the training dynamics).
 */
export class QuadraticCost implements TransportCost {
  readonly name: string;
  readonly reduction: Reduction;
  constructor(options: { reduction?: Reduction } = {}) {
    this.reduction = options.reduction ?? 'mean';
    this.name = this.reduction === 'mean' ? 'quadratic' : 'quadratic(sum)';
  }
  cost(x: tf.Tensor, y: tf.Tensor): tf.Tensor {
    checkSameShape(x, y, this.name);
    return tf.tidy(() => tf.mul(reduce(tf.squaredDifference(x, y), this.reduction, sampleAxes(x)), 0.5));
  }
}

/** c(x, y) = mean over elements of |x − y|, per sample (`reduction: 'sum'`: |x − y|₁). */
export class L1Cost implements TransportCost {
  readonly name: string;
  readonly reduction: Reduction;
  constructor(options: { reduction?: Reduction } = {}) {
    this.reduction = options.reduction ?? 'mean';
    this.name = this.reduction === 'mean' ? 'l1' : 'l1(sum)';
  }
  cost(x: tf.Tensor, y: tf.Tensor): tf.Tensor {
    checkSameShape(x, y, this.name);
    return tf.tidy(() => reduce(tf.abs(tf.sub(x, y)), this.reduction, sampleAxes(x)));
  }
}

/**
 * A distance measured at a coarser resolution: c(x, y) = d(pool(x), pool(y)), with pool the average over
 * `factor` x `factor` blocks (images [B,H,W,C] whose sides are multiples of `factor`). For super-resolution at
 * factor s this is the cost "at LR resolution": it holds T(x) to its reference only in what an s-times smaller
 * photo can show (content, colour, edges), and leaves the detail finer than that, which the LR photo cannot
 * tell, to the potential (as frequency-separated unpaired SR holds the low band and lets a critic judge the high
 * one). Any change with zero block means costs nothing.
 */
export class PooledCost implements TransportCost {
  readonly name: string;
  constructor(
    private readonly distance: TransportCost,
    readonly factor: number,
  ) {
    if (!Number.isInteger(factor) || factor < 1) throw new Error(`pooled cost: factor must be a positive integer, got ${factor}`);
    this.name = `${distance.name}@1/${factor}`;
  }
  cost(x: tf.Tensor, y: tf.Tensor): tf.Tensor {
    checkSameShape(x, y, this.name);
    if (x.rank !== 4 || x.shape[1]! % this.factor !== 0 || x.shape[2]! % this.factor !== 0) {
      throw new Error(`${this.name} cost: images [B,H,W,C] with sides that are multiples of ${this.factor} expected, got ${JSON.stringify(x.shape)}`);
    }
    const f = this.factor;
    return tf.tidy(() => this.distance.cost(tf.avgPool(x as tf.Tensor4D, f, f, 'valid'), tf.avgPool(y as tf.Tensor4D, f, f, 'valid')));
  }
}

/** The named pointwise costs. */
export type CostName = 'quadratic' | 'l1';

export function makeCost(name: CostName): TransportCost {
  switch (name) {
    case 'quadratic':
      return new QuadraticCost();
    case 'l1':
      return new L1Cost();
  }
}

/** A function from P's space into Q's (e.g. bicubic ×4 upsampling of [B,h,w,3] to [B,4h,4w,3]). */
export type Reference = (x: tf.Tensor) => tf.Tensor;

export interface ReferenceCostOptions {
  /** The distance d in Q's space. Default: quadratic. */
  distance?: TransportCost | CostName;
  /** U: the initial reference (an upsampler). Not disposed by the cost. */
  reference: Reference;
  /**
   * Replace U by a frozen copy of the map (the reference code's "G0"): after every `every` outer steps
   * (`every`, `2·every`, …) and/or once after step `at` (the end of pretraining, so that the cost measures
   * from the pretrained map), the map's weights are copied into `frozen` (a network of the map's
   * architecture, owned by the cost from then on) and c(x, T(x)) = d(frozen(x), T(x)). With neither, the
   * frozen reference comes only from `setState` (a run that starts from a trained map measures from it).
   */
  refresh?: RefreshOptions;
}

export interface RefreshOptions {
  every?: number;
  at?: number;
  frozen: Module;
}

/**
 * The "distance to a reference" cost for unpaired super-resolution: c(x, y) = d(U(x), y), where U brings
 * the LR input x into HR space (bicubic upsampling) or is a frozen earlier copy of the map itself.
 */
export class ReferenceCost implements TransportCost {
  readonly name: string;
  private readonly distance: TransportCost;
  private readonly initial: Reference;
  private readonly refresh?: RefreshOptions;
  private refreshedAt: number | null = null;

  constructor(options: ReferenceCostOptions) {
    const d = options.distance ?? 'quadratic';
    this.distance = typeof d === 'string' ? makeCost(d) : d;
    this.initial = options.reference;
    if (options.refresh) {
      const { every, at } = options.refresh;
      if (every !== undefined && (!Number.isInteger(every) || every < 1)) throw new Error(`refresh.every must be a positive integer, got ${every}`);
      if (at !== undefined && (!Number.isInteger(at) || at < 1)) throw new Error(`refresh.at must be a positive integer, got ${at}`);
      // Neither: the frozen reference is only ever set through setState (a run that starts from a given map).
      this.refresh = options.refresh;
    }
    this.name = `${this.distance.name}(ref)`;
  }

  /** The current reference U(x) (a new tensor). */
  reference(x: tf.Tensor): tf.Tensor {
    return this.refreshedAt === null ? this.initial(x) : this.refresh!.frozen.apply(x);
  }

  /** Outer step of the last refresh (null: still the initial reference). */
  get lastRefresh(): number | null {
    return this.refreshedAt;
  }

  cost(x: tf.Tensor, y: tf.Tensor): tf.Tensor {
    return tf.tidy(() => this.distance.cost(this.reference(x), y));
  }

  afterStep(step: number, map: Module): void {
    const r = this.refresh;
    if (r && (step === r.at || (r.every !== undefined && step % r.every === 0))) {
      r.frozen.copyFrom(map);
      this.refreshedAt = step;
    }
  }

  getState(): CostState {
    if (this.refreshedAt === null) return { refreshedAt: null };
    const weights: Record<string, tf.Tensor> = {};
    for (const [name, v] of this.refresh!.frozen.params) weights[name] = tf.clone(v);
    return { refreshedAt: this.refreshedAt, weights };
  }

  setState(state: CostState | null): void {
    const at = state?.refreshedAt ?? null;
    if (at !== null) {
      if (!this.refresh) throw new Error('cost state has a refreshed reference but this cost never refreshes');
      for (const [name, v] of this.refresh.frozen.params) {
        const src = state?.weights?.[name];
        if (!src) throw new Error(`cost state lacks the reference weight ${name}`);
        assignChecked(v, src, `reference ${name}`);
      }
    }
    this.refreshedAt = at;
  }

  dispose(): void {
    this.refresh?.frozen.dispose();
  }
}
