import { F32, I32, V128, WasmFunction } from './encoder.js';

/**
 * `adam(p, m, v, g, quads, beta1, beta2, c1, c2, stepSize, invSqrtBc2, eps, pOut, mOut, vOut)`: one Adam
 * update of 4·quads floats in one pass (addresses in bytes):
 *   m' = beta1·m + c1·g,  v' = beta2·v + c2·g²,  p' = p - stepSize · m' / (sqrt(v')·invSqrtBc2 + eps),
 * each operation rounded to float32 in the order src/ot/adam.ts writes it with tf ops, so the result is the
 * same bit for bit (no FMA here). As separate tf ops the update is ~10 kernels, each a pass over the
 * parameters with its own output allocated (~30 ms of the reference EDSR step).
 */
export function adamFunction(): WasmFunction {
  const f = new WasmFunction([I32, I32, I32, I32, I32, F32, F32, F32, F32, F32, F32, F32, I32, I32, I32]);
  const [p, m, v, g, quads, beta1, beta2, c1, c2, stepSize, invSqrtBc2, eps, pOut, mOut, vOut] = Array.from({ length: 15 }, (_, i) => i) as [
    number, number, number, number, number, number, number, number, number, number, number, number, number, number, number,
  ];
  const splats = [beta1, beta2, c1, c2, stepSize, invSqrtBc2, eps].map((param) => {
    const local = f.local(V128);
    f.get(param).f32x4Splat().set(local);
    return local;
  });
  const [b1, b2, k1, k2, lr, inv, e] = splats as [number, number, number, number, number, number, number];
  const at = f.local(I32);
  const end = f.local(I32);
  const gv = f.local(V128);
  const m1 = f.local(V128);
  const v1 = f.local(V128);
  f.i32Const(0).set(at);
  f.get(quads).i32Const(16).i32Mul().set(end);
  f.block();
  f.get(quads).i32Const(0).i32Eq().brIf(0);
  f.loop();
  f.get(g).get(at).i32Add().v128Load(0).set(gv);
  // m' = beta1·m + c1·g
  f.get(b1).get(m).get(at).i32Add().v128Load(0).f32x4Mul().get(k1).get(gv).f32x4Mul().f32x4Add().set(m1);
  // v' = beta2·v + c2·(g·g)
  f.get(b2).get(v).get(at).i32Add().v128Load(0).f32x4Mul().get(k2).get(gv).get(gv).f32x4Mul().f32x4Mul().f32x4Add().set(v1);
  f.get(mOut).get(at).i32Add().get(m1).v128Store(0);
  f.get(vOut).get(at).i32Add().get(v1).v128Store(0);
  // p' = p - stepSize·(m' / (sqrt(v')·invSqrtBc2 + eps))
  f.get(pOut).get(at).i32Add();
  f.get(p).get(at).i32Add().v128Load(0);
  f.get(lr).get(m1).get(v1).f32x4Sqrt().get(inv).f32x4Mul().get(e).f32x4Add().f32x4Div().f32x4Mul();
  f.f32x4Sub().v128Store(0);
  f.get(at).i32Const(16).i32Add().tee(at).get(end).i32LtU().brIf(0);
  f.end();
  f.end();
  return f;
}
