import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync, truncateSync, unlinkSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../../src/engine/backend.js';
import { InputError, UsageError } from '../../src/errors.js';
import { Critic } from '../../src/nn/critic.js';
import { Edsr } from '../../src/nn/edsr.js';
import { Mlp } from '../../src/nn/mlp.js';
import type { Module } from '../../src/nn/module.js';
import { Unet } from '../../src/nn/unet.js';
import {
  MODEL_FORMAT_VERSION,
  SHARD_BYTES,
  encodeModel,
  loadModelFromFiles,
  loadModelFromUrl,
} from '../../src/nn/serialize.js';
import { loadModel, saveModel } from '../../src/nn/serialize-node.js';
import { writeFolderAtomic } from '../../src/util/atomic-write.js';
import { OTSR_VERSION } from '../../src/version.js';
import { repoRoot } from '../helpers/cli.js';

const root = mkdtempSync(join(tmpdir(), 'otsr-serialize-'));
after(() => rmSync(root, { recursive: true, force: true }));
let counter = 0;
const freshDir = () => join(root, `m${counter++}`);

async function outputsEqual(a: Module, b: Module, x: tf.Tensor): Promise<void> {
  const [ya, yb] = [a.apply(x), b.apply(x)];
  assert.deepEqual(await yb.data(), await ya.data());
  tf.dispose([ya, yb]);
}

test('save -> load round trip gives identical outputs for every kind', async () => {
  await initBackend('cpu');
  const cases: [Module, number[]][] = [
    [new Edsr({ nResBlocks: 2, nFeats: 4, scale: 4, resScale: 0.5, seed: 1 }), [1, 5, 4, 3]],
    [new Critic({ size: 8, nFeats: 2, maxFeats: 8, seed: 2 }), [2, 8, 8, 3]],
    [new Unet({ inChannels: 3, outChannels: 3, base: 2, depth: 2, residual: true, seed: 3 }), [1, 6, 7, 3]],
    [new Mlp({ inDim: 3, hidden: [6], outDim: 3, residual: true, seed: 4 }), [5, 3]],
  ];
  for (const [m, shape] of cases) {
    const dir = freshDir();
    await saveModel(dir, m, { scale: 4, training: { solver: 'ots', steps: 10 } });
    assert.deepEqual(readdirSync(dir).sort(), ['group1-shard1of1.bin', 'model.json']);
    const json = JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8'));
    assert.equal(json.format, 'otsr-model');
    assert.equal(json.formatVersion, 1);
    assert.deepEqual(json.arch, m.spec);
    assert.deepEqual(json.weightsManifest[0].paths, ['group1-shard1of1.bin']);
    assert.deepEqual(json.weightsManifest[0].weights[0], {
      name: [...m.params.keys()][0],
      shape: [...m.params.values()][0]!.shape,
      dtype: 'float32',
    });
    assert.equal(statSync(join(dir, 'group1-shard1of1.bin')).size, 4 * m.parameterCount());

    const loaded = await loadModel(dir);
    assert.equal(loaded.module.constructor, m.constructor);
    assert.deepEqual(loaded.arch, m.spec);
    assert.equal(loaded.formatVersion, MODEL_FORMAT_VERSION);
    assert.equal(loaded.manifest.scale, 4);
    assert.deepEqual(loaded.manifest.training, { solver: 'ots', steps: 10 });
    assert.deepEqual(loaded.manifest.dataRange, [-1, 1]);
    assert.equal(loaded.manifest.otsrVersion, OTSR_VERSION);
    assert.ok(!Number.isNaN(Date.parse(loaded.manifest.created)));
    const x = tf.randomUniform(shape, -1, 1, 'float32', 9);
    await outputsEqual(m, loaded.module, x);
    x.dispose();
    loaded.module.dispose();
    m.dispose();
  }
});

test('models over 4 MiB are split into 4 MiB shards and load back exactly', async () => {
  await initBackend('cpu');
  const m = new Mlp({ inDim: 1000, hidden: [1100], outDim: 2, seed: 5 }); // 1.1 M floats, 4.4 MB
  const dir = freshDir();
  await saveModel(dir, m);
  assert.deepEqual(readdirSync(dir).sort(), ['group1-shard1of2.bin', 'group1-shard2of2.bin', 'model.json']);
  assert.equal(statSync(join(dir, 'group1-shard1of2.bin')).size, SHARD_BYTES);
  assert.equal(statSync(join(dir, 'group1-shard2of2.bin')).size, 4 * m.parameterCount() - SHARD_BYTES);
  const loaded = await loadModel(join(dir, 'model.json')); // the model.json path works too
  const x = tf.randomNormal([3, 1000], 0, 1, 'float32', 6);
  await outputsEqual(m, loaded.module, x);
  x.dispose();
  loaded.module.dispose();

  // Truncating the first shard is reported on that shard, not the last.
  truncateSync(join(dir, 'group1-shard1of2.bin'), 1000);
  await assert.rejects(loadModel(dir), (err: Error) => err instanceof InputError && err.message.startsWith(join(dir, 'group1-shard1of2.bin')) && /truncated/.test(err.message));
  m.dispose();
});

test('the browser loaders read the same files from a Map and from a URL', async () => {
  await initBackend('cpu');
  const m = new Edsr({ nResBlocks: 1, nFeats: 4, scale: 2, seed: 7 });
  const files = await encodeModel(m, { scale: 2 });
  const x = tf.randomUniform([1, 4, 4, 3], -1, 1, 'float32', 8);

  // Picked files, possibly with a folder in their names.
  const picked = new Map<string, ArrayBuffer>();
  for (const [name, bytes] of files) picked.set(`my-model/${name}`, bytes.slice().buffer);
  const fromFiles = await loadModelFromFiles(picked);
  await outputsEqual(m, fromFiles.module, x);
  fromFiles.module.dispose();

  // A real HTTP server and the global fetch.
  const served: string[] = [];
  const server = createServer((req, res) => {
    const name = req.url!.replace(/^\/models\/edsr\//, '');
    served.push(name);
    const body = files.get(name);
    if (body === undefined) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'application/octet-stream' }).end(body);
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  try {
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/models/edsr`;
    for (const url of [base, `${base}/`, `${base}/model.json`]) {
      const fromUrl = await loadModelFromUrl(url);
      await outputsEqual(m, fromUrl.module, x);
      assert.equal(fromUrl.manifest.scale, 2);
      fromUrl.module.dispose();
    }
    assert.deepEqual(served.slice(0, 2), ['model.json', 'group1-shard1of1.bin']);
    await assert.rejects(
      loadModelFromUrl(`http://127.0.0.1:${(server.address() as AddressInfo).port}/nothing/`),
      (err: Error) => err instanceof InputError && /nothing\/model\.json: missing/.test(err.message),
    );
  } finally {
    server.close();
  }
  x.dispose();
  m.dispose();
});

test('each damaged or foreign model gives an InputError naming the file and the problem', async () => {
  await initBackend('cpu');
  const m = new Edsr({ nResBlocks: 1, nFeats: 4, scale: 2, seed: 9 });
  const good = freshDir();
  await saveModel(good, m);
  const goodJson = readFileSync(join(good, 'model.json'), 'utf8');
  const shard = readFileSync(join(good, 'group1-shard1of1.bin'));

  /** Writes a copy of the good model, lets `damage` change it, and expects loading to fail. */
  const expectBad = async (what: string, damage: (dir: string, json: any) => unknown, file: string, problem: RegExp) => {
    const dir = freshDir();
    await saveModel(dir, m);
    const json = JSON.parse(goodJson);
    // A damage function that returns 'raw' has written model.json itself.
    if (damage(dir, json) !== 'raw' && readdirSync(dir).includes('model.json')) {
      writeFileSync(join(dir, 'model.json'), JSON.stringify(json));
    }
    const before = tf.memory().numTensors;
    await assert.rejects(loadModel(dir), (err: Error) => {
      assert.ok(err instanceof InputError, `${what}: ${err.constructor.name} ${err.message}`);
      assert.equal(err.path, join(dir, file), what);
      assert.match(err.message, problem, what);
      return true;
    });
    assert.equal(tf.memory().numTensors, before, `${what}: tensors leaked`);
  };

  await assert.rejects(loadModel(join(root, 'no-such-dir')), (err: Error) => err instanceof InputError && /no such model folder/.test(err.message));
  await expectBad('missing model.json', (dir) => unlinkSync(join(dir, 'model.json')), 'model.json', /missing: not an otsr model/);
  await expectBad('truncated model.json', (dir) => {
    writeFileSync(join(dir, 'model.json'), goodJson.slice(0, 100));
    return 'raw';
  }, 'model.json', /is not valid JSON/);
  await expectBad('layers model', (_d, j) => (j.format = 'layers-model'), 'model.json', /has format "layers-model"; expected "otsr-model" \(not an otsr model\)/);
  await expectBad('no format', (_d, j) => delete j.format, 'model.json', /has no "format" field/);
  await expectBad('newer version', (_d, j) => (j.formatVersion = 2), 'model.json', /formatVersion 2, newer than this otsr .* reads \(up to 1\); upgrade otsr/);
  await expectBad('bad version', (_d, j) => (j.formatVersion = '1'), 'model.json', /invalid formatVersion "1"/);
  await expectBad('unknown arch', (_d, j) => (j.arch = { kind: 'vgg' }), 'model.json', /invalid architecture: arch: unknown kind "vgg"/);
  await expectBad('wrong shape', (_d, j) => (j.arch.nFeats = 8), 'model.json',
    /weights do not match the edsr architecture: head\.w has shape \[3, 3, 3, 4\] in the file, \[3, 3, 3, 8\] in the architecture/);
  await expectBad('more blocks', (_d, j) => (j.arch.nResBlocks = 2), 'model.json', /missing weight\(s\) body\.1\.conv1\.w, body\.1\.conv1\.b/);
  await expectBad('renamed weight', (_d, j) => (j.weightsManifest[0].weights[0].name = 'stem.w'), 'model.json', /unexpected weight stem\.w/);
  await expectBad('float16', (_d, j) => (j.weightsManifest[0].weights[0].dtype = 'float16'), 'model.json', /dtype "float16"; otsr reads float32 only/);
  await expectBad('escaping path', (_d, j) => (j.weightsManifest[0].paths = ['../secret.bin']), 'model.json', /must be a file name in the model folder/);
  await expectBad('missing shard', (dir) => unlinkSync(join(dir, 'group1-shard1of1.bin')), 'group1-shard1of1.bin', /missing weight shard/);
  await expectBad('truncated shard', (dir) => writeFileSync(join(dir, 'group1-shard1of1.bin'), shard.subarray(0, shard.length - 4)), 'group1-shard1of1.bin',
    new RegExp(`truncated: the weights listed in model.json need ${shard.length} bytes, the shards hold ${shard.length - 4}`));
  await expectBad('long shard', (dir) => writeFileSync(join(dir, 'group1-shard1of1.bin'), Buffer.concat([shard, Buffer.alloc(8)])), 'group1-shard1of1.bin', /too long/);
  await expectBad('NaN weight', (dir) => {
    const bad = Buffer.from(shard);
    bad.writeFloatLE(Number.NaN, 4 * 17);
    writeFileSync(join(dir, 'group1-shard1of1.bin'), bad);
  }, 'group1-shard1of1.bin', /damaged: weight values include NaN/);
  await expectBad('bad scale', (_d, j) => (j.otsr.scale = 0.5), 'model.json', /invalid scale 0\.5/);
  await expectBad('scale of another model', (_d, j) => (j.otsr.scale = 4), 'model.json', /the manifest says scale 4, the edsr architecture upscales x2/);
  await expectBad('huge arch', (_d, j) => (j.arch.nFeats = 50_000), 'model.json', /it has \d+ parameters, the file holds \d+/);
  await expectBad('name with a newline', (_d, j) => (j.weightsManifest[0].weights[0].name = 'a\nb'), 'model.json', /unexpected weight a\\u000ab/);
  m.dispose();
});

test('saving is atomic: it replaces an old model whole, refuses foreign folders and leaves no temp files', async () => {
  await initBackend('cpu');
  const a = new Critic({ size: 8, nFeats: 2, maxFeats: 4, seed: 1 });
  const b = new Unet({ inChannels: 3, outChannels: 1, base: 2, depth: 1, seed: 2 });
  const parent = freshDir();
  const dir = join(parent, 'nested', 'model');
  await saveModel(dir, a); // creates missing parents
  await saveModel(dir, b); // replaces the critic by the unet
  const loaded = await loadModel(dir);
  assert.equal(loaded.arch.kind, 'unet');
  loaded.module.dispose();
  assert.deepEqual(readdirSync(join(parent, 'nested')), ['model']);

  // A folder with files otsr did not write is never replaced.
  const foreign = join(parent, 'photos');
  await writeFolderAtomic(foreign, new Map([['cat.jpg', 'meow']]));
  await assert.rejects(saveModel(foreign, a), (err: Error) => err instanceof UsageError && /holds other files; refusing/.test(err.message));
  assert.deepEqual(readdirSync(foreign), ['cat.jpg']);

  // A write that fails half-way leaves the old folder as it was and no temporary folder behind.
  const broken = new Map<string, Uint8Array>([['model.json', new Uint8Array([1])], ['x.bin', 42 as unknown as Uint8Array]]);
  await assert.rejects(writeFolderAtomic(dir, broken, { replace: () => true }));
  assert.deepEqual(readdirSync(join(parent, 'nested')), ['model']);
  const still = await loadModel(dir);
  assert.equal(still.arch.kind, 'unet');
  still.module.dispose();
  a.dispose();
  b.dispose();
});

test('the browser loader imports nothing from Node (serialize.ts and everything it imports)', () => {
  const seen = new Set<string>();
  const visit = (file: string) => {
    if (seen.has(file)) return;
    seen.add(file);
    const src = readFileSync(file, 'utf8');
    for (const [, spec] of src.matchAll(/^\s*(?:import|export)\s[^'"]*?from\s+'([^']+)'/gm)) {
      assert.ok(!/^(node:|fs|path|os|crypto|url|child_process|worker_threads)/.test(spec!), `${file} imports ${spec}`);
      if (spec!.startsWith('.')) visit(join(file, '..', spec!.replace(/\.js$/, '.ts')));
    }
  };
  visit(join(repoRoot, 'src/nn/serialize.ts'));
  assert.ok(seen.size >= 8, `only ${seen.size} modules visited`);
});
