import * as tf from '@tensorflow/tfjs-core';
import { FUSED_ADAM } from '../engine/kernels/otsr-adam.js';

/** Adam hyper-parameters (PyTorch's defaults unless given). */
export interface AdamOptions {
  lr: number;
  beta1?: number;
  beta2?: number;
  eps?: number;
}

/**
 * An optimizer's full state, keyed by the *parameter names* of a {@link Module} (not tf.Variable names, which
 * differ between instances), so that a state saved from one network restores into a freshly built one.
 * The tensors belong to whoever holds the state (dispose them when done).
 */
export interface AdamState {
  /** Number of updates applied so far. */
  t: number;
  m: Record<string, tf.Tensor>;
  v: Record<string, tf.Tensor>;
}

/**
 * Adam (Kingma & Ba), PyTorch's formulation, written out so that its whole state (moments and step count)
 * can be saved and restored *exactly*. tfjs's AdamOptimizer keeps running powers beta^t as float32 variables
 * multiplied once per step and recomputes them with `pow` on `setWeights`, so a restored optimizer drifts from
 * an uninterrupted one by an ulp; here the bias corrections are computed in float64 from `t` every step.
 */
export class Adam {
  readonly lr: number;
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  private t = 0;
  private readonly m = new Map<string, tf.Variable>();
  private readonly v = new Map<string, tf.Variable>();

  /** @param params the parameters to optimise, by stable name (e.g. `module.params`). */
  constructor(
    private readonly params: ReadonlyMap<string, tf.Variable>,
    options: AdamOptions,
  ) {
    this.lr = options.lr;
    this.beta1 = options.beta1 ?? 0.9;
    this.beta2 = options.beta2 ?? 0.999;
    this.eps = options.eps ?? 1e-8;
    for (const [name, p] of params) {
      // tidy frees the zeros that seed each slot (a variable keeps its own reference to the data).
      this.m.set(name, tf.tidy(() => tf.variable(tf.zerosLike(p), false)));
      this.v.set(name, tf.tidy(() => tf.variable(tf.zerosLike(p), false)));
    }
  }

  /** Number of updates applied so far. */
  get iterations(): number {
    return this.t;
  }

  /**
   * One update from gradients keyed by tf.Variable name (what `tf.variableGrads` returns). Parameters without
   * a gradient are left alone. Does not dispose `grads`. `lr` overrides the optimizer's rate for this update
   * (pretraining runs at its own rate on the same slots).
   */
  applyGradients(grads: tf.NamedTensorMap, lr = this.lr): void {
    this.t += 1;
    const bc1 = 1 - this.beta1 ** this.t;
    const bc2 = 1 - this.beta2 ** this.t;
    const stepSize = lr / bc1;
    const sqrtBc2 = Math.sqrt(bc2);
    // otsr's fused kernel where the backend has one (wasm): one pass per parameter instead of ~10 kernels,
    // with the same float32 operations in the same order.
    if (tf.getKernel(FUSED_ADAM, tf.getBackend()) !== undefined) {
      const attrs = { beta1: this.beta1, beta2: this.beta2, c1: 1 - this.beta1, c2: 1 - this.beta2, stepSize, invSqrtBc2: 1 / sqrtBc2, eps: this.eps };
      tf.tidy(() => {
        for (const [name, p] of this.params) {
          const g = grads[p.name];
          if (!g) continue;
          const m = this.m.get(name)!;
          const v = this.v.get(name)!;
          const [p1, m1, v1] = tf.engine().runKernel(FUSED_ADAM, { p, m, v, g }, attrs as unknown as tf.NamedAttrMap) as tf.Tensor[];
          m.assign(m1!);
          v.assign(v1!);
          p.assign(p1!);
        }
      });
      return;
    }
    tf.tidy(() => {
      const b1 = tf.scalar(this.beta1);
      const b2 = tf.scalar(this.beta2);
      const c1 = tf.scalar(1 - this.beta1);
      const c2 = tf.scalar(1 - this.beta2);
      const invSqrtBc2 = tf.scalar(1 / sqrtBc2);
      const eps = tf.scalar(this.eps);
      const lr = tf.scalar(stepSize);
      for (const [name, p] of this.params) {
        const g = grads[p.name];
        if (!g) continue;
        const m = this.m.get(name)!;
        const v = this.v.get(name)!;
        const m1 = tf.add(tf.mul(b1, m), tf.mul(c1, g));
        const v1 = tf.add(tf.mul(b2, v), tf.mul(c2, tf.square(g)));
        m.assign(m1);
        v.assign(v1);
        const denom = tf.add(tf.mul(tf.sqrt(v1), invSqrtBc2), eps);
        p.assign(tf.sub(p, tf.mul(lr, tf.div(m1, denom))));
      }
    });
  }

  /** A copy of the state (new tensors, owned by the caller). */
  getState(): AdamState {
    const m: Record<string, tf.Tensor> = {};
    const v: Record<string, tf.Tensor> = {};
    for (const [name, t] of this.m) m[name] = tf.clone(t);
    for (const [name, t] of this.v) v[name] = tf.clone(t);
    return { t: this.t, m, v };
  }

  /** Restores a state (copies the values; the caller keeps ownership of `state`). */
  setState(state: AdamState): void {
    for (const [name, slot] of this.m) {
      const src = state.m[name];
      if (!src) throw new Error(`Adam state lacks the first moment of ${name}`);
      assignChecked(slot, src, name);
    }
    for (const [name, slot] of this.v) {
      const src = state.v[name];
      if (!src) throw new Error(`Adam state lacks the second moment of ${name}`);
      assignChecked(slot, src, name);
    }
    this.t = state.t;
  }

  dispose(): void {
    for (const t of this.m.values()) t.dispose();
    for (const t of this.v.values()) t.dispose();
    this.m.clear();
    this.v.clear();
  }
}

/** Frees the tensors of an {@link AdamState}. */
export function disposeAdamState(state: AdamState): void {
  tf.dispose([...Object.values(state.m), ...Object.values(state.v)]);
}

/** `target.assign(src)` with a readable error when shapes differ (e.g. a checkpoint of another architecture). */
export function assignChecked(target: tf.Variable, src: tf.Tensor, name: string): void {
  if (!tf.util.arraysEqual(target.shape, src.shape)) {
    throw new Error(`${name}: shape ${JSON.stringify(src.shape)} does not match ${JSON.stringify(target.shape)}`);
  }
  target.assign(src);
}
