/**
 * The training task of `otsr train --workers N` (see {@link ParallelSolver}): every worker thread imports this
 * module and calls `createTask`, which builds the run's map, potential, transport cost and optimizers exactly as
 * the in-process solvers do (NeuralOT, RegularizedGAN), and exposes their updates as data-parallel steps.
 */
import type { ParallelStep, ParallelTask, WorkerInfo } from '../engine/parallel/protocol.js';
import { Adam } from '../ot/adam.js';
import { mapAverageOf } from '../ot/map-average.js';
import { criticObjective, mapObjective, pairedObjective, potentialObjective, pretrainRate } from '../ot/objectives.js';
import { refreshedAtFromCounter, refreshedAtToCounter, unflattenSolverState } from '../ot/solver.js';
import { modulesTaskState } from '../ot/task-state.js';
import { type OtTaskOptions, buildNetworks } from './run-spec.js';

/** Step names and inputs: OTS `map` {x}, `potential` {x, y}; GAN `critic` {x, y, eta}, `map` {x}; both `paired` {x, y}. */
export const OT_STEPS = { ots: ['map', 'potential', 'paired'], gan: ['critic', 'map', 'paired'] } as const;

/**
 * Builds the task. Steps (the objectives of ot/objectives.ts, each a mean over the rows it is given, so that the
 * workers' shards average to the whole batch's):
 * - `map` {x}: w·c(x, T(x)) − f(T(x)) on the map (metric `cost`);
 * - `potential` {x, y}: f(T(x)) − f(y) (+ the R1 penalty if asked) on the potential (OTS; metric `r1`);
 * - `critic` {x, y, eta}: the WGAN-GP critic objective, eta [B,1,1,1] drawn by the caller (GAN; metric `gp`);
 * - `paired` {x, y}: pretraining, E|T(x) − y| on aligned synthetic pairs, on the map.
 * Command `afterStep` (args: the outer step just completed) lets the cost refresh its reference and, after a
 * solver step, blends the map into its weight average (`emaDecay`), as OtSolver.step does in one thread.
 */
export function createTask(o: OtTaskOptions, _info?: WorkerInfo): ParallelTask {
  const { map, potential, cost } = buildNetworks(o);
  const [beta1, beta2] = o.betas;
  const mapAdam = new Adam(map.params, { lr: o.mapLr, beta1, beta2 });
  const potentialAdam = new Adam(potential.params, { lr: o.potentialLr, beta1, beta2 });
  const average = mapAverageOf(o.emaDecay);

  const mapStep: ParallelStep = {
    params: map.params,
    loss: ({ x }) => {
      const r = mapObjective(map, potential, cost, o.costWeight, x!);
      return { loss: r.loss, metrics: { cost: r.cost } };
    },
    update: (g) => mapAdam.applyGradients(g),
  };
  const potentialStep: ParallelStep = {
    params: potential.params,
    loss: ({ x, y }) => {
      const r = potentialObjective(map, potential, x!, y!, o.potentialPenalty);
      return { loss: r.loss, metrics: { r1: r.r1 } };
    },
    update: (g) => potentialAdam.applyGradients(g),
  };
  const criticStep: ParallelStep = {
    params: potential.params,
    loss: ({ x, y, eta }) => {
      const r = criticObjective(map, potential, x!, y!, eta!, o.gpWeight);
      return { loss: r.loss, metrics: { gp: r.gp } };
    },
    update: (g) => potentialAdam.applyGradients(g),
  };
  const pairedStep: ParallelStep = {
    params: map.params,
    loss: ({ x, y }) => pairedObjective(map, x!, y!),
    update: (g) => mapAdam.applyGradients(g, pretrainRate(o.pretrainLr, o.pretrainSchedule, mapAdam.iterations, o.pretrainSteps)),
  };

  const modules = modulesTaskState({ map, potential }, { map: mapAdam, potential: potentialAdam });
  return {
    steps: o.solver === 'ots' ? { map: mapStep, potential: potentialStep, paired: pairedStep } : { critic: criticStep, map: mapStep, paired: pairedStep },
    getState() {
      const { tensors, counters } = modules.getState();
      const c = cost.getState();
      counters.costRefreshedAt = refreshedAtToCounter(c.refreshedAt);
      for (const [name, t] of Object.entries(c.weights ?? {})) tensors[`cost/${name}`] = t;
      for (const [name, t] of Object.entries(average?.getState() ?? {})) tensors[`mapAverage/${name}`] = t;
      return { tensors, counters };
    },
    setState(tensors, counters) {
      modules.setState(tensors, counters);
      // The cost's reference and the map's average under the solver state's flat names (modules restored the rest).
      const flat = unflattenSolverState(Object.entries(tensors), {
        mapOptimizerT: 0,
        potentialOptimizerT: 0,
        costRefreshedAt: refreshedAtFromCounter(counters.costRefreshedAt),
      });
      cost.setState(flat.cost);
      if (flat.mapAverage && !average) throw new Error('this state holds a map average, but the run keeps none (emaDecay 0)');
      average?.setState(flat.mapAverage);
    },
    commands: {
      afterStep: (step) => {
        cost.afterStep(step as number, map);
        if ((step as number) > o.pretrainSteps) average?.update(map);
      },
    },
    dispose() {
      average?.dispose();
      mapAdam.dispose();
      potentialAdam.dispose();
      cost.dispose();
      map.dispose();
      potential.dispose();
    },
  };
}
