import * as tf from '@tensorflow/tfjs-core';
import { potentialObjective } from './objectives.js';
import type { OtNetworks, OtProblem } from './problem.js';
import { type CommonSolverOptions, OtSolver, type StepLosses, positiveInteger, readScalar } from './solver.js';

/** NeuralOT's Adam (beta1, beta2): the reference code's torch defaults. */
export const NEURAL_OT_BETAS: readonly [number, number] = [0.9, 0.999];

export interface NeuralOTOptions extends CommonSolverOptions {
  /** k: map updates per potential update. Default 10. */
  mapSteps?: number;
  /**
   * Weight w of the transport cost in the map's loss, E[w·c(x, T(x)) − f(T(x))]. Any w > 0 has the same OT
   * map (only the potential scales with w), but a larger w keeps the map near the cost's reference while
   * the potential is still weak: steadier early training. Default 1.
   */
  costWeight?: number;
  /**
   * γ of the R1 penalty γ/2·E|∇f(y)|² on the potential at the target samples (see potentialObjective).
   * Default 0: the paper's unpenalised potential.
   */
  potentialPenalty?: number;
}

/**
 * Neural optimal transport (the paper's OTS; Korotin et al.'s NOT): the saddle point
 *
 *     max_f min_T  E_{x~P}[ c(x, T(x)) − f(T(x)) ] + E_{y~Q}[ f(y) ]
 *
 * solved by alternating k map updates and one potential update, Adam on both, no gradient penalty. At the
 * optimum T is an OT map from P to Q for the cost c and T#P = Q (no bias). Adam betas default to (0.9, 0.999).
 */
export class NeuralOT extends OtSolver {
  readonly kind = 'ots' as const;
  readonly mapSteps: number;
  readonly costWeight: number;
  readonly potentialPenalty: number;

  constructor(problem: OtProblem, networks: OtNetworks, options: NeuralOTOptions = {}) {
    // Checked before super(), which allocates the optimizers.
    const mapSteps = positiveInteger('mapSteps', options.mapSteps ?? 10);
    const costWeight = options.costWeight ?? 1;
    if (!(costWeight > 0 && Number.isFinite(costWeight))) throw new Error(`costWeight must be a positive number, got ${costWeight}`);
    const potentialPenalty = options.potentialPenalty ?? 0;
    if (!(potentialPenalty >= 0 && Number.isFinite(potentialPenalty))) throw new Error(`potentialPenalty must be a number >= 0, got ${potentialPenalty}`);
    super(problem, networks, options, [...NEURAL_OT_BETAS]);
    this.mapSteps = mapSteps;
    this.costWeight = costWeight;
    this.potentialPenalty = potentialPenalty;
  }

  protected async runStep(): Promise<Omit<StepLosses, 'step'>> {
    let mapLoss = 0;
    let cost = 0;
    for (let i = 0; i < this.mapSteps; i++) {
      const r = await this.mapUpdate(this.costWeight);
      mapLoss += r.loss / this.mapSteps;
      cost += r.cost / this.mapSteps;
    }
    const { loss: potentialLoss, r1 } = await this.potentialUpdate();
    return { mapLoss, potentialLoss, cost, ...(this.potentialPenalty > 0 ? { gradientPenalty: r1 } : {}) };
  }

  /** One update of f on E_P[f(T(x))] − E_Q[f(y)] (i.e. gradient ascent on the dual objective), R1-penalised if asked. */
  private async potentialUpdate(): Promise<{ loss: number; r1: number }> {
    const x = await this.draw('source');
    const y = await this.draw('target');
    try {
      const [loss, r1] = tf.tidy(() => {
        let r1: tf.Scalar | undefined;
        const { value, grads } = tf.variableGrads(() => {
          const r = potentialObjective(this.map, this.potential, x, y, this.potentialPenalty);
          r1 = tf.keep(r.r1);
          return r.loss;
        }, this.potential.trainableVariables());
        this.potentialOptimizer.applyGradients(grads);
        return [value, r1!];
      });
      return { loss: await readScalar(loss), r1: await readScalar(r1) };
    } finally {
      tf.dispose([x, y]);
    }
  }
}
