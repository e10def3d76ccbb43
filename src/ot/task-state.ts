import * as tf from '@tensorflow/tfjs-core';
import type { ParallelTask } from '../engine/parallel/protocol.js';
import type { Module } from '../nn/module.js';
import type { Adam, AdamState } from './adam.js';

/**
 * `getState`/`setState` of a {@link ParallelTask} over named modules and their Adam optimizers, in the flat names
 * of a solver state (ot/solver.ts' flattenSolverState): tensors `net/param` (weights), `netOptimizer/m/param` and
 * `netOptimizer/v/param` (Adam moments), counters `netOptimizerT` (Adam steps). Every module named in
 * `optimizers` must also be in `modules` under the same name.
 */
export function modulesTaskState(modules: Record<string, Module>, optimizers: Record<string, Adam>): Pick<ParallelTask, 'getState' | 'setState'> {
  return {
    getState() {
      const tensors: Record<string, tf.Tensor> = {};
      const counters: Record<string, number> = {};
      for (const [net, m] of Object.entries(modules)) {
        for (const [name, v] of m.params) tensors[`${net}/${name}`] = tf.clone(v);
      }
      for (const [net, opt] of Object.entries(optimizers)) {
        const s = opt.getState();
        for (const [name, t] of Object.entries(s.m)) tensors[`${net}Optimizer/m/${name}`] = t;
        for (const [name, t] of Object.entries(s.v)) tensors[`${net}Optimizer/v/${name}`] = t;
        counters[`${net}OptimizerT`] = s.t;
      }
      return { tensors, counters };
    },
    setState(tensors, counters) {
      for (const [net, m] of Object.entries(modules)) {
        for (const [name, v] of m.params) {
          const src = tensors[`${net}/${name}`];
          if (!src) throw new Error(`state lacks ${net}/${name}`);
          v.assign(src);
        }
      }
      for (const [net, opt] of Object.entries(optimizers)) {
        const s: AdamState = { t: counters[`${net}OptimizerT`] ?? 0, m: {}, v: {} };
        for (const name of modules[net]!.params.keys()) {
          const m = tensors[`${net}Optimizer/m/${name}`];
          const v = tensors[`${net}Optimizer/v/${name}`];
          if (!m || !v) throw new Error(`state lacks the Adam moments of ${net}/${name}`);
          s.m[name] = m;
          s.v[name] = v;
        }
        opt.setState(s);
      }
    },
  };
}
