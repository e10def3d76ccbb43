import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../../src/engine/backend.js';
import { UsageError } from '../../src/errors.js';
import { Critic } from '../../src/nn/critic.js';
import { Edsr } from '../../src/nn/edsr.js';
import { Mlp } from '../../src/nn/mlp.js';
import type { Module } from '../../src/nn/module.js';
import { archParamCount, buildModule } from '../../src/nn/registry.js';
import { Unet } from '../../src/nn/unet.js';
import { Rng } from '../../src/util/rng.js';

async function sameParams(a: Module, b: Module): Promise<void> {
  assert.deepEqual([...a.params.keys()], [...b.params.keys()]);
  for (const [name, v] of a.params) assert.deepEqual(await v.data(), await b.params.get(name)!.data(), name);
}

test('buildModule rebuilds every kind from its spec, identical for the same seed', async () => {
  await initBackend('cpu');
  const direct: Module[] = [
    new Mlp({ inDim: 2, hidden: [5], outDim: 2, residual: true, activation: 'elu', seed: 3 }),
    new Edsr({ nResBlocks: 1, nFeats: 4, scale: 3, resScale: 0.1, seed: 3 }),
    new Critic({ size: 8, nFeats: 2, maxFeats: 4, seed: 3 }),
    new Unet({ inChannels: 3, outChannels: 3, base: 2, depth: 1, residual: true, seed: 3 }),
  ];
  for (const m of direct) {
    const rebuilt = buildModule(JSON.parse(JSON.stringify(m.spec)), { seed: 3 });
    assert.equal(rebuilt.constructor, m.constructor);
    assert.deepEqual(rebuilt.spec, m.spec);
    await sameParams(rebuilt, m);
    rebuilt.dispose();
    m.dispose();
  }
});

test('buildModule passes the upsampler to an EDSR with an upsample skip', async () => {
  await initBackend('cpu');
  const spec = { kind: 'edsr', nResBlocks: 0, nFeats: 2, scale: 2, skip: 'upsample' };
  assert.throws(() => buildModule(spec), /needs an upsampler/);
  let called = false;
  const m = buildModule(spec, {
    upsampler: (x, s) => {
      called = true;
      return tf.image.resizeNearestNeighbor(x, [x.shape[1] * s, x.shape[2] * s]);
    },
  });
  tf.dispose(m.apply(tf.zeros([1, 2, 2, 3])));
  assert.ok(called);
  m.dispose();
});

test('buildModule rejects bad specs with a UsageError and allocates nothing', async () => {
  await initBackend('cpu');
  const before = tf.memory().numTensors;
  const bad: [unknown, RegExp][] = [
    [{ kind: 'resnet' }, /unknown kind "resnet"; known kinds: mlp, edsr, critic, unet/],
    [{ nFeats: 4 }, /unknown kind undefined/],
    [[1, 2], /expected a JSON object/],
    [{ kind: 'edsr', nResBlocks: 1, nFeats: 4, scale: 5 }, /scale must be one of 2, 3, 4, 8, got 5/],
    [{ kind: 'edsr', nResBlocks: 1, nFeats: '4', scale: 2 }, /edsr: nFeats must be an integer >= 1, got "4"/],
    [{ kind: 'edsr', nResBlocks: 1, nFeats: 4, scale: 2, nfeats: 8 }, /edsr: unknown option\(s\) nfeats/],
    [{ kind: 'edsr', nResBlocks: 1, nFeats: 4, scale: 2, skip: 'bicubic' }, /skip must be one of none, upsample/],
    [{ kind: 'critic', size: 2 }, /critic: size must be an integer >= 4/],
    [{ kind: 'critic', size: 16, nFeats: 8, maxFeats: 4 }, /maxFeats must be an integer >= 8/],
    [{ kind: 'unet', inChannels: 3, outChannels: 3, base: 4 }, /unet: depth must be an integer >= 0, got undefined/],
    [{ kind: 'unet', inChannels: 3, outChannels: 3, base: 4, depth: 1, residual: 'yes' }, /residual must be true or false/],
    [{ kind: 'mlp', inDim: 2, hidden: [4, -1], outDim: 2 }, /hidden must be an array of integers >= 1/],
    [{ kind: 'mlp', inDim: 2, hidden: [4], outDim: 3, residual: true }, /residual needs outDim === inDim/],
  ];
  for (const [spec, message] of bad) {
    assert.throws(() => buildModule(spec as never), (err: Error) => err instanceof UsageError && message.test(err.message), JSON.stringify(spec));
  }
  assert.equal(tf.memory().numTensors, before);
});

test('archParamCount equals the built module\'s parameter count for random specs of every kind', async () => {
  await initBackend('cpu');
  const rng = new Rng(41);
  const pick = <T>(xs: readonly T[]) => xs[rng.int(xs.length)]!;
  const specs: Record<string, unknown>[] = [
    // The reference critic's defaults (nFeats 64, maxFeats 512) at a small size.
    { kind: 'critic', size: 4 },
  ];
  for (let k = 0; k < 12; k++) {
    specs.push(
      { kind: 'mlp', inDim: 1 + rng.int(4), hidden: Array.from({ length: rng.int(3) }, () => 1 + rng.int(6)), outDim: 1 + rng.int(4) },
      { kind: 'edsr', nResBlocks: rng.int(3), nFeats: 1 + rng.int(6), scale: pick([2, 3, 4, 8]), skip: 'none' },
      { kind: 'critic', size: 4 + rng.int(30), nFeats: 1 + rng.int(3), maxFeats: 3 + rng.int(6) },
      { kind: 'unet', inChannels: 1 + rng.int(3), outChannels: 1 + rng.int(3), base: 1 + rng.int(3), depth: rng.int(3) },
    );
  }
  for (const spec of specs) {
    if (spec.kind === 'critic' && (spec.maxFeats as number) < (spec.nFeats as number)) continue;
    const m = buildModule(spec as { kind: string });
    assert.equal(archParamCount(spec as { kind: string }), m.parameterCount(), JSON.stringify(spec));
    m.dispose();
  }
  // Absurd specs are counted without allocating anything.
  const before = tf.memory().numBytes;
  assert.ok(archParamCount({ kind: 'edsr', nResBlocks: 1e6, nFeats: 1e5, scale: 4 }) > 1e15);
  assert.ok(archParamCount({ kind: 'critic', size: 2 ** 40, nFeats: 64 }) > 1e8); // 38 stages of 512 features
  assert.equal(tf.memory().numBytes, before);
  assert.throws(() => archParamCount({ kind: 'edsr', nResBlocks: 1, nFeats: 4, scale: 5 }), UsageError);
});
