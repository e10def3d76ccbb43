import type * as tf from '@tensorflow/tfjs-core';
import { conv2dConfig, fusedConv2dConfig } from './conv2d.js';
import { conv2dBackpropFilterConfig } from './conv2d-backprop-filter.js';
import { conv2dBackpropInputConfig } from './conv2d-backprop-input.js';
import { depthwiseBackpropFilterConfig, depthwiseBackpropInputConfig } from './depthwise-backprop.js';
import { identityConfig } from './identity.js';
import { otsrAdamConfig } from './otsr-adam.js';
import { sumConfig } from './sum.js';

/** otsr's wasm kernels, one file each (as tfjs-backend-wasm lays out its own): what wasm-kernels.ts registers. */
export const WASM_KERNEL_CONFIGS: readonly tf.KernelConfig[] = [
  conv2dConfig,
  fusedConv2dConfig,
  conv2dBackpropInputConfig,
  conv2dBackpropFilterConfig,
  sumConfig,
  depthwiseBackpropInputConfig,
  depthwiseBackpropFilterConfig,
  otsrAdamConfig,
  identityConfig,
];
