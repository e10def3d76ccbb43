import { Worker } from 'node:worker_threads';

/**
 * The URL of module `name` (without extension) next to the module at `importMetaUrl`: `.ts` when running from
 * source under tsx, `.js` once compiled. Use it to name a worker's module.
 */
export function siblingModule(importMetaUrl: string, name: string): string {
  const ext = importMetaUrl.endsWith('.ts') ? 'ts' : 'js';
  return new URL(`./${name}.${ext}`, importMetaUrl).href;
}

/** Code for `new Worker(..., { eval: true })` that imports `url`, registering tsx first when it is a .ts file. */
function bootstrap(url: string): string {
  if (!url.endsWith('.ts')) return `import(${JSON.stringify(url)})`;
  // Worker threads do not inherit tsx's loader hooks: register them before importing any .ts module.
  const tsx = import.meta.resolve('tsx/esm/api');
  return `import(${JSON.stringify(tsx)}).then((m) => m.register()).then(() => import(${JSON.stringify(url)}))`;
}

/**
 * Starts a worker thread running the ES module at `url` (a file: URL, e.g. from {@link siblingModule}), from
 * source under tsx as well as from the compiled package.
 */
export function spawnModuleWorker(url: string, workerData: unknown): Worker {
  return new Worker(bootstrap(url), { eval: true, workerData });
}
