import type * as tf from '@tensorflow/tfjs-core';
import { InputError } from '../errors.js';
import type { AdamState } from '../ot/adam.js';
import type { SolverState } from '../ot/solver.js';
import type { Checkpoint } from './checkpoint.js';

/**
 * SolverState <-> Checkpoint: tensors go into the checkpoint's tensor table under prefixed names
 * (`map/…`, `potential/…`, `mapOptimizer/m/…`, …), everything else into its JSON state.
 */
export function solverStateToCheckpoint(state: SolverState, seconds: number): Checkpoint {
  const tensors = new Map<string, tf.Tensor>();
  const put = (prefix: string, record: Record<string, tf.Tensor> | undefined) => {
    for (const [name, t] of Object.entries(record ?? {})) tensors.set(`${prefix}/${name}`, t);
  };
  put('map', state.map);
  put('potential', state.potential);
  put('mapOptimizer/m', state.mapOptimizer.m);
  put('mapOptimizer/v', state.mapOptimizer.v);
  put('potentialOptimizer/m', state.potentialOptimizer.m);
  put('potentialOptimizer/v', state.potentialOptimizer.v);
  put('cost', state.cost?.weights);
  const json = {
    kind: state.kind,
    step: state.step,
    seconds,
    mapOptimizerT: state.mapOptimizer.t,
    potentialOptimizerT: state.potentialOptimizer.t,
    rng: state.rng,
    source: state.source,
    target: state.target,
    costRefreshedAt: state.cost?.refreshedAt ?? null,
    hasCost: state.cost !== null,
    history: state.history,
    ...(state.pairs !== undefined ? { pairs: state.pairs } : {}),
  };
  return { state: json, tensors };
}

/** The inverse; the returned state's tensors are the checkpoint's (the caller disposes them once). */
export function solverStateFromCheckpoint(ckpt: Checkpoint, file: string): { state: SolverState; seconds: number } {
  const j = ckpt.state as {
    kind?: 'ots' | 'gan';
    step?: number;
    seconds?: number;
    mapOptimizerT?: number;
    potentialOptimizerT?: number;
    rng?: number[];
    source?: unknown;
    target?: unknown;
    costRefreshedAt?: number | null;
    hasCost?: boolean;
    history?: SolverState['history'];
    pairs?: unknown;
  };
  if (!j || (j.kind !== 'ots' && j.kind !== 'gan') || typeof j.step !== 'number' || !Array.isArray(j.rng)) {
    throw new InputError(file, 'is not a training checkpoint (solver state missing)');
  }
  const take = (prefix: string): Record<string, tf.Tensor> => {
    const out: Record<string, tf.Tensor> = {};
    for (const [name, t] of ckpt.tensors) if (name.startsWith(`${prefix}/`)) out[name.slice(prefix.length + 1)] = t;
    return out;
  };
  const adam = (prefix: string, t: number | undefined): AdamState => ({ t: t ?? 0, m: take(`${prefix}/m`), v: take(`${prefix}/v`) });
  const state: SolverState = {
    kind: j.kind,
    step: j.step,
    map: take('map'),
    potential: take('potential'),
    mapOptimizer: adam('mapOptimizer', j.mapOptimizerT),
    potentialOptimizer: adam('potentialOptimizer', j.potentialOptimizerT),
    rng: j.rng,
    source: j.source,
    target: j.target,
    cost: j.hasCost ? { refreshedAt: j.costRefreshedAt ?? null, ...(j.costRefreshedAt != null ? { weights: take('cost') } : {}) } : null,
    history: j.history ?? [],
    ...(j.pairs !== undefined ? { pairs: j.pairs } : {}),
  };
  return { state, seconds: j.seconds ?? 0 };
}
