/**
 * Index arithmetic for computing convolution gradients with forward convolutions (one spatial axis at a
 * time; the two axes are independent).
 *
 * A forward conv along one axis reads, for output `o` and tap `k`, input row `i = o*s + k*d - padBefore`
 * (stride `s`, dilation `d`). Its input gradient is `dx[i] = Σ dy[o]·w[k]` over the (o, k) with that `i`.
 * Split `i` by its phase `r = i mod s`: for `i = r + s*q`, only the taps `k` with
 * `(r + padBefore - k*d) ≡ 0 (mod s)` contribute, at `o = q + (r + padBefore - k*d)/s`. Those taps are
 * `s/gcd(s,d)` apart, so each phase is a stride-1 correlation of `dy` with the reversed sub-filter of its
 * taps and dilation `d/gcd(s,d)`: s² small forward convs instead of one conv of a zero-stuffed `dy`, so no
 * multiply is wasted on inserted zeros.
 */

/** One phase of the input gradient along one axis, as a stride-1 correlation of a window of `dy`. */
export interface GradPhase {
  /** The phase: it produces input rows r, r + s, r + 2s, ... */
  r: number;
  /** Filter taps (ascending) that reach this phase; empty when none does (the phase is all zeros). */
  taps: number[];
  /** Dilation of the sub-filter (distance in `dy` between consecutive taps). */
  dilation: number;
  /** First row of `dy` read. */
  start: number;
  /** Number of rows of `dy` read (rows start .. start + length - 1). */
  length: number;
  /** Zero rows before / after the window, so the correlation yields exactly `count` rows. */
  padBefore: number;
  padAfter: number;
}

function gcd(a: number, b: number): number {
  while (b !== 0) [a, b] = [b, a % b];
  return a;
}

/**
 * The phases of the input gradient along one axis. Every phase yields `count = ceil(inSize / s)` rows
 * (rows past `inSize` are computed and later cropped), so that all phases interleave into one tensor.
 *
 * @param inSize rows of the forward input (`x`)
 * @param outSize rows of the forward output (`dy`)
 * @param filterSize taps of the filter
 * @param stride forward stride
 * @param dilation forward dilation
 * @param padBefore forward zero padding before the first row
 */
export function inputGradPhases(
  inSize: number,
  outSize: number,
  filterSize: number,
  stride: number,
  dilation: number,
  padBefore: number,
): { count: number; phases: GradPhase[] } {
  const count = Math.ceil(inSize / stride);
  const subDilation = dilation / gcd(stride, dilation);
  const phases: GradPhase[] = [];
  for (let r = 0; r < stride; r++) {
    const taps: number[] = [];
    for (let k = 0; k < filterSize; k++) if ((((r + padBefore - k * dilation) % stride) + stride) % stride === 0) taps.push(k);
    const empty: GradPhase = { r, taps: [], dilation: 1, start: 0, length: 0, padBefore: 0, padAfter: 0 };
    if (taps.length === 0) {
      phases.push(empty);
      continue;
    }
    // dy row read by tap k for q = 0 is c(k) = (r + padBefore - k*d)/s; it falls as k grows.
    const cFirst = (r + padBefore - taps[0]! * dilation) / stride;
    const cLast = (r + padBefore - taps[taps.length - 1]! * dilation) / stride;
    const start = Math.max(0, cLast);
    const end = Math.min(outSize, count + cFirst);
    if (end <= start) {
      phases.push({ ...empty, taps: [] });
      continue;
    }
    const padBeforeDy = Math.max(0, -cLast);
    const length = end - start;
    const padAfterDy = count + (taps.length - 1) * subDilation - padBeforeDy - length;
    phases.push({ r, taps, dilation: subDilation, start, length, padBefore: padBeforeDy, padAfter: padAfterDy });
  }
  return { count, phases };
}

/**
 * Geometry of the filter gradient as one VALID-style forward conv along one axis: the input rows
 * (after `padBefore` zeros, keeping `used` rows of `x` and adding `padAfter` zeros) correlated with `dy`
 * as the filter (dilation = forward stride) at stride = forward dilation give exactly `filterSize` rows.
 */
export function filterGradGeometry(
  inSize: number,
  outSize: number,
  filterSize: number,
  stride: number,
  dilation: number,
  padBefore: number,
): { used: number; padBefore: number; padAfter: number } {
  // `used` <= 0 means every tap only ever reads padding: the gradient is zero.
  const needed = (filterSize - 1) * dilation + (outSize - 1) * stride + 1;
  const after = needed - padBefore - inSize;
  return { used: after < 0 ? inSize + after : inSize, padBefore, padAfter: Math.max(0, after) };
}
