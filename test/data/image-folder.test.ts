import assert from 'node:assert/strict';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { InputError, OtsrError, UsageError } from '../../src/errors.js';
import { sourceOf } from '../../src/data/augment.js';
import { ImageFolderSampler, type CropRecord } from '../../src/data/image-folder.js';
import { openUnpairedFolders } from '../../src/data/unpaired.js';
import { readImage, type RgbImage } from '../../src/image/io.js';
import { unpairedX4 } from '../helpers/data.js';
import { hugeHeaderPng, rawRgb, tempDir, writeBytes, writePng } from '../helpers/images.js';

const LR = path.join(unpairedX4, 'train', 'lr');
const HR = path.join(unpairedX4, 'train', 'hr');
const quiet = { onWarning: () => undefined };

let tmp: { dir: string; cleanup: () => void };
before(async () => {
  tmp = tempDir();
  await tf.setBackend('cpu');
});
after(() => tmp.cleanup());

/** The expected crop, computed independently: pixel-by-pixel with the documented transform. */
function expectedCrop(img: RgbImage, r: CropRecord): Float32Array {
  const out = new Float32Array(r.size * r.size * 3);
  for (let i = 0; i < r.size; i++) {
    for (let j = 0; j < r.size; j++) {
      const [a, b] = sourceOf(i, j, r.size, r.rot, r.flip);
      for (let c = 0; c < 3; c++) out[(i * r.size + j) * 3 + c] = img.data[((r.y + a) * img.width + r.x + b) * 3 + c]! / 127.5 - 1;
    }
  }
  return out;
}

test('crops are cut from the right place with the recorded flip/turn, values in [-1, 1]', async () => {
  const s = await ImageFolderSampler.open({ folders: LR, crop: 24, seed: 1, ...quiet });
  assert.equal(s.files.length, 21);
  assert.deepEqual(s.shape, [24, 24, 3]);
  const { data, crops } = await s.sampleData(6);
  assert.equal(data.length, 6 * 24 * 24 * 3);
  for (const [k, r] of crops.entries()) {
    const img = await readImage(r.file);
    assert.ok(r.x >= 0 && r.y >= 0 && r.x + 24 <= img.width && r.y + 24 <= img.height);
    assert.deepEqual(data.subarray(k * 24 * 24 * 3, (k + 1) * 24 * 24 * 3), expectedCrop(img, r));
  }
  assert.ok(Math.min(...data) >= -1 && Math.max(...data) <= 1);
});

test('each epoch visits every file once, in a seeded order; all 8 symmetries occur; switches honoured', async () => {
  const s = await ImageFolderSampler.open({ folders: LR, crop: 16, seed: 5, ...quiet });
  const first = (await s.sampleData(21)).crops;
  assert.equal(new Set(first.map((c) => c.file)).size, 21);
  assert.equal(s.epochs, 0);
  const second = (await s.sampleData(21)).crops;
  assert.equal(new Set(second.map((c) => c.file)).size, 21);
  assert.equal(s.epochs, 1);
  assert.notDeepEqual(first.map((c) => c.file), second.map((c) => c.file), 'a new order each epoch');
  const kinds = new Set([...first, ...second].map((c) => `${c.rot}${c.flip}`));
  assert.equal(kinds.size, 8);

  const plain = await ImageFolderSampler.open({ folders: LR, crop: 16, seed: 5, flips: false, rotations: false, ...quiet });
  const crops = (await plain.sampleData(21)).crops;
  assert.ok(crops.every((c) => c.rot === 0 && !c.flip));
  const flipsOnly = await ImageFolderSampler.open({ folders: LR, crop: 16, seed: 5, rotations: false, ...quiet });
  const fc = (await flipsOnly.sampleData(21)).crops;
  assert.ok(fc.every((c) => c.rot === 0) && fc.some((c) => c.flip) && fc.some((c) => !c.flip));
});

test('same seed, same batches; another seed, other batches', async () => {
  const a = await ImageFolderSampler.open({ folders: LR, crop: 20, seed: 3, ...quiet });
  const b = await ImageFolderSampler.open({ folders: LR, crop: 20, seed: 3, ...quiet });
  const c = await ImageFolderSampler.open({ folders: LR, crop: 20, seed: 4, ...quiet });
  for (let k = 0; k < 3; k++) {
    const [da, db, dc] = await Promise.all([a.sampleData(4), b.sampleData(4), c.sampleData(4)]);
    assert.deepEqual(da.data, db.data);
    assert.notDeepEqual(da.data, dc.data);
  }
});

test('getState/setState resume exactly, through JSON and across epochs', async () => {
  const a = await ImageFolderSampler.open({ folders: LR, crop: 20, seed: 9, ...quiet });
  await a.sampleData(8);
  const saved = JSON.parse(JSON.stringify(a.getState()));
  const rest: Float32Array[] = [];
  for (let k = 0; k < 4; k++) rest.push((await a.sampleData(8)).data); // 40 draws: crosses two epoch boundaries
  const b = await ImageFolderSampler.open({ folders: LR, crop: 20, seed: 12345, ...quiet });
  b.setState(saved);
  for (let k = 0; k < 4; k++) assert.deepEqual((await b.sampleData(8)).data, rest[k], `batch ${k}`);
  assert.deepEqual(b.getState(), a.getState());
});

test('sample() gives a float32 tensor [batch, c, c, 3] equal to sampleData', async () => {
  const a = await ImageFolderSampler.open({ folders: LR, crop: 12, seed: 2, ...quiet });
  const b = await ImageFolderSampler.open({ folders: LR, crop: 12, seed: 2, ...quiet });
  const before = tf.memory().numTensors;
  const t = await a.sample(3);
  assert.deepEqual(t.shape, [3, 12, 12, 3]);
  assert.equal(t.dtype, 'float32');
  assert.deepEqual(t.dataSync(), (await b.sampleData(3)).data);
  t.dispose();
  assert.equal(tf.memory().numTensors, before);
});

test('bad files are skipped with one warning each; resume past a decode-time failure is exact', async () => {
  const dir = path.join(tmp.dir, 'mixed');
  (await import('node:fs')).mkdirSync(dir);
  for (const k of [1, 2, 3]) await writePng(path.join(dir, `good${k}.png`), 40, 32, k);
  const png = await rawRgb(40, 32, 9).png().toBuffer();
  writeBytes(path.join(dir, 'truncated.png'), png.subarray(0, Math.floor(png.length * 0.6))); // header fine, data cut
  writeBytes(path.join(dir, 'zero.png'), new Uint8Array(0));
  writeBytes(path.join(dir, 'text.png'), 'hello');
  writeBytes(path.join(dir, 'bomb.png'), await hugeHeaderPng(30000, 30000));
  await writePng(path.join(dir, 'small.png'), 10, 40);
  await writePng(path.join(dir, 'one.png'), 1, 1);

  const warnings: string[] = [];
  const open = () => ImageFolderSampler.open({ folders: dir, crop: 16, seed: 7, onWarning: (m) => warnings.push(m) });
  const a = await open();
  assert.equal(warnings.length, 5, warnings.join('\n'));
  for (const name of ['zero.png', 'text.png', 'bomb.png', 'small.png', 'one.png']) {
    assert.equal(warnings.filter((w) => w.includes(path.join(dir, name))).length, 1, name);
  }
  assert.match(warnings.find((w) => w.includes('small.png'))!, /10x40 is smaller than the 16x16 crop/);
  assert.match(warnings.find((w) => w.includes('bomb.png'))!, /30000x30000/);
  assert.equal(a.files.length, 4, 'the truncated file passes the header check');

  warnings.length = 0;
  const batches: Float32Array[] = [];
  let saved: unknown;
  for (let k = 0; k < 8; k++) {
    if (k === 4) saved = a.getState();
    const { data, crops } = await a.sampleData(3);
    assert.ok(crops.every((c) => !c.file.endsWith('truncated.png')));
    batches.push(data);
  }
  assert.equal(warnings.length, 1, 'the truncated file is reported once');
  assert.match(warnings[0]!, /truncated\.png: truncated or corrupt/);

  // A fresh sampler does not know the file is bad; resumed mid-run, it must still draw the same batches.
  const b = await ImageFolderSampler.open({ folders: dir, crop: 16, seed: 99, ...quiet });
  b.setState(saved);
  for (let k = 4; k < 8; k++) assert.deepEqual((await b.sampleData(3)).data, batches[k], `batch ${k}`);
});

test('an empty, all-bad or all-too-small folder is an InputError before any sampling', async () => {
  const fs = await import('node:fs');
  const empty = path.join(tmp.dir, 'empty');
  fs.mkdirSync(empty);
  writeBytes(path.join(empty, 'readme.txt'), 'no images here');
  await assert.rejects(ImageFolderSampler.open({ folders: empty, crop: 8, seed: 1, ...quiet }), (e: unknown) => {
    return e instanceof InputError && e.message.startsWith(`${empty}: no image files`);
  });
  const bad = path.join(tmp.dir, 'bad');
  fs.mkdirSync(bad);
  writeBytes(path.join(bad, 'a.png'), 'text');
  writeBytes(path.join(bad, 'b.jpg'), new Uint8Array(0));
  await writePng(path.join(bad, 'c.png'), 4, 4);
  await assert.rejects(ImageFolderSampler.open({ folders: bad, crop: 8, seed: 1, ...quiet }), (e: unknown) => {
    return e instanceof InputError && /none of the 3 image files is usable \(2 unreadable, 1 smaller than the 8x8 crop\)/.test(e.message);
  });
  // Only truncated files: the headers pass, the first batch finds out.
  const trunc = path.join(tmp.dir, 'trunc');
  fs.mkdirSync(trunc);
  const png = await rawRgb(32, 32).png().toBuffer();
  writeBytes(path.join(trunc, 'a.png'), png.subarray(0, png.length >> 1));
  const s = await ImageFolderSampler.open({ folders: trunc, crop: 8, seed: 1, ...quiet });
  await assert.rejects(s.sampleData(2), (e: unknown) => e instanceof InputError && /none of the 1 images could be decoded/.test(e.message));
  await assert.rejects(ImageFolderSampler.open({ folders: path.join(tmp.dir, 'missing'), crop: 8, seed: 1 }), /folder not found/);
  await assert.rejects(ImageFolderSampler.open({ folders: LR, crop: 0, seed: 1 }), UsageError);
});

test('memory: HR photos streamed within the cache budget, at most `concurrency` decodes at once', async () => {
  let live = 0;
  let maxLive = 0;
  let decodes = 0;
  const load = async (file: string) => {
    live++;
    decodes++;
    maxLive = Math.max(maxLive, live);
    try {
      return await readImage(file);
    } finally {
      live--;
    }
  };
  const budget = 6 * 1024 * 1024; // about 3 of the 1024x680 photos (2.1 MB each)
  const s = await ImageFolderSampler.open({ folders: HR, crop: 96, seed: 1, cacheBytes: budget, concurrency: 2, prefetch: false, load, ...quiet });
  for (let k = 0; k < 4; k++) {
    await s.sampleData(4);
    assert.ok(s.cache.stats.bytes <= budget);
  }
  assert.ok(maxLive <= 2, `at most 2 decodes at once, saw ${maxLive}`);
  assert.equal(decodes, 16, 'one decode per crop: 16 distinct files, none cached twice');
  assert.ok(s.cache.stats.peakBytes <= budget);
  assert.ok(s.cache.stats.entries <= 3);
});

test('prefetch warms the cache with the next batch and changes no value', async () => {
  let live = 0;
  let maxLive = 0;
  const load = async (file: string) => {
    maxLive = Math.max(maxLive, ++live);
    try {
      return await readImage(file);
    } finally {
      live--;
    }
  };
  const opts = { folders: LR, crop: 16, seed: 4, cacheBytes: 64 * 1024 * 1024, concurrency: 2, ...quiet };
  const withPrefetch = await ImageFolderSampler.open({ ...opts, load });
  const without = await ImageFolderSampler.open({ ...opts, prefetch: false });
  const first = await withPrefetch.sampleData(5);
  assert.deepEqual(first.data, (await without.sampleData(5)).data);
  // Let the background decodes finish: the next draw's 5 files (unseen so far) are then in the cache.
  await new Promise((r) => setTimeout(r, 50));
  while (live > 0) await new Promise((r) => setTimeout(r, 20));
  const ahead = await ImageFolderSampler.open({ ...opts, prefetch: false });
  ahead.setState(withPrefetch.getState());
  const upcoming = (await ahead.sampleData(5)).crops.map((c) => c.file);
  assert.ok(upcoming.every((f) => !first.crops.some((c) => c.file === f)));
  assert.ok(upcoming.every((f) => withPrefetch.cache.has(f)), 'next batch prefetched');
  assert.equal(withPrefetch.cache.stats.entries, 10);
  for (let k = 0; k < 6; k++) {
    const a = await withPrefetch.sampleData(5); // crosses epoch boundaries
    assert.deepEqual(a.data, (await without.sampleData(5)).data, `batch ${k}`);
  }
  assert.ok(maxLive <= 4, `decodes at once: ${maxLive} (batch + prefetch, 2 each)`);
});

test('resuming on a different folder is refused', async () => {
  const a = await ImageFolderSampler.open({ folders: LR, crop: 16, seed: 1, ...quiet });
  const b = await ImageFolderSampler.open({ folders: HR, crop: 16, seed: 1, ...quiet });
  assert.throws(() => b.setState(a.getState()), (e: unknown) => e instanceof OtsrError && /differ from those of the saved run/.test(e.message));
  assert.throws(() => b.setState({ kind: 'other' }), OtsrError);
});

test('openUnpairedFolders: LR crops c/s and HR crops c, one shared cache; c must be a multiple of s', async () => {
  const p = await openUnpairedFolders({ lr: LR, hr: HR, scale: 4, crop: 64, seed: 1, ...quiet });
  assert.deepEqual(p.lr.shape, [16, 16, 3]);
  assert.deepEqual(p.hr.shape, [64, 64, 3]);
  assert.equal(p.lr.cache, p.hr.cache);
  const x = await p.lr.sample(2);
  const y = await p.hr.sample(2);
  assert.deepEqual(x.shape, [2, 16, 16, 3]);
  assert.deepEqual(y.shape, [2, 64, 64, 3]);
  tf.dispose([x, y]);
  await assert.rejects(openUnpairedFolders({ lr: LR, hr: HR, scale: 4, crop: 90, seed: 1 }), /multiple of the scale/);
});
