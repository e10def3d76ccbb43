import * as tf from '@tensorflow/tfjs-core';
import { type ConvBackpropAttrs, backpropConvInfo } from './conv-attrs.js';
import { type FilterGradOptions, type FilterGradStrategy, conv2dBackpropFilter } from './conv-backprop-filter.js';
import { conv2dBackpropInput } from './conv-backprop-input.js';
import { FUSED_ADAM, fusedAdam } from './adam-kernel.js';
import { depthwiseBackpropFilter, depthwiseBackpropInput } from './depthwise-backprop.js';
import { type ConvEpilogue, type ConvMethod, conv2dForward, convMethodFor } from './conv-forward.js';
import { withKernelCalls } from './kernel-calls.js';

const BACKEND = 'wasm';

/** The kernels otsr registers for wasm, replacing the stock one where there is one. */
export const WASM_TRAINING_KERNELS = [
  'Conv2D',
  'FusedConv2D',
  'Conv2DBackpropInput',
  'Conv2DBackpropFilter',
  'Sum',
  'DepthwiseConv2dNativeBackpropInput',
  'DepthwiseConv2dNativeBackpropFilter',
  'OtsrAdam',
  'Identity',
] as const;
export type WasmTrainingKernel = (typeof WASM_TRAINING_KERNELS)[number];

/** tfjs-backend-wasm's own kernels that otsr replaced, and otsr's, by kernel name. */
const stock = new Map<string, tf.KernelConfig>();
const ours = new Map<string, tf.KernelConfig>();
/** Stock kernels whose setup (binding their wasm function) has run, per backend instance. */
const stockReady = new WeakMap<object, Set<string>>();

/** The stock kernel `name`, set up on `backend` (otsr unregisters it before the backend runs setups). */
function stockKernel(name: string, backend: object): tf.KernelFunc | undefined {
  const config = stock.get(name);
  if (config === undefined) return undefined;
  let ready = stockReady.get(backend);
  if (ready === undefined) stockReady.set(backend, (ready = new Set()));
  if (!ready.has(name)) {
    config.setupFunc?.(backend as tf.KernelBackend);
    ready.add(name);
  }
  return config.kernelFunc;
}

let filterGradStrategy: FilterGradStrategy = 'auto';

/**
 * The filter-gradient method of every call that does not pass its own (`filterGradStrategy` attr, as
 * `convMethod` for convs): benchmarks and tests compare methods over whole models; `auto` picks per layer.
 */
export function setFilterGradStrategy(strategy: FilterGradStrategy): void {
  filterGradStrategy = strategy;
}

let forcedConvMethod: ConvMethod | 'auto' = 'auto';

/**
 * Forces the forward-conv method of every conv that follows, the input gradient's included (benchmarks and
 * tests compare them; Winograd methods fall back to direct where they do not apply); `auto` picks per layer
 * ({@link convMethodFor}). Returns the previous setting. A Conv2D / FusedConv2D call can pass its own
 * (`convMethod` attr).
 */
export function setConvMethod(method: ConvMethod | 'auto'): ConvMethod | 'auto' {
  const previous = forcedConvMethod;
  forcedConvMethod = method;
  return previous;
}

type KernelArgs = { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: tf.NamedAttrMap };

/** Runs the stock kernel `name` (one otsr replaced, and still has) on the arguments otsr's was given. */
function runStock(name: string, args: KernelArgs): tf.TensorInfo {
  return stockKernel(name, args.backend as object)!(args as unknown as Parameters<tf.KernelFunc>[0]) as tf.TensorInfo;
}

interface ConvAttrs extends ConvBackpropAttrs {
  activation?: string;
  leakyreluAlpha?: number;
  /** otsr's extension: this call's method (tests); else the forced or the per-layer one. */
  convMethod?: ConvMethod;
}

/** Activations applied as the GEMM stores its tiles; the others run as their own kernel after it. */
const GEMM_ACTIVATIONS = new Set(['linear', 'relu', 'leakyrelu']);
/** The kernel of each other activation FusedConv2D accepts. */
const ACTIVATION_KERNELS: Record<string, string> = { prelu: 'Prelu', elu: 'Elu', relu6: 'Relu6', sigmoid: 'Sigmoid' };

/**
 * Conv2D and FusedConv2D (NHWC, float32) on otsr's SIMD GEMM (conv-forward.ts): the bias and relu / leaky
 * relu are applied in the GEMM, other activations and broadcast biases by their own kernels after it.
 * XNNPACK's conv is left only to what the stock kernel must refuse anyway (NCHW, other dtypes).
 */
function forwardConv(name: 'Conv2D' | 'FusedConv2D') {
  return (args: KernelArgs): tf.TensorInfo => {
    const { x, filter } = args.inputs as { x: tf.TensorInfo; filter: tf.TensorInfo };
    const attrs = args.attrs as unknown as ConvAttrs;
    if (attrs.dataFormat === 'NCHW' || x.dtype !== 'float32' || filter.dtype !== 'float32') return runStock(name, args);
    // Conv2D has no epilogue, whatever attributes it is handed.
    const fused = name === 'FusedConv2D';
    const { bias, preluActivationWeights } = (fused ? args.inputs : {}) as Record<string, tf.TensorInfo | undefined>;
    const activation = fused ? (attrs.activation ?? 'linear') : 'linear';
    const info = backpropConvInfo(x.shape, filter.shape, attrs, name);
    return withKernelCalls(args.backend, BACKEND, (calls) => {
      const biasInGemm = bias !== undefined && bias.dtype === 'float32' && tf.util.sizeFromShape(bias.shape) === info.outChannels;
      const activationInGemm = GEMM_ACTIVATIONS.has(activation);
      const method = attrs.convMethod ?? (forcedConvMethod === 'auto' ? convMethodFor(info) : forcedConvMethod);
      const epilogue: ConvEpilogue = {
        bias: biasInGemm ? bias : undefined,
        activation: activationInGemm ? (activation as ConvEpilogue['activation']) : 'linear',
        leakyreluAlpha: attrs.leakyreluAlpha,
      };
      let out = conv2dForward(calls, x, filter, info, epilogue, method);
      if (bias !== undefined && !biasInGemm) out = calls.run('Add', { a: out, b: bias });
      if (!activationInGemm) {
        const kernel = ACTIVATION_KERNELS[activation];
        if (kernel === undefined) throw new Error(`FusedConv2D: activation '${activation}' is not supported`);
        out = calls.run(kernel, kernel === 'Prelu' ? { x: out, alpha: preluActivationWeights! } : { x: out });
      }
      return calls.keep(out);
    });
  };
}

function backpropInput(args: KernelArgs): tf.TensorInfo {
  const { dy, filter } = args.inputs as { dy: tf.TensorInfo; filter: tf.TensorInfo };
  const attrs = args.attrs as unknown as ConvBackpropAttrs & { inputShape: [number, number, number, number] };
  return withKernelCalls(args.backend, BACKEND, (calls) => conv2dBackpropInput(calls, dy, filter, attrs.inputShape, attrs));
}

function backpropFilter(args: KernelArgs): tf.TensorInfo {
  const { x, dy } = args.inputs as { x: tf.TensorInfo; dy: tf.TensorInfo };
  // otsr's extensions: this call's method and contraction split (tests).
  const attrs = args.attrs as unknown as ConvBackpropAttrs & { filterShape: [number, number, number, number] } & FilterGradOptions & {
    filterGradStrategy?: FilterGradStrategy;
  };
  const options = { strategy: attrs.filterGradStrategy ?? filterGradStrategy, maxContraction: attrs.maxContraction };
  return withKernelCalls(args.backend, BACKEND, (calls) => conv2dBackpropFilter(calls, x, dy, attrs.filterShape, attrs, options));
}

/**
 * The gradients of depthwise convolutions (tfjs-backend-wasm 4.22 has neither): JS loops on the heap
 * (depthwise-backprop.ts). The output is allocated before the views are taken (see KernelCalls).
 */
function depthwiseBackprop(which: 'input' | 'filter') {
  return (args: KernelArgs): tf.TensorInfo => {
    const attrs = args.attrs as unknown as ConvBackpropAttrs & { inputShape?: number[]; filterShape?: number[] };
    return withKernelCalls(args.backend, BACKEND, (calls) => {
      if (which === 'input') {
        const { dy, filter } = args.inputs as { dy: tf.TensorInfo; filter: tf.TensorInfo };
        const info = backpropConvInfo(attrs.inputShape!, filter.shape, attrs, 'DepthwiseConv2dNativeBackpropInput', true);
        const dx = calls.empty(info.inShape);
        depthwiseBackpropInput(calls.view(dy), calls.view(filter), info, calls.view(dx));
        return calls.keep(dx);
      }
      const { x, dy } = args.inputs as { x: tf.TensorInfo; dy: tf.TensorInfo };
      const info = backpropConvInfo(x.shape, attrs.filterShape!, attrs, 'DepthwiseConv2dNativeBackpropFilter', true);
      const dw = calls.empty(attrs.filterShape!);
      depthwiseBackpropFilter(calls.view(x), calls.view(dy), info, calls.view(dw));
      return calls.keep(dw);
    });
  };
}

/** Rows summed in float32 by the SIMD kernel before the partial sums are added in float64. */
const SUM_BLOCK_ROWS = 256;

/**
 * Sum over leading axes (the bias gradient of a conv sums dy over batch, rows and columns): column sums,
 * by a SIMD kernel over blocks of rows in float32 (wasm/layout.ts) and in float64 across blocks, or in JS
 * with float64 accumulators when the columns are not a multiple of 4. The stock kernel first transposes
 * the reduced axes innermost, which costs more than the sum. Every other Sum goes to the stock kernel.
 */
function sum(args: KernelArgs): tf.TensorInfo {
  const { x } = args.inputs as { x: tf.TensorInfo };
  const { axis, keepDims } = args.attrs as unknown as { axis: number | number[]; keepDims: boolean };
  const axes = tf.util.parseAxisParam(axis, x.shape).sort((a, b) => a - b);
  const leading = axes.length > 0 && axes.length < x.shape.length && axes.every((a, i) => a === i);
  if (x.dtype !== 'float32' || !leading) return runStock('Sum', args);
  return withKernelCalls(args.backend, BACKEND, (calls) => {
    const kept = x.shape.slice(axes.length);
    const cols = kept.reduce((a, b) => a * b, 1);
    const rows = x.shape.slice(0, axes.length).reduce((a, b) => a * b, 1);
    const out = calls.empty(keepDims ? [...axes.map(() => 1), ...kept] : kept);
    const acc = new Float64Array(cols);
    if (cols % 4 === 0) {
      const partial = calls.empty([cols]);
      const simd = calls.simd();
      const [src, to] = [calls.address(x), calls.address(partial)];
      const block = calls.view(partial); // no allocation below: the view stays valid
      for (let r0 = 0; r0 < rows; r0 += SUM_BLOCK_ROWS) {
        simd.columnSums(src + r0 * cols * 4, Math.min(SUM_BLOCK_ROWS, rows - r0), cols, to);
        for (let c = 0; c < cols; c++) acc[c]! += block[c]!;
      }
    } else {
      const src = calls.view(x);
      for (let r = 0, i = 0; r < rows; r++) for (let c = 0; c < cols; c++, i++) acc[c]! += src[i]!;
    }
    calls.view(out).set(acc);
    return calls.keep(out);
  });
}

/**
 * Identity shares its input's data (one more reference) instead of copying it, as tfjs's cpu backend does.
 * tfjs-core clones every tensor a gradient saves for the backward pass through Identity, so the stock wasm
 * kernel copied each conv's input and filter on every training step (118 copies, up to 19 MB each, ~20 ms
 * of the reference EDSR step). Sharing is safe because tensor data is never written in place: kernels write
 * only outputs they allocate, and a variable's assign replaces its data.
 */
function identity(args: KernelArgs): tf.TensorInfo {
  const { x } = args.inputs as { x: tf.TensorInfo };
  if (x.dtype === 'string') return runStock('Identity', args);
  (args.backend as { incRef(dataId: tf.DataId): void }).incRef(x.dataId);
  return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
}

/**
 * Registers otsr's training kernels for the `wasm` backend, all on otsr's SIMD GEMM (wasm/): Conv2D and
 * FusedConv2D (XNNPACK's runs at ~60% of their speed here), Conv2DBackpropInput (the stock one is a naive
 * loop, 10-20x slower) and Conv2DBackpropFilter (which tfjs-backend-wasm 4.22 lacks), for every stride,
 * padding and dilation (NHWC), with Winograd for wide 3x3 stride-1 layers (conv-winograd.ts). Also a Sum
 * that is fast over leading axes (bias gradients), the two depthwise-conv gradients tfjs-backend-wasm lacks
 * (MobileNetV2 perceptual losses need them), a fused Adam update (adam-kernel.ts) and an Identity that
 * shares data instead of copying it. Idempotent; the
 * stock kernels stay reachable through {@link stockWasmKernel} for benchmarks.
 */
export function registerWasmTrainingKernels(): void {
  const impls: Record<WasmTrainingKernel, tf.KernelFunc> = {
    Conv2D: forwardConv('Conv2D') as unknown as tf.KernelFunc,
    FusedConv2D: forwardConv('FusedConv2D') as unknown as tf.KernelFunc,
    Conv2DBackpropInput: backpropInput as unknown as tf.KernelFunc,
    Conv2DBackpropFilter: backpropFilter as unknown as tf.KernelFunc,
    Sum: sum as unknown as tf.KernelFunc,
    DepthwiseConv2dNativeBackpropInput: depthwiseBackprop('input') as unknown as tf.KernelFunc,
    DepthwiseConv2dNativeBackpropFilter: depthwiseBackprop('filter') as unknown as tf.KernelFunc,
    [FUSED_ADAM]: fusedAdam(BACKEND) as unknown as tf.KernelFunc,
    Identity: identity as unknown as tf.KernelFunc,
  };
  for (const name of WASM_TRAINING_KERNELS) {
    const current = tf.getKernel(name, BACKEND);
    if (current !== undefined && current === ours.get(name)) continue;
    if (current !== undefined) {
      stock.set(name, current);
      tf.unregisterKernel(name, BACKEND);
    }
    const config: tf.KernelConfig = { kernelName: name, backendName: BACKEND, kernelFunc: impls[name] };
    tf.registerKernel(config);
    ours.set(name, config);
  }
}

/** Whether otsr's kernel `name` is the one the active backend will run (so it accepts `dilations`). */
export function otsrKernelActive(name: WasmTrainingKernel): boolean {
  const config = ours.get(name);
  return config !== undefined && tf.getBackend() === BACKEND && tf.getKernel(name, BACKEND) === config;
}

/**
 * The kernel tfjs-backend-wasm itself registered under `name` before otsr replaced it (undefined where
 * it has none), with its setup already run on `backend`, so benchmarks can compare against it.
 */
export function stockWasmKernel(name: WasmTrainingKernel, backend: tf.KernelBackend): tf.KernelFunc | undefined {
  return stockKernel(name, backend);
}
