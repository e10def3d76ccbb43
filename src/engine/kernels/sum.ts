import * as tf from '@tensorflow/tfjs-core';
import { withKernelCalls } from '../kernel-calls.js';
import { type KernelArgs, WASM, runStock, wasmKernel } from './stock.js';

/** Rows summed in float32 by the SIMD kernel before the partial sums are added in float64. */
const SUM_BLOCK_ROWS = 256;

/**
 * Sum over leading axes (the bias gradient of a conv sums dy over batch, rows and columns): column sums,
 * by a SIMD kernel over blocks of rows in float32 (wasm/layout.ts) and in float64 across blocks, or in JS
 * with float64 accumulators when the columns are not a multiple of 4. The stock kernel first transposes
 * the reduced axes innermost, which costs more than the sum. Every other Sum goes to the stock kernel.
 */
function sum(args: KernelArgs): tf.TensorInfo {
  const { x } = args.inputs as { x: tf.TensorInfo };
  const { axis, keepDims } = args.attrs as unknown as { axis: number | number[]; keepDims: boolean };
  const axes = tf.util.parseAxisParam(axis, x.shape).sort((a, b) => a - b);
  const leading = axes.length > 0 && axes.length < x.shape.length && axes.every((a, i) => a === i);
  if (x.dtype !== 'float32' || !leading) return runStock('Sum', args);
  return withKernelCalls(args.backend, WASM, (calls) => {
    const kept = x.shape.slice(axes.length);
    const cols = kept.reduce((a, b) => a * b, 1);
    const rows = x.shape.slice(0, axes.length).reduce((a, b) => a * b, 1);
    const out = calls.empty(keepDims ? [...axes.map(() => 1), ...kept] : kept);
    const acc = new Float64Array(cols);
    if (cols % 4 === 0) {
      const partial = calls.empty([cols]);
      const simd = calls.simd();
      const [src, to] = [calls.address(x), calls.address(partial)];
      const block = calls.view(partial); // no allocation below: the view stays valid
      for (let r0 = 0; r0 < rows; r0 += SUM_BLOCK_ROWS) {
        simd.columnSums(src + r0 * cols * 4, Math.min(SUM_BLOCK_ROWS, rows - r0), cols, to);
        for (let c = 0; c < cols; c++) acc[c]! += block[c]!;
      }
    } else {
      const src = calls.view(x);
      for (let r = 0, i = 0; r < rows; r++) for (let c = 0; c < cols; c++, i++) acc[c]! += src[i]!;
    }
    calls.view(out).set(acc);
    return calls.keep(out);
  });
}

export const sumConfig = wasmKernel('Sum', sum);
