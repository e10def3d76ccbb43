import { InputError } from '../errors.js';
import { type SolverState, flattenSolverState, unflattenSolverState } from '../ot/solver.js';
import type { Checkpoint } from './checkpoint.js';

/**
 * SolverState <-> Checkpoint: the state's tensors go into the checkpoint's tensor table under their flat names
 * (ot/solver.ts' flattenSolverState: `map/…`, `potential/…`, `mapOptimizer/m/…`, …), everything else into its
 * JSON state.
 */
export function solverStateToCheckpoint(state: SolverState, seconds: number): Checkpoint {
  const { tensors, counters } = flattenSolverState(state);
  const json = {
    kind: state.kind,
    step: state.step,
    seconds,
    ...counters,
    rng: state.rng,
    source: state.source,
    target: state.target,
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
  const counters = { mapOptimizerT: j.mapOptimizerT ?? 0, potentialOptimizerT: j.potentialOptimizerT ?? 0, costRefreshedAt: j.costRefreshedAt ?? null };
  const state: SolverState = {
    kind: j.kind,
    step: j.step,
    ...unflattenSolverState(ckpt.tensors, counters, j.hasCost === true),
    rng: j.rng,
    source: j.source,
    target: j.target,
    history: j.history ?? [],
    ...(j.pairs !== undefined ? { pairs: j.pairs } : {}),
  };
  return { state, seconds: j.seconds ?? 0 };
}
