/** Where the tiles go along each axis, and their blend weights: the geometry {@link upscaleBands} works with. */

/** Starts of `size`-long windows that cover `length` with neighbours sharing at least `overlap`, evenly spread. */
export function tileStarts(length: number, size: number, overlap: number): number[] {
  if (length <= size) return [0];
  const count = Math.ceil((length - overlap) / (size - overlap));
  return Array.from({ length: count }, (_, i) => Math.round((i * (length - size)) / (count - 1)));
}

/**
 * Blend weight along one axis of a tile's output: 1 inside, falling to 0 towards an edge shared with another
 * tile (never towards the image border, where the tile sees exactly what the whole image would).
 * @param start tile start (LR), `size` tile side (LR), `length` image side (LR).
 */
export function axisWeights(start: number, size: number, length: number, scale: number, overlap: number): Float32Array {
  const margin = overlap / 4;
  const ramp = overlap / 2;
  const leftShared = start > 0;
  const rightShared = start + size < length;
  const n = size * scale;
  const w = new Float32Array(n);
  const side = (d: number) => {
    if (d <= margin) return 0;
    if (d >= margin + ramp) return 1;
    return 0.5 - 0.5 * Math.cos((Math.PI * (d - margin)) / ramp);
  };
  for (let u = 0; u < n; u++) {
    // Distance of the output pixel's centre to each edge, in LR pixels.
    const dl = (u + 0.5) / scale;
    const dr = size - dl;
    w[u] = (leftShared ? side(dl) : 1) * (rightShared ? side(dr) : 1);
  }
  return w;
}

/** The tiles along one axis, in output pixels. */
export interface AxisLayout {
  /** Tile starts (LR). */
  starts: number[];
  /** Each tile's blend weights ({@link axisWeights}). */
  weights: Float32Array[];
  /** Sum of the weights at each output pixel (the blend divides by it). */
  sum: Float64Array;
  /** Where each tile's weight is not 0: output pixels `from[k] .. to[k] - 1`. Both grow with k. */
  from: number[];
  to: number[];
}

/** {@link AxisLayout} of `size`-long tiles over `length` LR pixels, upscaled `scale` times. */
export function axisLayout(length: number, size: number, scale: number, overlap: number): AxisLayout {
  const starts = tileStarts(length, size, overlap);
  const weights = starts.map((start) => axisWeights(start, size, length, scale, overlap));
  const sum = new Float64Array(length * scale);
  const from: number[] = [], to: number[] = [];
  starts.forEach((start, k) => {
    const w = weights[k]!;
    w.forEach((v, u) => (sum[start * scale + u] = sum[start * scale + u]! + v));
    let a = 0, b = w.length;
    while (a < b && w[a] === 0) a++;
    while (b > a && w[b - 1] === 0) b--;
    from.push(start * scale + a);
    to.push(start * scale + b);
  });
  return { starts, weights, sum, from, to };
}
