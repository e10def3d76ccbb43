/** Starts TF.js in the page: webgpu, else webgl, else wasm (binaries served next to the page, in wasm/). */
import * as tf from '@tensorflow/tfjs-core';
import { getThreadsCount, setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { type BackendName, initBackend, parseBackendName } from '../../engine/backend.js';

/**
 * Initialises the backend (`requested`, e.g. from `?backend=wasm`, or the best available one).
 *
 * WebGL rendered in software (SwiftShader, llvmpipe: what a browser falls back to without a usable GPU, as
 * in headless Chromium) is passed over for wasm: it emulates the GPU on the CPU. Measured in headless
 * Chromium 156 on 2 vCPUs, a small EDSR (2 blocks x 16 features, x4) upscaled a 192x132 photo in ~36 s on
 * SwiftShader WebGL and in ~0.4 s on wasm.
 * @returns its name.
 */
export async function startBackend(requested?: string | null): Promise<BackendName> {
  setWasmPaths(new URL('wasm/', document.baseURI).href);
  if (requested) return initBackend(parseBackendName(requested));
  const name = await initBackend();
  if (name === 'webgl' && softwareRenderer(webglRenderer())) {
    skippedSoftwareWebgl = webglRenderer();
    return initBackend('wasm');
  }
  return name;
}

/** The software WebGL renderer passed over by {@link startBackend}, if any. */
let skippedSoftwareWebgl: string | undefined;

function softwareRenderer(renderer: string | undefined): string | undefined {
  return renderer?.match(/swiftshader|llvmpipe|softpipe|software/i)?.[0];
}

/** A one-line description of the running backend, for the page. */
export function describeBackend(name: BackendName): string {
  if (name === 'wasm') {
    const threads = getThreadsCount();
    const simd = tf.env().getBool('WASM_HAS_SIMD_SUPPORT');
    const why = skippedSoftwareWebgl ? `; WebGL here is software-rendered (${softwareRenderer(skippedSoftwareWebgl)}), slower` : '';
    return `wasm (CPU${simd ? ', SIMD' : ''}, ${threads} thread${threads === 1 ? '' : 's'}${why})`;
  }
  if (name === 'webgl') {
    const renderer = webglRenderer();
    const soft = softwareRenderer(renderer);
    const where = renderer === undefined ? 'GPU' : soft ? `software renderer: ${soft}` : renderer.slice(0, 80);
    return `webgl (WebGL ${tf.env().getNumber('WEBGL_VERSION')}, ${where})`;
  }
  if (name === 'webgpu') {
    const info = (tf.backend() as unknown as { adapterInfo?: { vendor?: string; architecture?: string } }).adapterInfo;
    const what = [info?.vendor, info?.architecture].filter(Boolean).join(' ');
    return `webgpu (GPU${what ? `, ${what}` : ''})`;
  }
  return name;
}

/** The WebGL renderer string (e.g. which GPU, or SwiftShader when the browser renders in software). */
function webglRenderer(): string | undefined {
  try {
    const gl = (tf.backend() as unknown as { gpgpu?: { gl?: WebGLRenderingContext } }).gpgpu?.gl;
    if (!gl) return undefined;
    const ext = gl.getExtension('WEBGL_debug_renderer_info');
    const r = ext ? gl.getParameter(ext.UNMASKED_RENDERER_WEBGL) : gl.getParameter(gl.RENDERER);
    return typeof r === 'string' && r !== '' ? r : undefined;
  } catch {
    return undefined;
  }
}
