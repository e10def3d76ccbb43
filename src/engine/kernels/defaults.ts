import type { FilterGradStrategy } from '../conv-backprop-filter.js';
import type { ConvMethod } from '../conv-forward.js';

/**
 * The methods of calls that do not choose their own (a `convMethod` / `filterGradStrategy` attr): `auto`
 * picks per layer. Benchmarks and tests set them to compare methods over whole models, where tf ops carry
 * no per-call options.
 */
export const methodDefaults: { conv: ConvMethod | 'auto'; filterGrad: FilterGradStrategy } = { conv: 'auto', filterGrad: 'auto' };

/**
 * Forces the forward-conv method of every conv that follows, the input gradient's included (Winograd
 * methods fall back to direct where they do not apply); `auto` picks per layer (convMethodFor). Returns the
 * previous setting.
 */
export function setConvMethod(method: ConvMethod | 'auto'): ConvMethod | 'auto' {
  const previous = methodDefaults.conv;
  methodDefaults.conv = method;
  return previous;
}

/** The filter-gradient method of every call that does not pass its own; `auto` picks per layer. */
export function setFilterGradStrategy(strategy: FilterGradStrategy): void {
  methodDefaults.filterGrad = strategy;
}
