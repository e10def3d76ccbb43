/**
 * Training tasks for {@link DataParallel} workers (each worker imports this module and calls `createTask`):
 * the reference EDSR step (L1 + Adam) and one OTS iteration's two kinds of update (map, potential).
 */
import * as tf from '@tensorflow/tfjs-core';
import type { ParallelTask, WorkerInfo } from '../engine/parallel/protocol.js';
import { upsampleBicubic } from '../image/resize-tensor.js';
import { Critic } from '../nn/critic.js';
import { Edsr, type EdsrScale } from '../nn/edsr.js';
import { Adam } from '../ot/adam.js';
import { ReferenceCost } from '../ot/cost.js';
import { modulesTaskState } from '../ot/task-state.js';

export interface EdsrTaskConfig {
  nResBlocks: number;
  nFeats: number;
  scale: EdsrScale;
}

export type TrainTaskOptions =
  /** One step `step` on inputs {lr, hr}: mean |EDSR(lr) − hr|, Adam. */
  | { kind: 'edsr-l1'; edsr: EdsrTaskConfig; seed: number; lr: number }
  /**
   * Neural OT: step `map` on {x} (mean c(x, T(x)) − f(T(x)), c = ½·MSE to bicubic U(x); metric `cost`) and step
   * `potential` on {x, y} (mean f(T(x)) − f(y)); EDSR with a bicubic skip, the ResNet critic, Adam on both.
   */
  | { kind: 'ots'; edsr: EdsrTaskConfig; critic: { size: number; nFeats?: number }; seed: number; lr: number };

/** Builds the task (the same in every worker: the weights depend only on the seeds). */
export function createTask(options: TrainTaskOptions, _info?: WorkerInfo): ParallelTask {
  return options.kind === 'edsr-l1' ? edsrL1(options) : ots(options);
}

function edsrL1(o: Extract<TrainTaskOptions, { kind: 'edsr-l1' }>): ParallelTask {
  const map = new Edsr({ ...o.edsr, seed: o.seed });
  const adam = new Adam(map.params, { lr: o.lr });
  return {
    steps: {
      step: {
        params: map.params,
        loss: ({ lr, hr }) => tf.mean(tf.abs(tf.sub(map.apply(lr!), hr!))) as tf.Scalar,
        update: (g) => adam.applyGradients(g),
      },
    },
    ...modulesTaskState({ map }, { map: adam }),
    dispose: () => {
      adam.dispose();
      map.dispose();
    },
  };
}

function ots(o: Extract<TrainTaskOptions, { kind: 'ots' }>): ParallelTask {
  const upsampler = (x: tf.Tensor4D, s: number) => upsampleBicubic(x, s);
  const map = new Edsr({ ...o.edsr, seed: o.seed, skip: 'upsample', upsampler });
  const potential = new Critic({ ...o.critic, seed: o.seed + 1 });
  const cost = new ReferenceCost({ reference: (x) => upsampleBicubic(x as tf.Tensor4D, o.edsr.scale) });
  const mapAdam = new Adam(map.params, { lr: o.lr });
  const potentialAdam = new Adam(potential.params, { lr: o.lr });
  const f = (y: tf.Tensor) => tf.reshape(potential.apply(y), [-1]);
  return {
    steps: {
      map: {
        params: map.params,
        loss: ({ x }) => {
          const tx = map.apply(x!);
          const c = tf.mean(cost.cost(x!, tx)) as tf.Scalar;
          return { loss: tf.sub(c, tf.mean(f(tx))) as tf.Scalar, metrics: { cost: c } };
        },
        update: (g) => mapAdam.applyGradients(g),
      },
      potential: {
        params: potential.params,
        loss: ({ x, y }) => tf.sub(tf.mean(f(map.apply(x!))), tf.mean(f(y!))) as tf.Scalar,
        update: (g) => potentialAdam.applyGradients(g),
      },
    },
    ...modulesTaskState({ map, potential }, { map: mapAdam, potential: potentialAdam }),
    dispose: () => {
      mapAdam.dispose();
      potentialAdam.dispose();
      map.dispose();
      potential.dispose();
    },
  };
}
