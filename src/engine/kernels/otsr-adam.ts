import type * as tf from '@tensorflow/tfjs-core';
import { withKernelCalls } from '../kernel-calls.js';
import type { AdamScalars } from '../wasm/simd-kernels.js';
import { type KernelArgs, WASM, wasmKernel } from './stock.js';

/** The name of otsr's fused Adam kernel (registered for wasm; src/ot/adam.ts uses it where it exists). */
export const FUSED_ADAM = 'OtsrAdam';

/**
 * One Adam update of a parameter in one pass: inputs {p, m, v, g} (float32, one shape), attrs
 * {@link AdamScalars}; outputs [p', m', v'] (new tensors: the caller assigns them to its variables, which
 * keeps the update functional, so a tensor that shares a variable's data, as a saved state does, is never
 * written). SIMD over whole quads of floats (wasm/adam.ts); the last 1-3 floats in JS, rounded to float32
 * after each operation, as the SIMD code does.
 */
function fusedAdam(args: KernelArgs): tf.TensorInfo[] {
  const { p, m, v, g } = args.inputs as Record<'p' | 'm' | 'v' | 'g', tf.TensorInfo>;
  const h = args.attrs as unknown as AdamScalars;
  const size = p.shape.reduce((a, b) => a * b, 1);
  for (const t of [m, v, g]) {
    if (t.shape.reduce((a, b) => a * b, 1) !== size || t.dtype !== 'float32') throw new Error(`${FUSED_ADAM}: p, m, v and g must be float32 of one size`);
  }
  return withKernelCalls(args.backend, WASM, (calls) => {
    const outs = [calls.empty(p.shape), calls.empty(p.shape), calls.empty(p.shape)] as const;
    const [pOut, mOut, vOut] = outs;
    const at = { p: calls.address(p), m: calls.address(m), v: calls.address(v), g: calls.address(g) };
    calls.simd().adam({ ...at, pOut: calls.address(pOut), mOut: calls.address(mOut), vOut: calls.address(vOut) }, size, h);
    const rest = size - (size % 4);
    if (rest < size) {
      const [pv, mv, vv, gv, po, mo, vo] = [p, m, v, g, pOut, mOut, vOut].map((t) => calls.view(t));
      const f = Math.fround;
      const [b1, b2, c1, c2, lr, inv, eps] = [h.beta1, h.beta2, h.c1, h.c2, h.stepSize, h.invSqrtBc2, h.eps].map(f) as number[];
      for (let i = rest; i < size; i++) {
        const gi = gv![i]!;
        const m1 = f(f(b1! * mv![i]!) + f(c1! * gi));
        const v1 = f(f(b2! * vv![i]!) + f(c2! * f(gi * gi)));
        mo![i] = m1;
        vo![i] = v1;
        po![i] = f(pv![i]! - f(lr! * f(m1 / f(f(f(Math.sqrt(v1)) * inv!) + eps!))));
      }
    }
    return outs.map((t) => calls.keep(t));
  });
}

export const otsrAdamConfig = wasmKernel(FUSED_ADAM, fusedAdam);
