import * as tf from '@tensorflow/tfjs-core';
import { criticObjective } from './objectives.js';
import type { OtNetworks, OtProblem } from './problem.js';
import { type CommonSolverOptions, OtSolver, type StepLosses, positiveInteger, readScalar } from './solver.js';

/** The GAN's Adam (beta1, beta2), WGAN-GP's. */
export const GAN_BETAS: readonly [number, number] = [0, 0.9];
/** Default weight of the gradient penalty (WGAN-GP's). */
export const GAN_GP_WEIGHT = 10;

export interface RegularizedGANOptions extends CommonSolverOptions {
  /** λ, the weight of the transport cost in the map's loss; 0 gives a plain WGAN-GP. Default 1. */
  lambda?: number;
  /** n: critic updates per map update. Default 10 (the reference benchmark's D_ITERS). */
  criticSteps?: number;
  /** Weight of the gradient penalty. Default 10. */
  gpWeight?: number;
}

/**
 * The regularized GAN baseline: a WGAN-GP critic f (n updates on E f(T(x)) − E f(y) + w·E(|∇f(x̂)| − 1)²,
 * x̂ uniform on segments between T(x) and y), then one map update on E[λ·c(x, T(x)) − f(T(x))].
 * The paper shows its solution T^λ is an OT map between P and T^λ#P ≠ Q: it is biased, more so as λ grows.
 * Adam betas default to (0, 0.9), WGAN-GP's.
 */
export class RegularizedGAN extends OtSolver {
  readonly kind = 'gan' as const;
  readonly lambda: number;
  readonly criticSteps: number;
  readonly gpWeight: number;

  constructor(problem: OtProblem, networks: OtNetworks, options: RegularizedGANOptions = {}) {
    // Checked before super(), which allocates the optimizers.
    const lambda = options.lambda ?? 1;
    if (!(lambda >= 0)) throw new Error(`lambda must be >= 0, got ${lambda}`);
    const criticSteps = positiveInteger('criticSteps', options.criticSteps ?? 10);
    super(problem, networks, options, [...GAN_BETAS]);
    this.lambda = lambda;
    this.criticSteps = criticSteps;
    this.gpWeight = options.gpWeight ?? GAN_GP_WEIGHT;
  }

  protected async runStep(): Promise<Omit<StepLosses, 'step'>> {
    let potentialLoss = 0;
    let gradientPenalty = 0;
    for (let i = 0; i < this.criticSteps; i++) {
      const r = await this.criticUpdate();
      potentialLoss += r.loss / this.criticSteps;
      gradientPenalty += r.gp / this.criticSteps;
    }
    const { loss: mapLoss, cost } = await this.mapUpdate(this.lambda);
    return { mapLoss, potentialLoss, cost, gradientPenalty };
  }

  private async criticUpdate(): Promise<{ loss: number; gp: number }> {
    const x = await this.draw('source');
    const y = await this.draw('target');
    const b = this.batchSize;
    const eta = new Float32Array(b);
    for (let i = 0; i < b; i++) eta[i] = this.rng.next();
    try {
      const [loss, gp] = tf.tidy(() => {
        const e = tf.tensor(eta, [b, ...Array(y.rank - 1).fill(1)]);
        let penalty: tf.Tensor | undefined;
        const { value, grads } = tf.variableGrads(() => {
          const r = criticObjective(this.map, this.potential, x, y, e, this.gpWeight);
          penalty = tf.keep(r.gp);
          return r.loss;
        }, this.potential.trainableVariables());
        this.potentialOptimizer.applyGradients(grads);
        return [value, penalty!];
      });
      return { loss: await readScalar(loss), gp: await readScalar(gp) };
    } finally {
      tf.dispose([x, y]);
    }
  }
}
