/**
 * The training task of `otsr train --workers N` (see {@link ParallelSolver}): every worker thread imports this
 * module and calls `createTask`, which builds the run's map, potential, transport cost and optimizers exactly as
 * the in-process solvers do (NeuralOT, RegularizedGAN), and exposes their updates as data-parallel steps.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { ParallelStep, ParallelTask, WorkerInfo } from '../engine/parallel/protocol.js';
import { upsampleBicubic } from '../image/resize-tensor.js';
import type { ArchSpec, Module } from '../nn/module.js';
import { buildModule } from '../nn/registry.js';
import { Adam } from '../ot/adam.js';
import { ReferenceCost } from '../ot/cost.js';
import { modulesTaskState } from '../ot/task-state.js';

/** Everything a worker needs to build the run's networks and updates (structured-cloneable). */
export interface OtTaskOptions {
  solver: 'ots' | 'gan';
  map: ArchSpec;
  potential: ArchSpec;
  /** Init seeds: the map's (the potential's is `mapSeed + 1`, as in otsr train). */
  mapSeed: number;
  /** Factor of the cost's bicubic reference U. */
  scale: number;
  /** Refresh U to a frozen copy of the map every this many outer steps (0: never). */
  refreshEvery: number;
  mapLr: number;
  potentialLr: number;
  betas: [number, number];
  /** Weight of the transport cost in the map's loss: OTS's cost weight, the GAN's λ. */
  costWeight: number;
  /** GAN only: weight of the gradient penalty. */
  gpWeight: number;
}

/** Step names and inputs: OTS `map` {x}, `potential` {x, y}; GAN `critic` {x, y, eta}, `map` {x}. */
export const OT_STEPS = { ots: ['map', 'potential'], gan: ['critic', 'map'] } as const;

/**
 * Builds the task. Steps (each loss the mean over the rows it is given of a per-sample objective, so that the
 * workers' shards average to the whole batch's):
 * - `map` {x}: w·c(x, T(x)) − f(T(x)) on the map (metric `cost`);
 * - `potential` {x, y}: f(T(x)) − f(y) on the potential (OTS);
 * - `critic` {x, y, eta}: f(T(x)) − f(y) + gpWeight·(|∇f(x̂)| − 1)², x̂ = eta·y + (1 − eta)·T(x), eta [B,1,1,1]
 *   drawn by the caller (GAN; metric `gp`).
 * Command `afterStep` (args: the outer step just completed) lets the cost refresh its reference.
 */
export function createTask(o: OtTaskOptions, _info?: WorkerInfo): ParallelTask {
  const upsampler = (x: tf.Tensor4D, s: number) => upsampleBicubic(x, s);
  const map = buildModule(o.map, { seed: o.mapSeed, upsampler });
  const potential = buildModule(o.potential, { seed: o.mapSeed + 1 });
  const cost = new ReferenceCost({
    reference: (x) => upsampleBicubic(x as tf.Tensor4D, o.scale),
    ...(o.refreshEvery > 0 ? { refresh: { every: o.refreshEvery, frozen: buildModule(o.map, { upsampler }) } } : {}),
  });
  const [beta1, beta2] = o.betas;
  const mapAdam = new Adam(map.params, { lr: o.mapLr, beta1, beta2 });
  const potentialAdam = new Adam(potential.params, { lr: o.potentialLr, beta1, beta2 });
  const f = (y: tf.Tensor) => potentialOf(potential, y);

  const mapStep: ParallelStep = {
    params: map.params,
    loss: ({ x }) => {
      const tx = map.apply(x!);
      const c = tf.mean(cost.cost(x!, tx)) as tf.Scalar;
      return { loss: tf.sub(tf.mul(c, o.costWeight), tf.mean(f(tx))) as tf.Scalar, metrics: { cost: c } };
    },
    update: (g) => mapAdam.applyGradients(g),
  };
  const potentialStep: ParallelStep = {
    params: potential.params,
    loss: ({ x, y }) => tf.sub(tf.mean(f(map.apply(x!))), tf.mean(f(y!))) as tf.Scalar,
    update: (g) => potentialAdam.applyGradients(g),
  };
  const criticStep: ParallelStep = {
    params: potential.params,
    loss: ({ x, y, eta }) => {
      const tx = map.apply(x!);
      if (!tf.util.arraysEqual(tx.shape, y!.shape)) {
        throw new Error(`T(x) has shape ${JSON.stringify(tx.shape)} but target samples have ${JSON.stringify(y!.shape)}`);
      }
      const xh = tf.add(tf.mul(eta!, y!), tf.mul(tf.sub(1, eta!), tx));
      const axes = [...Array(y!.rank).keys()].slice(1);
      const g = tf.grad((z: tf.Tensor) => tf.sum(f(z)))(xh);
      const norm = tf.sqrt(tf.add(tf.sum(tf.square(g), axes), 1e-12));
      const penalty = tf.mean(tf.square(tf.sub(norm, 1))) as tf.Scalar;
      const gap = tf.sub(tf.mean(f(tx)), tf.mean(f(y!)));
      return { loss: tf.add(gap, tf.mul(penalty, o.gpWeight)) as tf.Scalar, metrics: { gp: penalty } };
    },
    update: (g) => potentialAdam.applyGradients(g),
  };

  const modules = modulesTaskState({ map, potential }, { map: mapAdam, potential: potentialAdam });
  return {
    steps: o.solver === 'ots' ? { map: mapStep, potential: potentialStep } : { critic: criticStep, map: mapStep },
    getState() {
      const { tensors, counters } = modules.getState();
      const c = cost.getState();
      counters['cost.refreshedAt'] = c.refreshedAt ?? -1;
      for (const [name, t] of Object.entries(c.weights ?? {})) tensors[`cost/${name}`] = t;
      return { tensors, counters };
    },
    setState(tensors, counters) {
      modules.setState(tensors, counters);
      const at = counters['cost.refreshedAt'] ?? -1;
      if (at < 0) cost.setState({ refreshedAt: null });
      else {
        const weights: Record<string, tf.Tensor> = {};
        for (const [name, t] of Object.entries(tensors)) if (name.startsWith('cost/')) weights[name.slice(5)] = t;
        cost.setState({ refreshedAt: at, weights });
      }
    },
    commands: {
      afterStep: (step) => cost.afterStep(step as number, map),
    },
    dispose() {
      mapAdam.dispose();
      potentialAdam.dispose();
      cost.dispose();
      map.dispose();
      potential.dispose();
    },
  };
}

/** f(y) as a [B] tensor, checking that the potential gives one value per sample (as OtSolver.potentialOf). */
function potentialOf(potential: Module, y: tf.Tensor): tf.Tensor {
  const out = potential.apply(y);
  if (out.size !== y.shape[0]) {
    throw new Error(`the potential must return one value per sample, got shape ${JSON.stringify(out.shape)} for a batch of ${y.shape[0]}`);
  }
  return tf.reshape(out, [-1]);
}
