import * as tf from '@tensorflow/tfjs-core';

/**
 * tfjs-core 4.x registers *no* gradients by itself: its bundles (`tf-core.node.js`, `tf-core.js`, …) leave
 * them out, and only `dist/register_all_gradients.js` (plain ESM with extensionless relative imports) adds
 * them — the union package `@tensorflow/tfjs` imports that file, but otsr depends on tfjs-core alone. Without
 * it `tf.grad` fails with "gradient function not found for Sum".
 *
 * In a browser bundle the import resolves as usual. Node cannot resolve extensionless ESM imports in a package
 * without `"type": "module"`, so there we first install a tiny resolve/load hook (scoped to tfjs-core's `dist/`
 * folder) that adds the `.js` suffix and loads those files as ESM. The ESM files share tfjs's global engine and
 * registries with the CJS bundle (tfjs keeps them on the global object), so the gradients land where the ops run.
 *
 * Idempotent and cheap once done; a no-op when something else already registered the gradients.
 */
export async function ensureCoreGradients(): Promise<void> {
  if (tf.getGradient('Sum')) return;
  loading ??= load();
  await loading;
}

let loading: Promise<void> | undefined;

const HOOKS = `
const MARK = '/@tensorflow/tfjs-core/dist/';
export async function resolve(specifier, context, next) {
  if (context.parentURL && context.parentURL.includes(MARK) && specifier.startsWith('.') && !specifier.endsWith('.js')) {
    return next(specifier + '.js', context);
  }
  return next(specifier, context);
}
export async function load(url, context, next) {
  if (url.includes(MARK) && !url.includes('/tf-core.')) return next(url, { ...context, format: 'module' });
  return next(url, context);
}
`;

async function load(): Promise<void> {
  const isNode = typeof process !== 'undefined' && !!process.versions?.node;
  if (isNode) {
    const { register } = await import('node:module');
    register(`data:text/javascript,${encodeURIComponent(HOOKS)}`, import.meta.url);
  }
  // @ts-ignore no type declarations for this side-effect-only module
  await import('@tensorflow/tfjs-core/dist/register_all_gradients.js');
  if (!tf.getGradient('Sum')) throw new Error('could not register tfjs-core gradients');
  registerMatMulGradient();
}

/**
 * Replaces tfjs's BatchMatMul gradient by one that only runs *untransposed* products. tfjs's version calls
 * matMul with transposeA/transposeB, which the wasm backend runs ~10x slower than an explicit transpose
 * followed by a plain product (measured here: 128^3 product 6.7 ms transposed vs 0.46 ms plain), and MLP
 * training is made of exactly those products. Transposes are differentiable, so double backprop still works.
 */
function registerMatMulGradient(): void {
  tf.registerGradient({
    kernelName: tf.BatchMatMul,
    inputsToSave: ['a', 'b'],
    gradFunc: (dy, saved, attrs) => {
      const [a, b] = saved as [tf.Tensor, tf.Tensor];
      const { transposeA, transposeB } = attrs as unknown as tf.BatchMatMulAttrs;
      const g = dy as tf.Tensor;
      // C = A B with A = op(a), B = op(b): dA = dy B^T, dB = A^T dy; then undo op() for the inputs.
      const dA = () => tf.matMul(g, transposeB ? b : swapLast(b));
      const dB = () => tf.matMul(transposeA ? a : swapLast(a), g);
      return {
        a: () => (transposeA ? swapLast(dA()) : dA()),
        b: () => (transposeB ? swapLast(dB()) : dB()),
      };
    },
  });
}

function swapLast(t: tf.Tensor): tf.Tensor {
  const perm = [...Array(t.rank).keys()];
  [perm[t.rank - 2], perm[t.rank - 1]] = [perm[t.rank - 1]!, perm[t.rank - 2]!];
  return tf.transpose(t, perm);
}
