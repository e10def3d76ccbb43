import type { Sampler } from '../data/sampler.js';
import type { Module } from '../nn/module.js';
import type { TransportCost } from './cost.js';

/**
 * An OT problem: move P (the source) onto Q (the target) at least cost. The solvers only see samplers,
 * so vectors, synthetic images and folders of photos are handled alike.
 */
export interface OtProblem {
  /** P: e.g. LR images [B,h,w,3], or vectors [B,d]. */
  source: Sampler;
  /** Q: e.g. HR images [B,hs,ws,3], or vectors [B,d]. */
  target: Sampler;
  /** c(x, T(x)). */
  cost: TransportCost;
}

/** The networks a solver trains; it updates their weights in place and never disposes them. */
export interface OtNetworks {
  /** T: a batch from P to a batch in Q's space. */
  map: Module;
  /** f: a batch in Q's space to one value per sample ([B] or [B,1]). */
  potential: Module;
}
