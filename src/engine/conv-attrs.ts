import * as tf from '@tensorflow/tfjs-core';

type Pad = 'valid' | 'same' | number | tf.backend_util.ExplicitPadding;

/**
 * Attributes of the conv backprop kernels. `dilations` is otsr's extension: tfjs-core's own gradients
 * never pass it (they refuse dilated convs); otsr's Conv2D gradient does (see gradients.ts).
 */
export interface ConvBackpropAttrs {
  strides: number | [number, number];
  pad: Pad;
  dataFormat?: 'NHWC' | 'NCHW';
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
  dilations?: number | [number, number];
}

/** The forward conv's geometry for backprop kernel `kernel` (NHWC only; `depthwise`: the filter is [fh, fw, C, m]). */
export function backpropConvInfo(
  inShape: readonly number[],
  filterShape: readonly number[],
  attrs: ConvBackpropAttrs,
  kernel: string,
  depthwise = false,
): tf.backend_util.Conv2DInfo {
  if (attrs.dataFormat === 'NCHW') throw new Error(`otsr's ${kernel} supports only dataFormat NHWC`);
  return tf.backend_util.computeConv2DInfo(
    [...inShape] as [number, number, number, number],
    [...filterShape] as [number, number, number, number],
    attrs.strides,
    attrs.dilations ?? 1,
    attrs.pad,
    attrs.dimRoundingMode,
    depthwise,
    'channelsLast',
  );
}
