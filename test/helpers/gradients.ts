import { readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend, type BackendName } from '../../src/engine/backend.js';

/**
 * TEST-ONLY STOPGAP. In Node, `@tensorflow/tfjs-core` resolves to its CommonJS bundle, which registers no
 * gradients at all (tf.grad of tf.sum fails with "gradient function not found for Sum"); the per-kernel
 * gradient configs exist only as ESM files with extensionless imports, which plain Node cannot load but
 * tsx (which runs the tests) can. Registering them for real, so that the library and the CLI can train, is
 * the engine's job (src/engine/gradients.ts). Until then, tests that train import this helper. It only
 * fills gradients that nobody registered, so it becomes a no-op once the engine does it.
 */
export async function initBackendWithGradients(name: BackendName = 'cpu'): Promise<void> {
  await initBackend(name);
  if (tf.getGradient('Sum') !== undefined && tf.getGradient('Conv2D') !== undefined) return;
  const require = createRequire(import.meta.url);
  const dir = join(dirname(require.resolve('@tensorflow/tfjs-core/package.json')), 'dist', 'gradients');
  for (const file of readdirSync(dir).filter((f) => f.endsWith('_grad.js'))) {
    let mod: Record<string, unknown>;
    try {
      mod = await import(`@tensorflow/tfjs-core/dist/gradients/${file}`);
    } catch {
      continue; // e.g. Prod_grad imports a path tsx cannot resolve; otsr's models do not use it
    }
    for (const config of Object.values(mod) as tf.GradConfig[]) {
      if (config?.kernelName && tf.getGradient(config.kernelName) === undefined) tf.registerGradient(config);
    }
  }
}
