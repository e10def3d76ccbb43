import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { after, test } from 'node:test';
import { crc32 as nodeCrc32 } from 'node:zlib';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../../src/engine/backend.js';
import { Edsr } from '../../src/nn/edsr.js';
import { encodeModel } from '../../src/nn/serialize.js';
import { loadModel } from '../../src/nn/serialize-node.js';
import { crc32, zipStore } from '../../src/util/zip.js';
import { tempDir } from '../helpers/images.js';

const tmp = tempDir('otsr-zip-');
after(() => tmp.cleanup());

/** Python's zipfile, an independent reader: checks every CRC and extracts into `dir`. */
function pythonUnzip(zip: string, dir: string): string[] {
  const script =
    'import sys, zipfile, json\n' +
    'z = zipfile.ZipFile(sys.argv[1])\n' +
    'bad = z.testzip()\n' +
    'assert bad is None, bad\n' +
    'z.extractall(sys.argv[2])\n' +
    'print(json.dumps(z.namelist()))\n';
  return JSON.parse(execFileSync('python3', ['-c', script, zip, dir], { encoding: 'utf8' })) as string[];
}

test('crc32 matches zlib', () => {
  for (const bytes of [new Uint8Array(0), new TextEncoder().encode('123456789'), Uint8Array.from({ length: 1000 }, (_, i) => (i * 31) & 255)]) {
    assert.equal(crc32(bytes), nodeCrc32(bytes));
  }
  assert.equal(crc32(new TextEncoder().encode('123456789')), 0xcbf43926);
});

test('a zip of files, names with folders and UTF-8, reads back exactly with Python zipfile', () => {
  const files = new Map<string, Uint8Array>([
    ['a/model.json', new TextEncoder().encode('{"x": 1}\n')],
    ['a/weights.bin', Uint8Array.from({ length: 70_000 }, (_, i) => (i * 7) & 255)],
    ['a/empty', new Uint8Array(0)],
    ['ü/é.txt', new TextEncoder().encode('ok')],
  ]);
  const zip = path.join(tmp.dir, 'x.zip');
  writeFileSync(zip, zipStore(files));
  const out = path.join(tmp.dir, 'x');
  assert.deepEqual(pythonUnzip(zip, out), [...files.keys()]);
  for (const [name, bytes] of files) assert.deepEqual(new Uint8Array(readFileSync(path.join(out, name))), bytes);
});

test('an exported model zip unpacks into a folder that loadModel reads', async () => {
  await initBackend('cpu');
  const edsr = new Edsr({ nResBlocks: 1, nFeats: 4, scale: 2, seed: 3 });
  const files = await encodeModel(edsr, { scale: 2 });
  const zip = path.join(tmp.dir, 'model.zip');
  writeFileSync(zip, zipStore([...files].map(([n, b]) => [`my-model/${n}`, b] as [string, Uint8Array])));
  const out = path.join(tmp.dir, 'unzipped');
  mkdirSync(out);
  pythonUnzip(zip, out);
  const loaded = await loadModel(path.join(out, 'my-model'));
  const x = tf.randomUniform([1, 5, 6, 3], -1, 1, 'float32', 1);
  const [a, b] = [edsr.apply(x), loaded.module.apply(x)];
  assert.deepEqual(await b.data(), await a.data());
  tf.dispose([x, a, b]);
  edsr.dispose();
  loaded.module.dispose();
});
