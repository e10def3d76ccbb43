import * as tf from '@tensorflow/tfjs-core';
import { Adam } from './adam.js';
import type { OtNetworks, OtProblem } from './problem.js';
import { type CommonSolverOptions, OtSolver, type StepLosses, readScalar } from './solver.js';

export interface NeuralOTOptions extends CommonSolverOptions {
  /** k: map updates per potential update. Default 10. */
  mapSteps?: number;
  /** Adam learning rate of the map. Default 1e-4. */
  mapLr?: number;
  /** Adam learning rate of the potential. Default 1e-4. */
  potentialLr?: number;
  /**
   * Weight w of the transport cost in the map's loss, E[w·c(x, T(x)) − f(T(x))]. Any w > 0 has the same OT
   * map (only the potential scales with w), but a larger w keeps the map near the cost's reference while
   * the potential is still weak: steadier early training. Default 1.
   */
  costWeight?: number;
  /** Adam (beta1, beta2) of both networks. Default (0.9, 0.999), as the reference code's torch defaults. */
  betas?: [number, number];
}

/**
 * Neural optimal transport (the paper's OTS; Korotin et al.'s NOT): the saddle point
 *
 *     max_f min_T  E_{x~P}[ c(x, T(x)) − f(T(x)) ] + E_{y~Q}[ f(y) ]
 *
 * solved by alternating k map updates and one potential update, Adam on both, no gradient penalty. At the
 * optimum T is an OT map from P to Q for the cost c and T#P = Q (no bias).
 */
export class NeuralOT extends OtSolver {
  readonly kind = 'ots' as const;
  readonly mapSteps: number;
  readonly costWeight: number;
  protected readonly mapOptimizer: Adam;
  protected readonly potentialOptimizer: Adam;

  constructor(problem: OtProblem, networks: OtNetworks, options: NeuralOTOptions = {}) {
    super(problem, networks, options);
    this.mapSteps = options.mapSteps ?? 10;
    if (!Number.isInteger(this.mapSteps) || this.mapSteps < 1) throw new Error(`mapSteps must be a positive integer, got ${this.mapSteps}`);
    this.costWeight = options.costWeight ?? 1;
    if (!(this.costWeight > 0 && Number.isFinite(this.costWeight))) throw new Error(`costWeight must be a positive number, got ${this.costWeight}`);
    const [beta1, beta2] = options.betas ?? [0.9, 0.999];
    this.mapOptimizer = new Adam(networks.map.params, { lr: options.mapLr ?? 1e-4, beta1, beta2 });
    this.potentialOptimizer = new Adam(networks.potential.params, { lr: options.potentialLr ?? 1e-4, beta1, beta2 });
  }

  protected async runStep(): Promise<Omit<StepLosses, 'step'>> {
    let mapLoss = 0;
    let cost = 0;
    for (let i = 0; i < this.mapSteps; i++) {
      const r = await this.mapUpdate(this.costWeight);
      mapLoss += r.loss / this.mapSteps;
      cost += r.cost / this.mapSteps;
    }
    const potentialLoss = await this.potentialUpdate();
    return { mapLoss, potentialLoss, cost };
  }

  /** One update of f on E_P[f(T(x))] − E_Q[f(y)] (i.e. gradient ascent on the dual objective). */
  private async potentialUpdate(): Promise<number> {
    const x = await this.draw('source');
    const y = await this.draw('target');
    try {
      const loss = tf.tidy(() => {
        const tx = this.map.apply(x);
        const { value, grads } = tf.variableGrads(
          () => tf.sub(tf.mean(this.potentialOf(tx)), tf.mean(this.potentialOf(y))) as tf.Scalar,
          this.potential.trainableVariables(),
        );
        this.potentialOptimizer.applyGradients(grads);
        return value;
      });
      return await readScalar(loss);
    } finally {
      tf.dispose([x, y]);
    }
  }
}
