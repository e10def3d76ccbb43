/**
 * Builds the browser page into a static folder (default dist-web/): the page's HTML and CSS, its script
 * bundled by esbuild (ES modules, one chunk per lazily loaded TF.js backend), and the wasm backend's
 * binaries under wasm/ (the page points `setWasmPaths` there).
 *
 *     npm run build:web                      # -> dist-web/
 *     node --import tsx scripts/build-web.ts OUTDIR
 *
 * The bundle must stay free of Node-only modules (sharp, node:*): esbuild's browser platform refuses them,
 * and the metafile is checked as well, so an accidental import of a Node module fails the build loudly.
 */
import { copyFile, mkdir, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const PAGE = path.join(ROOT, 'src', 'web', 'page');
/** Static files copied as they are. */
const STATIC = ['index.html', 'style.css'];
/** Modules that must never end up in the page (they need Node). */
const NODE_ONLY = /(^|\/)node_modules\/(sharp|@img)\/|^node:|\/src\/(image\/io|nn\/serialize-node|util\/atomic-write)\.ts$/;

/**
 * Node built-ins: a dynamic `import('node:…')` behind a Node check (the engine's module-resolution hook)
 * stays an import the browser never executes; a static one is an error, since the page would not load.
 */
const nodeBuiltins: esbuild.Plugin = {
  name: 'node-builtins',
  setup(build) {
    build.onResolve({ filter: /^node:/ }, (args) => {
      if (args.kind === 'dynamic-import') return { path: args.path, external: true };
      return { errors: [{ text: `${args.path} is Node-only and cannot be in the page (imported by ${args.importer})` }] };
    });
  },
};

export interface BuildWebOptions {
  /** Output folder (replaced). Default dist-web/ in the repository. */
  outDir?: string;
  /** Minify the script (default true). */
  minify?: boolean;
  /** Print esbuild's warnings (default true). */
  log?: boolean;
}

export interface BuildWebResult {
  outDir: string;
  /** Bytes of every file written, by path relative to outDir. */
  files: Record<string, number>;
}

/** Builds the page; see the module comment. */
export async function buildWeb(options: BuildWebOptions = {}): Promise<BuildWebResult> {
  const outDir = path.resolve(options.outDir ?? path.join(ROOT, 'dist-web'));
  await rm(outDir, { recursive: true, force: true });
  await mkdir(path.join(outDir, 'wasm'), { recursive: true });

  const result = await esbuild.build({
    absWorkingDir: ROOT,
    entryPoints: { main: path.join(PAGE, 'main.ts') },
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'browser',
    target: ['es2022', 'chrome109', 'firefox115', 'safari16'],
    outdir: outDir,
    chunkNames: 'chunks/[name]-[hash]',
    minify: options.minify ?? true,
    sourcemap: true,
    metafile: true,
    legalComments: 'linked',
    logLevel: options.log === false ? 'silent' : 'warning',
    define: { 'process.env.NODE_ENV': '"production"' },
    plugins: [nodeBuiltins],
  });
  const offenders = Object.keys(result.metafile.inputs).filter((p) => NODE_ONLY.test(p));
  if (offenders.length > 0) {
    throw new Error(`the page bundle pulls in Node-only modules: ${offenders.join(', ')} (split them out of the browser path)`);
  }

  for (const name of STATIC) await copyFile(path.join(PAGE, name), path.join(outDir, name));
  const wasmDir = path.join(path.dirname(createRequire(import.meta.url).resolve('@tensorflow/tfjs-backend-wasm/package.json')), 'dist');
  for (const name of await readdir(wasmDir)) {
    if (name.endsWith('.wasm')) await copyFile(path.join(wasmDir, name), path.join(outDir, 'wasm', name));
  }
  await writeFile(path.join(outDir, 'build.json'), `${JSON.stringify({ built: new Date().toISOString() })}\n`);

  const files: Record<string, number> = {};
  const walk = async (dir: string): Promise<void> => {
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      const p = path.join(dir, entry.name);
      if (entry.isDirectory()) await walk(p);
      else files[path.relative(outDir, p)] = (await stat(p)).size;
    }
  };
  await walk(outDir);
  return { outDir, files };
}

if (process.argv[1] !== undefined && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  buildWeb({ outDir: process.argv[2] }).then(
    ({ outDir, files }) => {
      const total = Object.values(files).reduce((a, b) => a + b, 0);
      const js = Object.entries(files)
        .filter(([p]) => p.endsWith('.js'))
        .reduce((a, [, b]) => a + b, 0);
      process.stdout.write(
        `built the page into ${path.relative(process.cwd(), outDir) || '.'}: ${Object.keys(files).length} files, ` +
          `${(js / 1024).toFixed(0)} KiB of script, ${(total / 1024 / 1024).toFixed(1)} MiB in all\n`,
      );
    },
    (err: unknown) => {
      process.stderr.write(`build:web failed: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exitCode = 1;
    },
  );
}
