import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { initBackend } from '../../src/engine/backend.js';
import { InputError, UsageError } from '../../src/errors.js';
import { Mlp } from '../../src/nn/mlp.js';
import { saveModel } from '../../src/nn/serialize-node.js';
import { type RunningServer, startServer } from '../../src/web/server.js';
import { runCli } from '../helpers/cli.js';

const tmp = mkdtempSync(path.join(tmpdir(), 'otsr-serve-'));
const root = path.join(tmp, 'web');
const modelDir = path.join(tmp, 'model');
let server: RunningServer;

before(async () => {
  mkdirSync(path.join(root, 'wasm'), { recursive: true });
  writeFileSync(path.join(root, 'index.html'), '<!doctype html><title>otsr</title>');
  writeFileSync(path.join(root, 'wasm', 'x.wasm'), new Uint8Array([0, 97, 115, 109]));
  writeFileSync(path.join(tmp, 'secret.txt'), 'not for the page');
  await initBackend('cpu');
  const m = new Mlp({ inDim: 2, hidden: [4], outDim: 2, seed: 1 });
  await saveModel(modelDir, m, { scale: 4 });
  m.dispose();
  server = await startServer({ root, model: modelDir, port: 0 });
});
after(async () => {
  await server?.close();
  rmSync(tmp, { recursive: true, force: true });
});

/** A raw request (the path is sent as is, unlike fetch, which normalises `..`). */
function get(rawPath: string, method = 'GET', host?: string): Promise<{ status: number; headers: Record<string, unknown>; body: string }> {
  return new Promise((resolve, reject) => {
    const headers = host === undefined ? {} : { Host: host };
    const req = request({ host: '127.0.0.1', port: server.port, path: rawPath, method, headers }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

test('serves the page on 127.0.0.1, cross-origin isolated, with the right types', async () => {
  assert.match(server.url, /^http:\/\/127\.0\.0\.1:\d+\/$/);
  const index = await get('/');
  assert.equal(index.status, 200);
  assert.match(index.body, /<title>otsr<\/title>/);
  assert.equal(index.headers['content-type'], 'text/html; charset=utf-8');
  assert.equal(index.headers['cross-origin-opener-policy'], 'same-origin');
  assert.equal(index.headers['cross-origin-embedder-policy'], 'require-corp');
  const wasm = await get('/wasm/x.wasm');
  assert.equal(wasm.headers['content-type'], 'application/wasm');
  const head = await get('/index.html', 'HEAD');
  assert.equal(head.status, 200);
  assert.equal(head.body, '');
});

test('config.json names the served model, whose listed files are served', async () => {
  const config = JSON.parse((await get('/config.json')).body) as { model: { url: string; name: string; scale: number } };
  assert.deepEqual(config.model, { url: 'model/', name: 'model', scale: 4 });
  const json = await get('/model/model.json');
  assert.equal(json.status, 200);
  assert.equal(JSON.parse(json.body).format, 'otsr-model');
  assert.equal((await get('/model/group1-shard1of1.bin')).status, 200);
});

test('nothing outside the page and the model files is served', async () => {
  writeFileSync(path.join(modelDir, 'notes.txt'), 'unlisted');
  for (const p of ['/model/notes.txt', '/../secret.txt', '/%2e%2e/secret.txt', '/wasm/../../secret.txt', '/model/../secret.txt', '/nope.js', '/wasm/']) {
    assert.equal((await get(p)).status, 404, p);
  }
  assert.equal((await get('/', 'POST')).status, 405);
  assert.equal((await get('/%E0%A4%A')).status, 400);
});

test('symbolic links out of the served folders are not followed', async () => {
  symlinkSync(path.join(tmp, 'secret.txt'), path.join(root, 'linked.txt'));
  symlinkSync(tmp, path.join(root, 'up'));
  assert.equal((await get('/linked.txt')).status, 404);
  assert.equal((await get('/up/secret.txt')).status, 404);
  // A listed shard that is a link to elsewhere is not served either.
  const shard = path.join(modelDir, 'group1-shard1of1.bin');
  renameSync(shard, `${shard}.real`);
  symlinkSync(path.join(tmp, 'secret.txt'), shard);
  try {
    assert.equal((await get('/model/group1-shard1of1.bin')).status, 404);
  } finally {
    rmSync(shard);
    renameSync(`${shard}.real`, shard);
  }
  // Links that stay inside are fine.
  symlinkSync(path.join(root, 'index.html'), path.join(root, 'home.html'));
  assert.equal((await get('/home.html')).status, 200);
});

test('only loopback names in the Host header are answered (DNS rebinding)', async () => {
  for (const host of ['evil.example', `evil.example:${server.port}`, `127.0.0.1:${server.port + 1}`, '127.0.0.1.evil.example']) {
    assert.equal((await get('/', 'GET', host)).status, 421, host);
    assert.equal((await get('/config.json', 'GET', host)).status, 421, host);
  }
  for (const host of [`127.0.0.1:${server.port}`, `localhost:${server.port}`, `[::1]:${server.port}`, 'localhost']) {
    assert.equal((await get('/', 'GET', host)).status, 200, host);
  }
});

test('clear errors: page not built, not a model folder, port in use', async () => {
  await assert.rejects(startServer({ root: path.join(tmp, 'nothing'), port: 0 }), (e: unknown) => e instanceof UsageError && /npm run build:web/.test(e.message));
  await assert.rejects(startServer({ root, model: tmp, port: 0 }), (e: unknown) => e instanceof InputError && /no model\.json/.test(e.message));
  await assert.rejects(startServer({ root, model: path.join(tmp, 'missing'), port: 0 }), InputError);
  await assert.rejects(startServer({ root, port: server.port }), (e: unknown) => e instanceof UsageError && /in use/.test(e.message));
});

test('otsr serve: bad options are one-line errors', () => {
  const r = runCli(['serve', '--root', path.join(tmp, 'nothing'), '--port', '0']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /^otsr: the page is not built .*npm run build:web/);
  const p = runCli(['serve', '--port', '70000']);
  assert.notEqual(p.code, 0);
  assert.match(p.stderr, /--port must be an integer in \[0, 65535\]/);
});
