/** Neural optimal transport: costs, problems and solvers (OTS / NOT and the regularized GAN baseline). */
export { Adam, type AdamOptions, type AdamState, disposeAdamState } from './adam.js';
export {
  type CostName,
  type CostState,
  L1Cost,
  QuadraticCost,
  type Reduction,
  type Reference,
  PooledCost,
  ReferenceCost,
  type ReferenceCostOptions,
  type TransportCost,
  makeCost,
} from './cost.js';
export { MapAverage } from './map-average.js';
export { NeuralOT, type NeuralOTOptions } from './neural-ot.js';
export type { OtNetworks, OtProblem } from './problem.js';
export { RegularizedGAN, type RegularizedGANOptions } from './regularized-gan.js';
export {
  type CommonSolverOptions,
  type FitOptions,
  type OtProgress,
  type OtResult,
  OtSolver,
  type SolverState,
  type StepLosses,
  disposeSolverState,
} from './solver.js';
