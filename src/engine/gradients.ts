import * as tf from '@tensorflow/tfjs-core';
import { otsrKernelActive } from './wasm-kernels.js';

type GradMap = Record<string, () => tf.Tensor>;
type Attrs = Record<string, unknown>;

const isNode = typeof process !== 'undefined' && !!process.versions?.node;

/**
 * tfjs-core's own gradient definitions (Sum, Conv2D, ...). The core package registers none of them by
 * itself (the `@tensorflow/tfjs` union package does); they ship only as ESM files whose relative imports
 * have no `.js` suffix, which bundlers and tsx resolve but plain Node does not. In Node we therefore add a
 * module-resolution hook that appends `.js` to such imports inside tfjs-core's dist folder (only there),
 * then import the registering module. The gradient functions run on the same global engine and
 * registries as the rest of tfjs-core. Idempotent; a no-op where the gradients are already registered.
 */
export async function registerCoreGradients(): Promise<void> {
  if (tf.getGradient('Sum') !== undefined && tf.getGradient('Conv2D') !== undefined) return;
  if (isNode) await installTfjsCoreResolveHook();
  await import('@tensorflow/tfjs-core/dist/register_all_gradients.js');
}

let hookInstalled = false;

async function installTfjsCoreResolveHook(): Promise<void> {
  if (hookInstalled) return;
  hookInstalled = true;
  const { register } = await import('node:module');
  const source = `
export async function resolve(specifier, context, next) {
  const parent = context.parentURL ?? '';
  if (parent.includes('/@tensorflow/tfjs-core/dist/') && /^\\.\\.?\\//.test(specifier) && !/\\.[cm]?js$/.test(specifier)) {
    return next(specifier + '.js', context);
  }
  return next(specifier, context);
}`;
  register(`data:text/javascript,${encodeURIComponent(source)}`);
}

let registered = false;

/**
 * Registers the gradients tfjs-core lacks or gets wrong for otsr's training (idempotent):
 *
 * - DepthToSpace (pixel shuffle): its adjoint, space-to-depth, as reshape/transpose (differentiable again).
 * - For double backprop (gradient penalties), the gradients of ops that appear inside first-order
 *   gradients: comparisons and logical ops (LeakyReLU's gradient uses Greater, Select's uses LogicalNot;
 *   their gradients are zero) and AvgPoolGrad (linear in dy; its adjoint is an average pool).
 * - Conv2D and Conv2DBackpropInput with dilations > 1 (tfjs-core refuses them): on wasm they pass the
 *   dilation to otsr's backprop kernels; elsewhere they use the zero-stuffed filter.
 */
export function registerMissingGradients(): void {
  if (registered) return;
  registered = true;
  tf.registerGradient({ kernelName: 'DepthToSpace', gradFunc: depthToSpaceGrad });
  for (const kernelName of ['Greater', 'Less', 'LessEqual', 'Equal', 'NotEqual', 'LogicalAnd', 'LogicalOr']) {
    tf.registerGradient({
      kernelName,
      inputsToSave: ['a', 'b'],
      gradFunc: (_dy, saved) => ({ a: () => tf.zeros(saved[0]!.shape), b: () => tf.zeros(saved[1]!.shape) }),
    });
  }
  tf.registerGradient({
    kernelName: 'LogicalNot',
    inputsToSave: ['x'],
    gradFunc: (_dy, saved) => ({ x: () => tf.zeros(saved[0]!.shape) }),
  });
  tf.registerGradient({ kernelName: 'AvgPoolGrad', inputsToSave: ['input'], gradFunc: avgPoolGradGrad });
  tf.registerGradient({ kernelName: 'Conv2D', inputsToSave: ['x', 'filter'], gradFunc: conv2dGrad });
  tf.registerGradient({ kernelName: 'Conv2DBackpropInput', inputsToSave: ['dy', 'filter'], gradFunc: conv2dBackpropInputGrad });
}

function depthToSpaceGrad(dy: tf.Tensor | tf.Tensor[], _saved: tf.Tensor[], attrs: Attrs): GradMap {
  const g = dy as tf.Tensor4D;
  const s = attrs.blockSize as number;
  return {
    x: () =>
      tf.tidy(() => {
        if (attrs.dataFormat === 'NCHW') {
          const [b, c, hs, ws] = g.shape;
          const [h, w] = [hs / s, ws / s];
          const t = tf.transpose(tf.reshape(g, [b, c, h, s, w, s]), [0, 3, 5, 1, 2, 4]);
          return tf.reshape(t, [b, s * s * c, h, w]);
        }
        // dy[b, h·s+i, w·s+j, c] -> x[b, h, w, (i·s+j)·C + c]: within each row (b, h), (i, w, j·C+c) -> (w, i, j·C+c).
        const [b, hs, ws, c] = g.shape;
        const [h, w] = [hs / s, ws / s];
        const t = tf.transpose(tf.reshape(g, [b * h, s, w, s * c]), [0, 2, 1, 3]);
        return tf.reshape(t, [b, h, w, s * s * c]);
      }),
  };
}

/**
 * AvgPoolGrad is linear in dy: dx = Aᵀ·dy, where both tfjs backends divide every window by the full filter
 * area (also at padded borders). Its adjoint, A·ddx, is therefore a 'valid' average pool of ddx with the
 * pool's padding added as zeros. The gradient with respect to the (shape-only) input is zero.
 */
function avgPoolGradGrad(ddx: tf.Tensor | tf.Tensor[], saved: tf.Tensor[], attrs: Attrs): GradMap {
  const input = saved[0] as tf.Tensor4D;
  const g = ddx as tf.Tensor4D;
  const filterSize = attrs.filterSize as [number, number] | number;
  const strides = attrs.strides as [number, number] | number;
  const pad = attrs.pad as 'valid' | 'same' | number;
  return {
    dy: () =>
      tf.tidy(() => {
        const info = tf.backend_util.computePool2DInfo(input.shape, filterSize, strides, 1, pad, attrs.dimRoundingMode as 'floor' | undefined);
        const { top, bottom, left, right } = info.padInfo;
        const padded = top || bottom || left || right ? tf.pad(g, [[0, 0], [top, bottom], [left, right], [0, 0]]) : g;
        const pooled = tf.avgPool(padded, [info.filterHeight, info.filterWidth], [info.strideHeight, info.strideWidth], 'valid');
        // A padded input can give one more window than the pool had (rounding); keep the pool's windows.
        return tf.slice(pooled, [0, 0, 0, 0], [-1, info.outHeight, info.outWidth, -1]);
      }),
    input: () => tf.zeros(input.shape),
  };
}

type Pair = [number, number];
const pair = (v: unknown): Pair => (Array.isArray(v) ? [v[0] as number, v[1] as number] : [v as number, v as number]);

function conv2dGrad(dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[], attrs: Attrs): GradMap {
  const [x, filter] = saved as [tf.Tensor4D, tf.Tensor4D];
  const g = dy as tf.Tensor4D;
  const dilations = pair(attrs.dilations ?? 1);
  const common = {
    strides: attrs.strides,
    pad: attrs.pad,
    dataFormat: attrs.dataFormat ?? 'NHWC',
    dimRoundingMode: attrs.dimRoundingMode,
  };
  if ((dilations[0] === 1 && dilations[1] === 1) || otsrKernelActive('Conv2DBackpropInput')) {
    const extra = dilations[0] === 1 && dilations[1] === 1 ? {} : { dilations };
    return {
      x: () => runKernel('Conv2DBackpropInput', { dy: g, filter }, { ...common, ...extra, inputShape: x.shape }),
      filter: () => runKernel('Conv2DBackpropFilter', { x, dy: g }, { ...common, ...extra, filterShape: filter.shape }),
    };
  }
  // Elsewhere: a dilated conv is a plain conv with the zero-stuffed filter.
  return {
    x: () =>
      tf.tidy(() => {
        const wide = dilateFilter(filter, dilations);
        return runKernel('Conv2DBackpropInput', { dy: g, filter: wide }, { ...common, inputShape: x.shape });
      }),
    filter: () =>
      tf.tidy(() => {
        const [fh, fw, ci, co] = filter.shape;
        const wideShape = [(fh - 1) * dilations[0] + 1, (fw - 1) * dilations[1] + 1, ci, co];
        const wide = runKernel('Conv2DBackpropFilter', { x, dy: g }, { ...common, filterShape: wideShape });
        return undilateFilter(wide, filter.shape, dilations);
      }),
  };
}

function conv2dBackpropInputGrad(ddx: tf.Tensor | tf.Tensor[], saved: tf.Tensor[], attrs: Attrs): GradMap {
  const [dy, filter] = saved as [tf.Tensor4D, tf.Tensor4D];
  const g = ddx as tf.Tensor4D;
  const common = { strides: attrs.strides, pad: attrs.pad, dataFormat: attrs.dataFormat ?? 'NHWC', dimRoundingMode: attrs.dimRoundingMode };
  // Only otsr's kernels carry `dilations` here (see conv2dGrad); the stock ones never do.
  const dilations = attrs.dilations ?? 1;
  const extra = attrs.dilations === undefined ? {} : { dilations };
  return {
    dy: () => runKernel('Conv2D', { x: g, filter }, { ...common, dilations }),
    filter: () => runKernel('Conv2DBackpropFilter', { x: g, dy }, { ...common, ...extra, filterShape: filter.shape }),
  };
}

function runKernel(name: string, inputs: Record<string, tf.Tensor>, attrs: object): tf.Tensor {
  return tf.engine().runKernel(name, inputs as tf.NamedTensorMap, attrs as tf.NamedAttrMap) as tf.Tensor;
}

/** [fh, fw, ci, co] -> [(fh-1)·dh+1, (fw-1)·dw+1, ci, co] with zeros between the taps (differentiable). */
function dilateFilter(w: tf.Tensor4D, [dh, dw]: Pair): tf.Tensor4D {
  const [fh, fw, ci, co] = w.shape;
  let t: tf.Tensor = w;
  if (dh > 1) {
    t = tf.reshape(tf.pad(tf.reshape(t, [fh, 1, fw * ci * co]), [[0, 0], [0, dh - 1], [0, 0]]), [fh * dh, fw, ci, co]);
    t = tf.slice(t, [0, 0, 0, 0], [(fh - 1) * dh + 1, fw, ci, co]);
  }
  const rows = t.shape[0]!;
  if (dw > 1) {
    t = tf.reshape(tf.pad(tf.reshape(t, [rows, fw, 1, ci * co]), [[0, 0], [0, 0], [0, dw - 1], [0, 0]]), [rows, fw * dw, ci, co]);
    t = tf.slice(t, [0, 0, 0, 0], [rows, (fw - 1) * dw + 1, ci, co]);
  }
  return t as tf.Tensor4D;
}

/** Inverse of {@link dilateFilter}: keeps every dh-th row and dw-th column (differentiable). */
function undilateFilter(wide: tf.Tensor, [fh, fw, ci, co]: number[], [dh, dw]: Pair): tf.Tensor4D {
  let t = tf.pad(wide, [[0, fh * dh - wide.shape[0]!], [0, fw * dw - wide.shape[1]!], [0, 0], [0, 0]]);
  t = tf.reshape(t, [fh, dh, fw, dw, ci * co]);
  t = tf.slice(t, [0, 0, 0, 0, 0], [fh, 1, fw, 1, ci * co]);
  return tf.reshape(t, [fh!, fw!, ci!, co!]);
}
