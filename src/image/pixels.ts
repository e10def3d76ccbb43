/**
 * Pixels in memory, browser-safe (no sharp, no node:): 8-bit RGB and float images and their [-1, 1]
 * conversions. io.ts (Node, sharp) decodes and encodes files into these; the web page fills them from a
 * canvas.
 */
import * as tf from '@tensorflow/tfjs-core';

/** An 8-bit RGB image, rows top to bottom, pixels interleaved (HWC). */
export interface RgbImage {
  readonly width: number;
  readonly height: number;
  /** width * height * 3 bytes. */
  readonly data: Uint8Array;
  /** width * height bytes of straight (not premultiplied) alpha, when the file has an alpha channel. */
  readonly alpha?: Uint8Array;
}

/** A float image, HWC with `channels` values per pixel, normally in [-1, 1]. */
export interface FloatImage {
  readonly width: number;
  readonly height: number;
  readonly channels: number;
  readonly data: Float32Array;
}

/** 8-bit RGB -> float HWC in [-1, 1] (alpha is dropped). */
export function toFloat(img: RgbImage): FloatImage {
  const src = img.data;
  const out = new Float32Array(src.length);
  for (let i = 0; i < src.length; i++) out[i] = src[i]! / 127.5 - 1;
  return { width: img.width, height: img.height, channels: 3, data: out };
}

/** Float HWC in [-1, 1] (3 channels, or 1 as grey) -> 8-bit RGB, clipped and rounded to nearest. */
export function fromFloat(img: FloatImage): RgbImage {
  const { width, height, channels, data } = img;
  if (channels !== 3 && channels !== 1) throw new RangeError(`fromFloat: expected 1 or 3 channels, got ${channels}`);
  const n = width * height;
  const out = new Uint8Array(n * 3);
  for (let i = 0; i < n; i++) {
    for (let c = 0; c < 3; c++) {
      const v = data[channels === 3 ? 3 * i + c : i]!;
      const b = Math.round((v + 1) * 127.5);
      out[3 * i + c] = b < 0 ? 0 : b > 255 ? 255 : Number.isNaN(b) ? 0 : b;
    }
  }
  return { width, height, data: out };
}

/** 8-bit RGB -> float32 tensor [h, w, 3] in [-1, 1]. The caller disposes it. */
export function imageToTensor(img: RgbImage): tf.Tensor3D {
  return tf.tensor3d(toFloat(img).data, [img.height, img.width, 3], 'float32');
}

/** Float tensor [h, w, 3] (or [1, h, w, 3]) in [-1, 1] -> 8-bit RGB. Does not dispose `t`. */
export async function tensorToImage(t: tf.Tensor): Promise<RgbImage> {
  const shape = t.shape;
  const hwc = shape.length === 4 && shape[0] === 1 ? shape.slice(1) : shape;
  if (hwc.length !== 3 || hwc[2] !== 3) throw new RangeError(`tensorToImage: expected [h, w, 3], got [${shape.join(', ')}]`);
  const data = (await t.data()) as Float32Array;
  return fromFloat({ width: hwc[1]!, height: hwc[0]!, channels: 3, data: Float32Array.from(data) });
}
