import * as tf from '@tensorflow/tfjs-core';
import { UsageError } from '../errors.js';
import { Rng } from '../util/rng.js';
import { type ArchSpec, Module, torchDefaultUniform } from './module.js';
import { convSame, pixelShuffle, resizeConvFilter } from './ops.js';

/** Upsamples an NHWC image batch by an integer factor (e.g. bicubic); used for the global skip. */
export type Upsampler = (x: tf.Tensor4D, scale: number) => tf.Tensor4D;

export type EdsrScale = 2 | 3 | 4 | 8;

export type EdsrUpsampling = 'hr' | 'lr' | 'resize';
export const EDSR_UPSAMPLINGS: readonly EdsrUpsampling[] = ['hr', 'lr', 'resize'];

export interface EdsrOptions {
  /** Residual blocks in the body (EDSR-baseline: 16; the OT-SR paper: 64). */
  nResBlocks: number;
  /** Feature maps (EDSR-baseline: 64; the OT-SR paper: 128). */
  nFeats: number;
  /** Each block's residual is multiplied by this before it is added (EDSR: 0.1 for wide models, else 1). */
  resScale?: number;
  /** Upscaling factor. */
  scale: EdsrScale;
  /** Seed of the weight initialisation. */
  seed?: number;
  /**
   * `'upsample'` adds `upsampler(x, scale)` to the output, so the network learns a correction of, e.g.,
   * bicubic upsampling; its tail conv then starts at zero, so that the map starts as the upsampler, and its
   * pixel-shuffle convs start ICNR (no checkerboard).
   */
  skip?: 'none' | 'upsample';
  /** Needed when `skip` is `'upsample'` (e.g. the tensor bicubic resize). Not saved with the model. */
  upsampler?: Upsampler;
  /**
   * Where the upscaling happens. `'hr'` (EDSR's): conv + pixel shuffle x2 per factor of 2, then a tail conv at
   * HR resolution. `'lr'` (ESPCN's, as the efficient-SR networks IMDN and RFDN): one conv at LR resolution to
   * 3·s² channels and a single pixel shuffle, so that every conv runs at LR resolution: about half the
   * FLOPs of a 6x32 EDSR at x4, spent on a deeper body instead. `'resize'` (ESRGAN's, against checkerboards:
   * Odena et al. 2016): nearest-neighbour x2 (or x3) then a conv, per factor, then the HR tail conv; the same
   * FLOPs as `'hr'` (it runs as a pixel shuffle whose sub-pixel filters are tied: ops.ts' resizeConvFilter), but a
   * region of constant features upsamples to a constant, where a pixel shuffle's sub-pixels each have their own
   * filter and can paint a grid at its period on smooth areas. Default `'hr'`.
   */
  upsampling?: EdsrUpsampling;
}

export const EDSR_SCALES: readonly EdsrScale[] = [2, 3, 4, 8];

/**
 * EDSR (Lim et al. 2017) on NHWC images in [-1, 1]: [B, h, w, 3] -> [B, h·s, w·s, 3].
 *
 * head conv 3×3 -> n residual blocks (conv-ReLU-conv, × resScale, + input) -> body conv + long skip ->
 * upsampler (conv to 4·F channels + pixel shuffle ×2 per factor of 2, or one conv to 9·F + shuffle ×3) ->
 * tail conv to 3 channels. No mean shift (the data are already centred in [-1, 1]). Weights and biases
 * start as PyTorch's defaults (uniform ±1/√fanIn), as in the reference OT-SR code (G_init=None).
 */
export class Edsr extends Module {
  readonly spec: ArchSpec;
  readonly scale: EdsrScale;
  private readonly resScale: number;
  private readonly upsampler: Upsampler | undefined;
  private readonly head: Conv;
  private readonly blocks: { c1: Conv; c2: Conv }[] = [];
  private readonly bodyConv: Conv;
  private readonly ups: { conv: Conv; factor: number }[] = [];
  private readonly tail: Conv;
  private readonly lrTail: boolean;
  private readonly resize: boolean;

  constructor(options: EdsrOptions) {
    super();
    const { nResBlocks, nFeats, resScale = 1, scale, seed = 0, skip = 'none', upsampler, upsampling = 'hr' } = options;
    checkInt('nResBlocks', nResBlocks, 0);
    checkInt('nFeats', nFeats, 1);
    if (!(Number.isFinite(resScale) && resScale > 0)) throw new UsageError(`edsr: resScale must be > 0, got ${resScale}`);
    if (!EDSR_SCALES.includes(scale)) throw new UsageError(`edsr: scale must be one of ${EDSR_SCALES.join(', ')}, got ${scale}`);
    if (skip !== 'none' && skip !== 'upsample') throw new UsageError(`edsr: skip must be 'none' or 'upsample', got ${String(skip)}`);
    if (skip === 'upsample' && upsampler === undefined) {
      throw new UsageError("edsr: skip 'upsample' needs an upsampler function (options.upsampler)");
    }
    if (!EDSR_UPSAMPLINGS.includes(upsampling)) {
      throw new UsageError(`edsr: upsampling must be one of ${EDSR_UPSAMPLINGS.join(', ')}, got ${String(upsampling)}`);
    }
    // 'hr' is left out of the spec, so that models saved before the option existed keep their spec.
    this.spec = { kind: 'edsr', nResBlocks, nFeats, resScale, scale, skip, ...(upsampling !== 'hr' ? { upsampling } : {}) };
    this.lrTail = upsampling === 'lr';
    this.resize = upsampling === 'resize';
    this.scale = scale;
    this.resScale = resScale;
    this.upsampler = skip === 'upsample' ? upsampler : undefined;

    const rng = new Rng(seed);
    const conv = (name: string, cin: number, cout: number, gain = 1): Conv => {
      const fanIn = 9 * cin;
      const w = torchDefaultUniform(rng, fanIn * cout, fanIn);
      if (gain !== 1) for (let i = 0; i < w.length; i++) w[i]! *= gain;
      const b = torchDefaultUniform(rng, cout, fanIn);
      if (gain !== 1) b.fill(0);
      return { w: this.param(`${name}.w`, [3, 3, cin, cout], w), b: this.param(`${name}.b`, [cout], b) };
    };
    // ICNR (Aitken et al. 2017): every sub-pixel of a pixel shuffle starts with the same filter, so the
    // upsampler starts as nearest-neighbour instead of a checkerboard that training must first undo.
    const icnrConv = (name: string, cin: number, factor: number): Conv => {
      const one = torchDefaultUniform(rng, 9 * cin * cin, 9 * cin);
      const oneBias = torchDefaultUniform(rng, cin, 9 * cin);
      const subPixels = factor * factor;
      const w = new Float32Array(one.length * subPixels);
      const b = new Float32Array(cin * subPixels);
      // Out channel (k·cin + c) of the conv becomes channel c of sub-pixel k after the shuffle.
      for (let tap = 0; tap < 9 * cin; tap++) {
        for (let k = 0; k < subPixels; k++) w.set(one.subarray(tap * cin, (tap + 1) * cin), (tap * subPixels + k) * cin);
      }
      for (let k = 0; k < subPixels; k++) b.set(oneBias, k * cin);
      return { w: this.param(`${name}.w`, [3, 3, cin, subPixels * cin], w), b: this.param(`${name}.b`, [subPixels * cin], b) };
    };
    this.head = conv('head', 3, nFeats);
    for (let i = 0; i < nResBlocks; i++) {
      this.blocks.push({ c1: conv(`body.${i}.conv1`, nFeats, nFeats), c2: conv(`body.${i}.conv2`, nFeats, nFeats) });
    }
    this.bodyConv = conv('body.conv', nFeats, nFeats);
    if (this.lrTail) {
      // With the skip it starts at zero (the map starts as the upsampler); a zero conv needs no ICNR.
      this.tail = conv('tail', nFeats, 3 * scale * scale, skip === 'upsample' ? 0 : 1);
    } else {
      const factors = scale === 3 ? [3] : Array.from({ length: Math.log2(scale) }, () => 2);
      factors.forEach((factor, i) => {
        // A resize conv keeps the feature count; it starts as nearest-neighbour upsampling without ICNR.
        const up = this.resize
          ? conv(`up.${i}`, nFeats, nFeats)
          : skip === 'upsample'
            ? icnrConv(`up.${i}`, nFeats, factor)
            : conv(`up.${i}`, nFeats, factor * factor * nFeats);
        this.ups.push({ conv: up, factor });
      });
      this.tail = conv('tail', nFeats, 3, skip === 'upsample' ? 0 : 1);
    }
  }

  apply(x: tf.Tensor): tf.Tensor4D {
    return tf.tidy(() => {
      const x4 = x as tf.Tensor4D;
      if (x4.rank !== 4 || x4.shape[3] !== 3) throw new Error(`Edsr: expected [B, h, w, 3], got [${x4.shape.join(', ')}]`);
      const h0 = convSame(x4, this.head.w, this.head.b);
      let h = h0;
      for (const { c1, c2 } of this.blocks) {
        let r = convSame(convSame(h, c1.w, c1.b, 'relu'), c2.w, c2.b);
        if (this.resScale !== 1) r = tf.mul(r, this.resScale);
        h = tf.add(h, r);
      }
      h = tf.add(convSame(h, this.bodyConv.w, this.bodyConv.b), h0);
      for (const { conv, factor } of this.ups) {
        const w = this.resize ? resizeConvFilter(conv.w as tf.Tensor4D, factor) : conv.w;
        const b = this.resize ? tf.tile(conv.b, [factor * factor]) : conv.b;
        h = pixelShuffle(convSame(h, w, b), factor);
      }
      let y = this.lrTail ? pixelShuffle(convSame(h, this.tail.w, this.tail.b), this.scale) : convSame(h, this.tail.w, this.tail.b);
      if (this.upsampler) y = tf.add(y, this.upsampler(x4, this.scale));
      return y;
    });
  }
}

interface Conv {
  w: tf.Variable;
  b: tf.Variable;
}

function checkInt(name: string, value: number, min: number): void {
  if (!Number.isInteger(value) || value < min) throw new UsageError(`edsr: ${name} must be an integer >= ${min}, got ${value}`);
}
