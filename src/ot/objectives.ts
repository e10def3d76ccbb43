/**
 * The per-batch objectives of the solvers, defined once: the in-process solvers (NeuralOT, RegularizedGAN) and
 * the worker task of `otsr train --workers N` (train/parallel-task.ts) both differentiate these functions, so
 * that every run computes the same losses whatever the thread count. Each is a mean over the batch's rows, so
 * that the workers' shards average to the whole batch's.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Module } from '../nn/module.js';
import type { TransportCost } from './cost.js';

/** f(y) as a [B] tensor, whatever the potential's output shape ([B] or [B,1]). */
export function potentialOf(potential: Module, y: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const out = potential.apply(y);
    if (out.size !== y.shape[0]) {
      throw new Error(`the potential must return one value per sample, got shape ${JSON.stringify(out.shape)} for a batch of ${y.shape[0]}`);
    }
    return tf.reshape(out, [-1]);
  });
}

/** |∇f(z_i)|² per sample, [B]: the input gradient of the potential that both gradient penalties measure. */
function squaredGradientNorms(potential: Module, z: tf.Tensor): tf.Tensor {
  const axes = [...Array(z.rank).keys()].slice(1);
  const g = tf.grad((v: tf.Tensor) => tf.sum(potentialOf(potential, v)))(z);
  return tf.sum(tf.square(g), axes);
}

/** The map's objective w·E c(x, T(x)) − E f(T(x)) (OTS: w the cost weight; GAN: w = λ), and E c. */
export function mapObjective(map: Module, potential: Module, cost: TransportCost, weight: number, x: tf.Tensor): { loss: tf.Scalar; cost: tf.Scalar } {
  const tx = map.apply(x);
  const c = tf.mean(cost.cost(x, tx)) as tf.Scalar;
  return { loss: tf.sub(tf.mul(c, weight), tf.mean(potentialOf(potential, tx))) as tf.Scalar, cost: c };
}

/**
 * OTS's potential objective E f(T(x)) − E f(y), minimised by f (gradient ascent on the dual), plus, when
 * `penalty` γ > 0, γ/2·E|∇f(y)|² at the target samples (R1, Mescheder et al. 2018). The paper's potential is
 * unpenalised (γ = 0). The penalty keeps f smooth around the HR samples, which bounds how far one potential
 * update can pull the map (its gradient is ∇f(T(x))); it also shrinks the transport a little, which `otsr
 * bench ot` measures. `r1` is E|∇f(y)|² without its weight (0 when γ = 0).
 */
export function potentialObjective(map: Module, potential: Module, x: tf.Tensor, y: tf.Tensor, penalty = 0): { loss: tf.Scalar; r1: tf.Scalar } {
  const gap = tf.sub(tf.mean(potentialOf(potential, map.apply(x))), tf.mean(potentialOf(potential, y))) as tf.Scalar;
  if (!(penalty > 0)) return { loss: gap, r1: tf.scalar(0) };
  const r1 = tf.mean(squaredGradientNorms(potential, y)) as tf.Scalar;
  return { loss: tf.add(gap, tf.mul(r1, penalty / 2)) as tf.Scalar, r1 };
}

/**
 * The GAN critic's objective E f(T(x)) − E f(y) + w·E(|∇f(x̂)| − 1)² (WGAN-GP), x̂ = η·y + (1 − η)·T(x) with
 * η [B,1,…] drawn by the caller, and the penalty E(|∇f(x̂)| − 1)² without its weight.
 */
export function criticObjective(
  map: Module,
  potential: Module,
  x: tf.Tensor,
  y: tf.Tensor,
  eta: tf.Tensor,
  gpWeight: number,
): { loss: tf.Scalar; gp: tf.Scalar } {
  const tx = map.apply(x);
  if (!tf.util.arraysEqual(tx.shape, y.shape)) {
    throw new Error(`T(x) has shape ${JSON.stringify(tx.shape)} but target samples have ${JSON.stringify(y.shape)}`);
  }
  const xh = tf.add(tf.mul(eta, y), tf.mul(tf.sub(1, eta), tx));
  const norm = tf.sqrt(tf.add(squaredGradientNorms(potential, xh), 1e-12));
  const gp = tf.mean(tf.square(tf.sub(norm, 1))) as tf.Scalar;
  const gap = tf.sub(tf.mean(potentialOf(potential, tx)), tf.mean(potentialOf(potential, y)));
  return { loss: tf.add(gap, tf.mul(gp, gpWeight)) as tf.Scalar, gp };
}

/** The pretraining objective on aligned pairs: E |T(x) − y| (L1, as EDSR and ESRGAN's PSNR stage use). */
export function pairedObjective(map: Module, x: tf.Tensor, y: tf.Tensor): tf.Scalar {
  return tf.mean(tf.abs(tf.sub(map.apply(x), y))) as tf.Scalar;
}

/** Supervised updates in one pretraining step: as many as an OTS step's map updates at the default k. */
export const PAIRED_UPDATES_PER_STEP = 10;

/** How the pretraining learning rate evolves: constant, or a cosine from the full rate down to 0 at its end. */
export type PretrainSchedule = 'constant' | 'cosine';

/**
 * The learning rate of pretraining update `update` (0-based: the map optimizer's updates so far, all of them
 * pretraining ones) out of `steps` pretraining steps. A function of the optimizer's counter only, so that a
 * resumed run and the workers compute the same rates.
 */
export function pretrainRate(lr: number, schedule: PretrainSchedule, update: number, steps: number): number {
  if (schedule === 'constant') return lr;
  const total = steps * PAIRED_UPDATES_PER_STEP;
  return 0.5 * lr * (1 + Math.cos(Math.PI * Math.min(1, update / total)));
}
