import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BLIND_DEGRADATION, drawDegradation, parseDegradation } from '../../src/data/degradation.js';
import { UsageError } from '../../src/errors.js';
import { Rng } from '../../src/util/rng.js';

test('parseDegradation: blind, bicubic and fixed specs; bad ones are usage errors naming the part', () => {
  assert.equal(parseDegradation('blind'), 'blind');
  assert.deepEqual(parseDegradation('bicubic'), {});
  assert.deepEqual(parseDegradation('blur=1.2,noise=8,jpeg=60'), { blur: 1.2, noise: 8, jpeg: 60 });
  assert.deepEqual(parseDegradation(' noise=3 '), { noise: 3 });
  for (const bad of ['blur', 'blur=x', 'jpeg=0', 'jpeg=60.5', 'sharpen=1', 'blur=-1', 'blur=1=2']) {
    assert.throws(() => parseDegradation(bad), (e: unknown) => e instanceof UsageError && e.message.includes('--degradation'), bad);
  }
});

test('drawDegradation: blind draws stay in the family and vary; a fixed spec is returned as is', () => {
  const rng = new Rng(5);
  const blurs = new Set<number>();
  let noisy = 0;
  let jpegs = 0;
  for (let i = 0; i < 400; i++) {
    const d = drawDegradation('blind', 4, rng);
    assert.equal(d.scale, 4);
    assert.ok(d.blur! >= BLIND_DEGRADATION.blur[0] && d.blur! <= BLIND_DEGRADATION.blur[1], `blur ${d.blur}`);
    if (d.noise! > 0) {
      noisy++;
      assert.ok(d.noise! >= BLIND_DEGRADATION.noise[0] && d.noise! <= BLIND_DEGRADATION.noise[1]);
    }
    if (d.jpeg !== undefined) {
      jpegs++;
      assert.ok(Number.isInteger(d.jpeg) && d.jpeg >= BLIND_DEGRADATION.jpeg[0] && d.jpeg <= BLIND_DEGRADATION.jpeg[1]);
    }
    blurs.add(d.blur!);
  }
  assert.ok(blurs.size > 390);
  // 0.7 and 0.8 of 400, within a wide binomial margin.
  assert.ok(noisy > 230 && noisy < 330, `noisy ${noisy}`);
  assert.ok(jpegs > 270 && jpegs < 370, `jpegs ${jpegs}`);
  assert.deepEqual(drawDegradation({ blur: 1.2, jpeg: 60 }, 4, rng), { scale: 4, blur: 1.2, jpeg: 60 });
});
