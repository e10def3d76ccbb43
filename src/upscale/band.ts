/**
 * The blend of tile outputs into finished output rows, in bounded memory (used by {@link upscaleBands}).
 *
 * Tiles come row of tiles by row of tiles, left to right. The weights are known in advance, so each output pixel is
 * final once the last tile with a weight there is added; until then it is a float sum, and after it only its value
 * in the output's depth is kept. Three buffers:
 * - the window: float sums under the current tile, as wide as a tile, sliding right with the tiles;
 * - the seam: float sums of the rows that the next row of tiles adds to, the whole width (about overlap * scale
 *   rows): left of the window they are this row of tiles' sums for the next, right of it the previous one's;
 * - the finished rows: those no later row of tiles adds to, in the output's depth, handed on when their row of
 *   tiles is done.
 * The sums are made in the same order and the same float32 steps as a whole-image float accumulator would make them,
 * so the output is that accumulator's, bit for bit, rounded to 8 or 16 bits (or as float).
 */
import type { AxisLayout } from './tile-layout.js';

/** How finished output rows are kept and handed over: float (not clamped), or clamped and rounded to 8 or 16 bits. */
export type BandDepth = 'float' | 8 | 16;
export type BandSamples = Float32Array | Uint8Array | Uint16Array;

/** Finished output rows `y0 .. y0 + rows - 1`: the first `rows * width * channels` values of `data` (reused later). */
export interface FinishedRows {
  data: BandSamples;
  y0: number;
  rows: number;
}

/** Rows of each buffer of a {@link Blend} over `rows` (the tile rows' layout). */
function bufferRows(rows: AxisLayout): { window: number; seam: number; finished: number } {
  const n = rows.starts.length, height = rows.sum.length;
  let window = 0, seam = 0, finished = 0;
  for (let i = 0; i < n; i++) {
    const next = i + 1 < n ? rows.from[i + 1]! : height;
    window = Math.max(window, rows.to[i]! - rows.from[i]!);
    seam = Math.max(seam, rows.to[i]! - next);
    finished = Math.max(finished, next - rows.from[i]!);
  }
  return { window, seam, finished };
}

/** Bytes a {@link Blend} holds for tile rows laid out as `rows`, tiles `tileWidth` output pixels wide. */
export function blendBytes(rows: AxisLayout, outputWidth: number, tileWidth: number, channels: number, depth: BandDepth): number {
  const r = bufferRows(rows);
  const sample = depth === 'float' ? 4 : depth / 8;
  return (r.window * tileWidth * 4 + r.seam * outputWidth * 4 + r.finished * outputWidth * sample) * channels;
}

export class Blend {
  private readonly width: number;
  private readonly height: number;
  private readonly tileWidth: number;
  private readonly window: Float32Array;
  private readonly seam: Float32Array;
  private readonly finished: BandSamples;
  private readonly max: number;
  /** Tile row and column of the next tile. */
  private row = 0;
  private col = 0;
  /** The current tile row's rows: from `top`, those below `carried` hold sums from above, `next` on go to the seam. */
  private top = 0;
  private end = 0;
  private carried = 0;
  private next = 0;
  /** The window holds columns `left .. right - 1`; the columns left of it are done for this tile row. */
  private left = 0;
  private right = 0;

  constructor(
    private readonly rows: AxisLayout,
    private readonly cols: AxisLayout,
    private readonly scale: number,
    tileWidth: number,
    private readonly channels: number,
    private readonly depth: BandDepth,
  ) {
    this.width = cols.sum.length;
    this.height = rows.sum.length;
    this.tileWidth = tileWidth;
    const r = bufferRows(rows);
    this.window = new Float32Array(r.window * tileWidth * channels);
    this.seam = new Float32Array(r.seam * this.width * channels);
    const n = r.finished * this.width * channels;
    this.finished = depth === 'float' ? new Float32Array(n) : depth === 8 ? new Uint8Array(n) : new Uint16Array(n);
    this.max = depth === 16 ? 65535 : 255;
    this.startRow(0);
  }

  /**
   * Adds the next tile (row-major order), whose model output is `values[3 * q0 ..]` (RGB, `th * scale` rows of
   * `tileWidth`) and, for images with alpha, `alpha[q0 ..]`. Returns the rows it finished when it ends a tile row.
   */
  add(values: Float32Array, q0: number, alpha: Float32Array | undefined): FinishedRows | undefined {
    const { cols, rows, scale: s, channels: C, tileWidth: TW } = this;
    const j = this.col, i = this.row;
    const x = cols.starts[j]!, y = rows.starts[i]!;
    const fx = cols.weights[j]!, fy = rows.weights[i]!;
    this.extend(cols.to[j]!);
    const win = this.window, grey = C <= 2, left = this.left, top = this.top;
    for (let v = 0; v < fy.length; v++) {
      const wv = fy[v]!;
      if (wv === 0) continue;
      const base = (y * s + v - top) * TW + x * s - left;
      for (let u = 0; u < TW; u++) {
        const w = wv * fx[u]!;
        if (w === 0) continue;
        const p = (base + u) * C;
        const q = q0 + v * TW + u;
        if (grey) win[p] = win[p]! + (w * (values[3 * q]! + values[3 * q + 1]! + values[3 * q + 2]!)) / 3;
        else {
          win[p] = win[p]! + w * values[3 * q]!;
          win[p + 1] = win[p + 1]! + w * values[3 * q + 1]!;
          win[p + 2] = win[p + 2]! + w * values[3 * q + 2]!;
        }
        if (alpha) win[p + C - 1] = win[p + C - 1]! + w * alpha[q]!;
      }
    }
    const last = j + 1 === cols.starts.length;
    this.release(last ? this.width : cols.from[j + 1]!);
    this.col++;
    if (!last) return undefined;
    const done = { data: this.finished, y0: this.top, rows: this.next - this.top };
    this.col = 0;
    if (++this.row < rows.starts.length) this.startRow(this.row);
    return done;
  }

  private startRow(i: number): void {
    const { rows } = this;
    this.top = rows.from[i]!;
    this.end = rows.to[i]!;
    this.carried = i > 0 ? Math.max(this.top, rows.to[i - 1]!) : this.top;
    this.next = i + 1 < rows.starts.length ? rows.from[i + 1]! : this.height;
    this.left = this.right = 0;
  }

  /** Widens the window to column `to`: sums from the seam for the carried rows, zeros below. */
  private extend(to: number): void {
    const { channels: C, tileWidth: TW, width: OW } = this;
    if (to - this.left > TW) throw new Error(`Blend: window of ${to - this.left} columns, more than a tile (${TW})`);
    const n = (to - this.right) * C;
    if (n <= 0) return;
    for (let Y = this.top; Y < this.end; Y++) {
      const p = ((Y - this.top) * TW + this.right - this.left) * C;
      if (Y < this.carried) {
        const a = ((Y - this.top) * OW + this.right) * C;
        this.window.set(this.seam.subarray(a, a + n), p);
      } else this.window.fill(0, p, p + n);
    }
    this.right = to;
  }

  /** Columns before `until` are done for this tile row: finished rows are normalised and kept, the seam's saved. */
  private release(until: number): void {
    const { channels: C, tileWidth: TW, width: OW, window: win, finished: fin, max, depth } = this;
    const sx = this.cols.sum, sy = this.rows.sum;
    const n = until - this.left;
    if (n <= 0) return;
    const half = max / 2;
    for (let Y = this.top; Y < this.end; Y++) {
      const base = (Y - this.top) * TW * C;
      if (Y < this.next) {
        for (let X = this.left; X < until; X++) {
          const inv = 1 / (sx[X]! * sy[Y]!);
          const p = base + (X - this.left) * C;
          const o = ((Y - this.top) * OW + X) * C;
          for (let c = 0; c < C; c++) {
            // The float32 value a float output would hold, then rounded as the 8- and 16-bit encoders round.
            const value = Math.fround(win[p + c]! * inv);
            fin[o + c] = depth === 'float' ? value : Math.min(max, Math.max(0, Math.round((value + 1) * half)));
          }
        }
      } else this.seam.set(win.subarray(base, base + n * C), ((Y - this.next) * OW + this.left) * C);
      win.copyWithin(base, base + n * C, base + (this.right - this.left) * C);
    }
    this.left = until;
  }
}
