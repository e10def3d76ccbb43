import assert from 'node:assert/strict';
import * as path from 'node:path';
import { test } from 'node:test';
import { InputError } from '../../src/errors.js';
import { ImageCache } from '../../src/data/cache.js';
import { listImages } from '../../src/data/folder.js';
import type { RgbImage } from '../../src/image/io.js';
import { unpairedX4 } from '../helpers/data.js';

/** A fake decoder: image i is i x 10 pixels (30 i bytes), counting decodes. */
function fakeLoader() {
  const decoded: string[] = [];
  const load = async (file: string): Promise<RgbImage> => {
    await new Promise((r) => setTimeout(r, 1));
    if (file.startsWith('bad')) throw new InputError(file, 'not an image');
    decoded.push(file);
    const n = Number(file);
    return { width: n, height: 10, data: new Uint8Array(n * 30), alpha: new Uint8Array(n * 10) };
  };
  return { load, decoded };
}

test('LRU within the byte budget: evicts the least recently used, counts hits and misses', async () => {
  const { load, decoded } = fakeLoader();
  const cache = new ImageCache({ budgetBytes: 1000, load });
  await cache.get('10'); // 300 B
  await cache.get('20'); // 600 B -> 900
  await cache.get('10'); // hit, 10 becomes most recent
  await cache.get('5'); // 150 B -> over budget: evicts 20 (least recent)
  assert.deepEqual(decoded, ['10', '20', '5']);
  assert.ok(cache.has('10') && cache.has('5') && !cache.has('20'));
  let s = cache.stats;
  assert.equal(s.bytes, 450);
  assert.equal(s.hits, 1);
  assert.equal(s.misses, 3);
  assert.equal(s.evictions, 1);
  assert.ok(s.peakBytes <= 1000);
  // Alpha is dropped by default: only RGB bytes are held.
  assert.equal((await cache.get('10')).alpha, undefined);
  // Larger than the whole budget: returned, not kept, nothing evicted for it.
  const big = await cache.get('40');
  assert.equal(big.width, 40);
  assert.ok(!cache.has('40'));
  s = cache.stats;
  assert.equal(s.bytes, 450);
  assert.equal(s.entries, 2);
});

test('concurrent requests for one file decode it once; errors are not cached', async () => {
  const { load, decoded } = fakeLoader();
  const cache = new ImageCache({ budgetBytes: 10_000, load });
  const [a, b] = await Promise.all([cache.get('7'), cache.get('7')]);
  assert.equal(a, b);
  assert.deepEqual(decoded, ['7']);
  await assert.rejects(cache.get('bad1'), InputError);
  await assert.rejects(cache.get('bad1'), InputError);
  assert.equal(cache.stats.misses, 3);
  assert.ok(!cache.has('bad1'));
});

test('real photos: held bytes never exceed the budget while streaming a whole folder', async () => {
  const files = await listImages(path.join(unpairedX4, 'train', 'lr'));
  const budget = 1_000_000;
  const cache = new ImageCache({ budgetBytes: budget });
  let sum = 0;
  for (const f of files) {
    const img = await cache.get(f);
    sum += img.data.byteLength;
    assert.ok(cache.stats.bytes <= budget);
  }
  assert.ok(sum > 2 * budget, `the folder (${sum} B) is larger than the budget`);
  assert.ok(cache.stats.peakBytes <= budget);
  assert.ok(cache.stats.evictions > 0);
  assert.ok(cache.stats.entries < files.length);
});
