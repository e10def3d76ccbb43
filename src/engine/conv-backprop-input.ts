import type * as tf from '@tensorflow/tfjs-core';
import { type ConvBackpropAttrs, backpropConvInfo } from './conv-attrs.js';
import { type GradPhase, inputGradPhases } from './conv-geometry.js';
import type { KernelCalls } from './kernel-calls.js';

type TensorInfo = tf.TensorInfo;

/**
 * The input gradient of an NHWC conv2d (any stride, padding, dilation), from forward convs (otsr's GEMM
 * conv, through the Conv2D kernel).
 *
 * Stride 1: one forward conv of `dy` with the filter rotated 180° and its in/out channels swapped.
 * Stride s: each of the s_h·s_w phases of the output rows/columns is such a stride-1 conv with only the
 * taps that reach it (see conv-geometry.ts), so no multiply is spent on the zeros a strided
 * transposed conv would insert; a JS loop interleaves the phases into the result.
 */
export function conv2dBackpropInput(
  calls: KernelCalls,
  dy: TensorInfo,
  filter: TensorInfo,
  inputShape: [number, number, number, number],
  attrs: ConvBackpropAttrs,
): TensorInfo {
  const info = backpropConvInfo(inputShape, filter.shape, attrs, 'Conv2DBackpropInput');
  const [batch, inH, inW, inC] = inputShape;
  const { filterWidth: fw, outChannels: outC } = info;
  const rows = inputGradPhases(inH, info.outHeight, info.filterHeight, info.strideHeight, info.dilationHeight, info.padInfo.top);
  const cols = inputGradPhases(inW, info.outWidth, fw, info.strideWidth, info.dilationWidth, info.padInfo.left);
  const phaseConv = (a: GradPhase, b: GradPhase): TensorInfo | undefined => {
    if (a.taps.length === 0 || b.taps.length === 0) return undefined;
    const sub = rotatedSubFilter(calls, filter, fw, inC, outC, a.taps, b.taps);
    const window = calls.slice(dy, [0, a.start, b.start, 0], [batch, a.length, b.length, outC]);
    const out = calls.conv2d(window, sub, [1, 1], [a.dilation, b.dilation], [
      [a.padBefore, a.padAfter],
      [b.padBefore, b.padAfter],
    ]);
    calls.free(sub);
    if (window !== dy) calls.free(window);
    return out;
  };
  if (rows.phases.length === 1 && cols.phases.length === 1) {
    const only = phaseConv(rows.phases[0]!, cols.phases[0]!);
    return calls.keep(only ?? calls.zeros([...inputShape]));
  }
  const dx = calls.zeros([...inputShape]);
  for (const a of rows.phases) {
    for (const b of cols.phases) {
      const part = phaseConv(a, b);
      if (part === undefined) continue; // dx is zero-filled already
      interleave(calls.view(part), calls.view(dx), inputShape, [rows.count, cols.count], a.r, b.r, [
        info.strideHeight,
        info.strideWidth,
      ]);
      calls.free(part);
    }
  }
  return calls.keep(dx);
}

/** Copies phase (r, c), [B, countH, countW, C], into rows r + q·sh and columns c + p·sw of dx [B, H, W, C]. */
function interleave(
  part: Float32Array,
  dx: Float32Array,
  [batch, inH, inW, ch]: [number, number, number, number],
  [countH, countW]: [number, number],
  r: number,
  c: number,
  [sh, sw]: [number, number],
): void {
  for (let b = 0; b < batch; b++) {
    for (let q = 0, i = r; q < countH && i < inH; q++, i += sh) {
      let src = ((b * countH + q) * countW) * ch;
      for (let p = 0, j = c; p < countW && j < inW; p++, j += sw, src += ch) {
        const dst = ((b * inH + i) * inW + j) * ch;
        for (let k = 0; k < ch; k++) dx[dst + k] = part[src + k]!;
      }
    }
  }
}

/**
 * `sub[th, tw, co, ci] = filter[tapsH[nh-1-th], tapsW[nw-1-tw], ci, co]`: the selected taps, rotated 180°,
 * with in/out channels swapped. Filters are small, so a JS loop over the wasm heap is cheap.
 */
function rotatedSubFilter(
  calls: KernelCalls,
  filter: TensorInfo,
  fw: number,
  inC: number,
  outC: number,
  tapsH: number[],
  tapsW: number[],
): TensorInfo {
  const [nh, nw] = [tapsH.length, tapsW.length];
  return calls.fromValues([nh, nw, outC, inC], (out) => {
    const w = calls.view(filter);
    for (let th = 0; th < nh; th++) {
      for (let tw = 0; tw < nw; tw++) {
        const src = (tapsH[nh - 1 - th]! * fw + tapsW[nw - 1 - tw]!) * inC * outC;
        const dst = (th * nw + tw) * outC * inC;
        for (let ci = 0; ci < inC; ci++) {
          const s = src + ci * outC;
          for (let co = 0; co < outC; co++) out[dst + co * inC + ci] = w[s + co]!;
        }
      }
    }
  });
}
