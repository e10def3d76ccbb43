import v8 from 'node:v8';
import vm from 'node:vm';

// A full garbage collection on demand, so that what is measured is what is still referenced.
v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

/**
 * Memory after a full GC, in MB: `live` is the JS heap plus memory held outside it for JS objects
 * (ArrayBuffers, the wasm backend's heap, sharp's buffers); `rss` is the process's resident set.
 */
export function memoryAfterGc(): { live: number; rss: number } {
  // Twice: the first GC finds dead ArrayBuffers, the second has surely freed their backing stores
  // (measured once, `live` swung by 2-3 MB from image to image; twice, by under 0.5 MB).
  gc();
  gc();
  const m = process.memoryUsage();
  return { live: (m.heapUsed + m.external) / 2 ** 20, rss: m.rss / 2 ** 20 };
}
