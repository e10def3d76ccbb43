/**
 * A small static server for the page (Node only): the built page folder, a model folder under /model/,
 * and /config.json telling the page which model is offered. Loopback only, GET and HEAD only, no
 * directory listings, and nothing outside the two folders (the model folder serves only the files its
 * model.json lists).
 *
 * The page is served cross-origin isolated (COOP/COEP headers), which lets TF.js's wasm backend run
 * multi-threaded (SharedArrayBuffer) when the browser falls back to it.
 */
import { createReadStream } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { type IncomingMessage, type Server, type ServerResponse, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { InputError, OtsrError, UsageError } from '../errors.js';
import { MODEL_FORMAT, MODEL_JSON } from '../nn/serialize.js';
import { pathInside } from '../util/inside.js';
import { OTSR_VERSION } from '../version.js';

/** Where `npm run build:web` puts the page (next to src/ and dist/ in the package). */
export const DEFAULT_WEB_ROOT = fileURLToPath(new URL('../../dist-web/', import.meta.url));

/** Only this interface is ever bound: the page is for the person at this machine. */
export const HOST = '127.0.0.1';

export interface ServeOptions {
  /** The built page (default {@link DEFAULT_WEB_ROOT}). */
  root?: string;
  /** A model folder to offer to the page. */
  model?: string;
  /** TCP port; 0 picks a free one. */
  port: number;
}

export interface RunningServer {
  /** http://127.0.0.1:PORT/ */
  url: string;
  port: number;
  /** What the page is told about the model, if one is served. */
  model?: ServedModel;
  close(): Promise<void>;
}

export interface ServedModel {
  dir: string;
  name: string;
  scale?: number;
  /** model.json and the shard files it lists: the only files served from the folder. */
  files: Set<string>;
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.wasm': 'application/wasm',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.svg': 'image/svg+xml',
  '.txt': 'text/plain; charset=utf-8',
  '.bin': 'application/octet-stream',
  '.ico': 'image/x-icon',
};

const HEADERS = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
  'Cross-Origin-Resource-Policy': 'same-origin',
  'X-Content-Type-Options': 'nosniff',
  'Cache-Control': 'no-cache',
};

/** Checks that `dir` is a built page; UsageError saying how to build it otherwise. */
export async function checkWebRoot(dir: string): Promise<void> {
  const index = await stat(path.join(dir, 'index.html')).catch(() => undefined);
  if (!index?.isFile()) {
    throw new UsageError(`the page is not built (no index.html in ${dir}); run \`npm run build:web\` first`);
  }
}

/** Reads a model folder's model.json just enough to serve it: format, scale, the files it lists. */
export async function inspectModelFolder(dir: string): Promise<ServedModel> {
  const s = await stat(dir).catch(() => undefined);
  if (!s) throw new InputError(dir, 'no such model folder');
  if (!s.isDirectory()) throw new InputError(dir, `is not a model folder (expected a folder with ${MODEL_JSON})`);
  const jsonPath = path.join(dir, MODEL_JSON);
  let json: { format?: unknown; otsr?: { scale?: unknown }; arch?: { scale?: unknown }; weightsManifest?: { paths?: unknown }[] };
  try {
    json = JSON.parse(await readFile(jsonPath, 'utf8')) as typeof json;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new InputError(jsonPath, 'missing: not an otsr model (no model.json)');
    throw new InputError(jsonPath, `cannot be read as JSON (${(err as Error).message})`);
  }
  if (json?.format !== MODEL_FORMAT) throw new InputError(jsonPath, `is not an otsr model (format ${JSON.stringify(json?.format)})`);
  const files = new Set([MODEL_JSON]);
  for (const group of Array.isArray(json.weightsManifest) ? json.weightsManifest : []) {
    for (const p of Array.isArray(group?.paths) ? group.paths : []) {
      if (typeof p !== 'string' || /[/\\]/.test(p) || p.startsWith('.')) throw new InputError(jsonPath, `lists a bad shard path ${JSON.stringify(p)}`);
      if (!(await stat(path.join(dir, p)).catch(() => undefined))?.isFile()) {
        throw new InputError(path.join(dir, p), 'missing weight shard (listed in model.json)');
      }
      files.add(p);
    }
  }
  const scale = typeof json.otsr?.scale === 'number' ? json.otsr.scale : typeof json.arch?.scale === 'number' ? json.arch.scale : undefined;
  return { dir: path.resolve(dir), name: path.basename(path.resolve(dir)), scale, files };
}

/** Starts the server on 127.0.0.1; resolves once it listens. */
export async function startServer(options: ServeOptions): Promise<RunningServer> {
  const root = path.resolve(options.root ?? DEFAULT_WEB_ROOT);
  await checkWebRoot(root);
  const model = options.model !== undefined ? await inspectModelFolder(options.model) : undefined;
  const config = JSON.stringify({
    version: OTSR_VERSION,
    model: model ? { url: 'model/', name: model.name, scale: model.scale } : null,
  });

  let port = 0;
  const server = createServer((req, res) => {
    // DNS rebinding: a page of evil.example whose name now points at 127.0.0.1 would be same-origin with this server.
    if (!loopbackHost(req.headers.host, port)) {
      send(res, 421, 'misdirected request: this server answers only to 127.0.0.1, localhost and [::1]');
      return;
    }
    handle(req, res, root, model, config).catch((err: unknown) => {
      if (!res.headersSent) send(res, 500, `internal error: ${(err as Error).message}`);
      else res.destroy();
    });
  });
  await new Promise<void>((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException) => {
      if (err.code === 'EADDRINUSE') reject(new UsageError(`port ${options.port} is in use; choose another with --port (0 picks a free one)`));
      else if (err.code === 'EACCES') reject(new UsageError(`port ${options.port} needs privileges; choose one above 1023 with --port`));
      else reject(new OtsrError(`cannot listen on ${HOST}:${options.port}: ${err.message}`));
    };
    server.once('error', onError);
    server.listen(options.port, HOST, () => {
      server.off('error', onError);
      resolve();
    });
  });
  port = (server.address() as AddressInfo).port;
  return { url: `http://${HOST}:${port}/`, port, model, close: () => closeServer(server) };
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

async function handle(req: IncomingMessage, res: ServerResponse, root: string, model: ServedModel | undefined, config: string): Promise<void> {
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.setHeader('Allow', 'GET, HEAD');
    send(res, 405, 'method not allowed');
    return;
  }
  let pathname: string;
  try {
    pathname = decodeURIComponent(new URL(req.url ?? '/', 'http://localhost').pathname);
  } catch {
    send(res, 400, 'bad request');
    return;
  }
  if (pathname.includes('\0')) {
    send(res, 400, 'bad request');
    return;
  }
  if (pathname === '/config.json') {
    sendBody(req, res, 200, TYPES['.json']!, config);
    return;
  }
  if (pathname.startsWith('/model/')) {
    const name = pathname.slice('/model/'.length);
    if (!model || !model.files.has(name)) {
      send(res, 404, 'not found');
      return;
    }
    await sendFile(req, res, model.dir, name);
    return;
  }
  const rel = pathname.endsWith('/') ? `${pathname}index.html` : pathname;
  await sendFile(req, res, root, `.${path.posix.normalize(rel)}`);
}

/** The `Host` a browser sends for this server: a loopback name, with the bound port or none. */
function loopbackHost(host: string | undefined, port: number): boolean {
  const m = /^(127\.0\.0\.1|localhost|\[::1\])(?::(\d+))?$/i.exec(host ?? '');
  return m !== null && (m[2] === undefined || Number(m[2]) === port);
}

/** Sends `name` from folder `dir`; anything whose real path leaves the folder (`..`, a symlink out) is not found. */
async function sendFile(req: IncomingMessage, res: ServerResponse, dir: string, name: string): Promise<void> {
  const file = await pathInside(dir, name);
  const s = file === undefined ? undefined : await stat(file).catch(() => undefined);
  if (file === undefined || !s?.isFile()) {
    send(res, 404, 'not found');
    return;
  }
  res.writeHead(200, { ...HEADERS, 'Content-Type': TYPES[path.extname(file).toLowerCase()] ?? 'application/octet-stream', 'Content-Length': s.size });
  if (req.method === 'HEAD') {
    res.end();
    return;
  }
  await new Promise<void>((resolve, reject) => {
    const stream = createReadStream(file);
    stream.on('error', reject);
    res.on('close', resolve);
    stream.pipe(res);
  });
}

function sendBody(req: IncomingMessage, res: ServerResponse, status: number, type: string, body: string): void {
  const bytes = Buffer.from(body);
  res.writeHead(status, { ...HEADERS, 'Content-Type': type, 'Content-Length': bytes.length });
  res.end(req.method === 'HEAD' ? undefined : bytes);
}

function send(res: ServerResponse, status: number, message: string): void {
  const bytes = Buffer.from(`${message}\n`);
  res.writeHead(status, { ...HEADERS, 'Content-Type': TYPES['.txt']!, 'Content-Length': bytes.length });
  res.end(bytes);
}

/** The model `otsr serve` offers when none is named: the one bundled with the package, if present. */
export const BUNDLED_MODEL = fileURLToPath(new URL('../../models/unpaired-x4/', import.meta.url));
