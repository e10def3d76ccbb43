import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Rng } from '../../src/util/rng.js';

test('the same seed gives the same stream; another seed another one', () => {
  const a = new Rng(42), b = new Rng(42), c = new Rng(43);
  const xa = Array.from({ length: 8 }, () => a.nextUint32());
  const xb = Array.from({ length: 8 }, () => b.nextUint32());
  const xc = Array.from({ length: 8 }, () => c.nextUint32());
  assert.deepEqual(xa, xb);
  assert.notDeepEqual(xa, xc);
});

test('saving and restoring the state continues the same stream', () => {
  const a = new Rng(7);
  for (let i = 0; i < 5; i++) a.next();
  const saved = a.getState();
  const rest = Array.from({ length: 5 }, () => a.next());
  const b = new Rng(saved);
  assert.deepEqual(Array.from({ length: 5 }, () => b.next()), rest);
});

test('uniform and normal draws have the right moments', () => {
  const r = new Rng(1);
  const n = 20000;
  let su = 0, sn = 0, sn2 = 0;
  for (let i = 0; i < n; i++) {
    const u = r.next();
    assert.ok(u >= 0 && u < 1);
    su += u;
    const z = r.normal();
    sn += z;
    sn2 += z * z;
  }
  assert.ok(Math.abs(su / n - 0.5) < 0.01);
  assert.ok(Math.abs(sn / n) < 0.03);
  assert.ok(Math.abs(sn2 / n - 1) < 0.05);
});
