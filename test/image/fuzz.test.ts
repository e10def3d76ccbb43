import assert from 'node:assert/strict';
import { test } from 'node:test';
import { InputError } from '../../src/errors.js';
import { decodeImage } from '../../src/image/io.js';
import { Rng } from '../../src/util/rng.js';
import { rawRgb } from '../helpers/images.js';

/**
 * Random and mutated bytes through the decoder: every input either decodes to a consistent RGB image or
 * is refused with an InputError; nothing else escapes, nothing hangs (the runner's timeout would fail it).
 */
async function fuzz(seed: number, sources: Buffer[], rounds: number) {
  const rng = new Rng(seed);
  const outcomes = { decoded: 0, refused: 0 };
  for (let k = 0; k < rounds; k++) {
    const src = sources[rng.int(sources.length)]!;
    let bytes: Buffer;
    const mode = rng.int(4);
    if (mode === 0) {
      bytes = Buffer.from(Array.from({ length: 1 + rng.int(300) }, () => rng.int(256)));
    } else if (mode === 1) {
      bytes = Buffer.from(src.subarray(0, rng.int(src.length)));
    } else {
      bytes = Buffer.from(src);
      const flips = 1 + rng.int(mode === 2 ? 4 : 40);
      // Mostly in the first bytes, where headers and sizes live.
      for (let i = 0; i < flips; i++) bytes[rng.int(Math.min(bytes.length, rng.next() < 0.5 ? 64 : bytes.length))] = rng.int(256);
    }
    try {
      const img = await decodeImage(bytes, `fuzz#${k}`, { maxPixels: 4_000_000 });
      assert.equal(img.data.length, img.width * img.height * 3);
      outcomes.decoded++;
    } catch (err) {
      assert.ok(err instanceof InputError, `round ${k} (mode ${mode}): ${String(err)}`);
      assert.doesNotMatch(err.message, /\n/);
      outcomes.refused++;
    }
  }
  return outcomes;
}

test('fuzz: random and mutated PNG / JPEG / WebP bytes never crash the loader', async () => {
  const sources = await Promise.all([
    rawRgb(24, 16).png().toBuffer(),
    rawRgb(24, 16).png({ palette: true }).toBuffer(),
    rawRgb(24, 16).jpeg({ quality: 80 }).toBuffer(),
    rawRgb(24, 16).jpeg({ quality: 80, progressive: true }).toBuffer(),
    rawRgb(24, 16).webp({ quality: 80 }).toBuffer(),
  ]);
  const { decoded, refused } = await fuzz(2024, sources, 400);
  assert.equal(decoded + refused, 400);
  assert.ok(refused > 100, `most mutations are refused (${refused})`);
});
