import assert from 'node:assert/strict';
import path from 'node:path';
import { before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { ImageFolderSampler } from '../../src/data/image-folder.js';
import { parseDegradation } from '../../src/data/degradation.js';
import { SyntheticPairSampler, pairMargin } from '../../src/data/synthetic-pairs.js';
import { openUnpairedFolders } from '../../src/data/unpaired.js';
import { initBackend } from '../../src/engine/backend.js';
import { degradeImage, sharpJpegRoundTrip } from '../../src/image/degrade.js';
import { Rng } from '../../src/util/rng.js';
import { repoRoot } from '../helpers/cli.js';

const hrFolder = path.join(repoRoot, 'assets/demo/hr');
const lrFolder = path.join(repoRoot, 'assets/demo/lr');

before(async () => {
  await initBackend('cpu');
});

async function pairs(degradation: Parameters<typeof parseDegradation>[0], seed = 7, crop = 16) {
  const big = await ImageFolderSampler.open({ folders: hrFolder, crop: crop + 2 * pairMargin(4), seed, flips: false, rotations: false, onWarning: () => {} });
  return { big, sampler: new SyntheticPairSampler(big, 4, crop, parseDegradation(degradation), seed + 1, sharpJpegRoundTrip) };
}

test('a fixed degradation pairs each HR crop with the centre of its degraded larger crop', async () => {
  const { sampler } = await pairs('blur=1.2,noise=8,jpeg=60');
  // The same HR sampler, drawn again from the same state, gives the larger crops the pairs were cut from.
  const { big: twin } = await pairs('bicubic');
  const { x, y } = await sampler.samplePairs(3);
  assert.deepEqual(x.shape, [3, 4, 4, 3]);
  assert.deepEqual(y.shape, [3, 16, 16, 3]);
  const crops = await twin.sample(3);
  const [xs, ys, cs] = [await x.data(), await y.data(), await crops.data()];
  const m = pairMargin(4);
  const side = 16 + 2 * m;
  const rng = new Rng(8); // the pair sampler's degradation stream (seed + 1)
  for (let b = 0; b < 3; b++) {
    const bytes = new Uint8Array(side * side * 3);
    for (let i = 0; i < bytes.length; i++) bytes[i] = Math.round((cs[b * bytes.length + i]! + 1) * 127.5);
    const { image: lr } = await degradeImage({ width: side, height: side, data: bytes }, { scale: 4, blur: 1.2, noise: 8, jpeg: 60 }, rng);
    for (let r = 0; r < 16; r++) {
      for (let c = 0; c < 16; c++) {
        for (let k = 0; k < 3; k++) {
          const want = bytes[((m + r) * side + m + c) * 3 + k]! / 127.5 - 1;
          assert.ok(Math.abs(ys[((b * 16 + r) * 16 + c) * 3 + k]! - want) < 1e-6);
        }
      }
    }
    for (let r = 0; r < 4; r++) {
      for (let c = 0; c < 4; c++) {
        for (let k = 0; k < 3; k++) {
          const want = lr.data[((m / 4 + r) * lr.width + m / 4 + c) * 3 + k]! / 127.5 - 1;
          assert.ok(Math.abs(xs[((b * 4 + r) * 4 + c) * 3 + k]! - want) < 1e-6, `LR pixel ${b} ${r} ${c} ${k}`);
        }
      }
    }
  }
  tf.dispose([x, y, crops]);
});

test('bicubic pairs: the LR crop is the HR crop downscaled (close to its 4x4 area average)', async () => {
  const { sampler } = await pairs('bicubic', 11, 32);
  const { x, y } = await sampler.samplePairs(4);
  const down = tf.tidy(() => tf.avgPool(y, 4, 4, 'valid'));
  const err = tf.tidy(() => tf.mean(tf.abs(tf.sub(down, x))).dataSync()[0]!);
  assert.ok(err < 0.06, `mean |avgpool(HR) - LR| ${err}`);
  tf.dispose([x, y, down]);
});

test('state: a sampler restored from getState draws the same pairs; openUnpairedFolders makes pairs only when asked', async () => {
  const { sampler } = await pairs('blind', 3);
  tf.dispose(Object.values(await sampler.samplePairs(2)));
  const state = JSON.parse(JSON.stringify(sampler.getState())) as unknown;
  const a = await sampler.samplePairs(2);
  const { sampler: other } = await pairs('blind', 99);
  other.setState(state);
  const b = await other.samplePairs(2);
  assert.deepEqual(await a.x.data(), await b.x.data());
  assert.deepEqual(await a.y.data(), await b.y.data());
  tf.dispose([a.x, a.y, b.x, b.y]);
  assert.throws(() => other.setState({}), /not a synthetic pair sampler state/);

  const opts = { lr: lrFolder, hr: hrFolder, scale: 4, crop: 16, seed: 1, onWarning: () => {} };
  const plain = await openUnpairedFolders(opts);
  assert.equal(plain.pairs, undefined);
  const withPairs = await openUnpairedFolders({ ...opts, pairs: 'blind' });
  assert.deepEqual(withPairs.pairs!.hrShape, [16, 16, 3]);
  // The LR and HR samplers draw what they draw without pairs.
  const [p, q] = [await plain.hr.sample(2), await withPairs.hr.sample(2)];
  assert.deepEqual(await p.data(), await q.data());
  tf.dispose([p, q]);
});
