import { I32, WasmFunction } from './encoder.js';

/**
 * `addressTable(table, batch, gridH, gridW, stepH, stepW, tapsH, tapsW, dilationH, dilationW, top, left,
 * height, width, base, pixelBytes, fallback)`: the i32 addresses a conv's rows gather from, for every image
 * b, grid point (gh, gw) and tap (kh, kw), in that order: pixel (r, c) = (gh·stepH - top + kh·dilationH,
 * gw·stepW - left + kw·dilationW) of the NHWC image at `base` (height x width pixels of `pixelBytes`), or
 * `fallback` where (r, c) lies outside it (padding: the address of a zero run, or of a scratch run for
 * stores). The direct conv's rows (grid = output pixels, step = stride, taps = the filter's) and Winograd's
 * tiles (grid = tiles, step = tile size) both use it: built in JS, these tables cost 0.1-2 ms per call,
 * depending on how far V8 had optimised the loop.
 */
export function addressTableFunction(): WasmFunction {
  const f = new WasmFunction(Array<typeof I32>(17).fill(I32));
  const [table, batch, gridH, gridW, stepH, stepW, tapsH, tapsW, dilationH, dilationW, top, left, height, width, base, pixelBytes, fallback] =
    Array.from({ length: 17 }, (_, i) => i) as [number, number, number, number, number, number, number, number, number, number, number, number, number, number, number, number, number];
  const b = f.local(I32);
  const gh = f.local(I32);
  const gw = f.local(I32);
  const kh = f.local(I32);
  const kw = f.local(I32);
  const r = f.local(I32);
  const c = f.local(I32);
  const rowInside = f.local(I32);
  const rowAt = f.local(I32);
  const at = f.local(I32); // next entry
  f.get(table).set(at);
  f.i32Const(0).set(b);
  f.loop(); // images
  f.i32Const(0).set(gh);
  f.loop(); // grid rows
  f.i32Const(0).set(gw);
  f.loop(); // grid columns
  f.i32Const(0).set(kh);
  f.loop(); // tap rows
  // r = gh·stepH - top + kh·dilationH; inside when 0 <= r < height (one unsigned compare)
  f.get(gh).get(stepH).i32Mul().get(top).i32Sub().get(kh).get(dilationH).i32Mul().i32Add().set(r);
  f.get(r).get(height).i32LtU().set(rowInside);
  f.get(b).get(height).i32Mul().get(r).i32Add().get(width).i32Mul().get(pixelBytes).i32Mul().get(base).i32Add().set(rowAt);
  f.i32Const(0).set(kw);
  f.loop(); // tap columns
  f.get(gw).get(stepW).i32Mul().get(left).i32Sub().get(kw).get(dilationW).i32Mul().i32Add().set(c);
  f.get(at);
  f.get(rowAt).get(c).get(pixelBytes).i32Mul().i32Add();
  f.get(fallback);
  f.get(rowInside).get(c).get(width).i32LtU().i32And();
  f.select().i32Store();
  f.get(at).i32Const(4).i32Add().set(at);
  f.get(kw).i32Const(1).i32Add().tee(kw).get(tapsW).i32LtU().brIf(0);
  f.end();
  f.get(kh).i32Const(1).i32Add().tee(kh).get(tapsH).i32LtU().brIf(0);
  f.end();
  f.get(gw).i32Const(1).i32Add().tee(gw).get(gridW).i32LtU().brIf(0);
  f.end();
  f.get(gh).i32Const(1).i32Add().tee(gh).get(gridH).i32LtU().brIf(0);
  f.end();
  f.get(b).i32Const(1).i32Add().tee(b).get(batch).i32LtU().brIf(0);
  f.end();
  return f;
}
