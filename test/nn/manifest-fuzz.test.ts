import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../../src/engine/backend.js';
import { InputError } from '../../src/errors.js';
import { Critic } from '../../src/nn/critic.js';
import { Edsr } from '../../src/nn/edsr.js';
import { Mlp } from '../../src/nn/mlp.js';
import type { Module } from '../../src/nn/module.js';
import { MODEL_JSON, encodeModel, loadModelFromFiles } from '../../src/nn/serialize.js';
import { Unet } from '../../src/nn/unet.js';
import { Rng } from '../../src/util/rng.js';

/**
 * Fuzz of the model loader (model.json parser, weights manifest, shards): random and mutated bytes and
 * randomly rewritten JSON trees. Every input either loads a consistent model or is refused with one
 * InputError line naming a file of the model; nothing else escapes, no tensor leaks, and nothing hangs or
 * allocates without bound (the test's timeout and memory would catch it).
 */

type Files = Map<string, Uint8Array>;

const SHARD = 'group1-shard1of1.bin';
const enc = new TextEncoder();
const dec = new TextDecoder();

/** Values a mutation puts into the JSON tree: wrong types, edge numbers, huge sizes, deep nesting. */
function randomValue(rng: Rng, depth = 0): unknown {
  const choices: (() => unknown)[] = [
    () => null,
    () => true,
    () => false,
    () => 0,
    () => -1,
    () => 1,
    () => 2,
    () => 3,
    () => 0.5,
    () => -0.5,
    () => rng.int(100),
    () => 1e9,
    () => 2 ** 31,
    () => 2 ** 53,
    () => 1e308,
    () => -1e308,
    () => '',
    () => 'float32',
    () => 'edsr',
    () => 'critic',
    () => 'otsr-model',
    () => '../x.bin',
    () => SHARD,
    () => MODEL_JSON,
    () => 'a\nb',
    () => 'x'.repeat(1 + rng.int(5000)),
    () => [],
    () => [1e9, 1e9],
    () => Array.from({ length: rng.int(6) }, () => rng.int(9)),
    () => {
      // Deeper than JSON.stringify's stack can follow.
      let v: unknown = 1;
      for (let i = 0; i < 20_000; i++) v = [v];
      return v;
    },
    () => ({}),
    () => ({ kind: 'edsr' }),
    () => ({ __proto__: null, kind: 'mlp', inDim: 1e7, hidden: [1e7], outDim: 1e7 }),
  ];
  if (depth < 2) choices.push(() => Array.from({ length: 1 + rng.int(3) }, () => randomValue(rng, depth + 1)));
  return choices[rng.int(choices.length)]!();
}

/** Every (parent, key) of a JSON tree down to depth 8, so a mutation can reach any node of a model.json. */
function slots(root: unknown): { parent: Record<string, unknown> | unknown[]; key: string | number }[] {
  const out: { parent: Record<string, unknown> | unknown[]; key: string | number }[] = [];
  const stack: { node: unknown; depth: number }[] = [{ node: root, depth: 0 }];
  while (stack.length > 0) {
    const { node, depth } = stack.pop()!;
    if (depth > 8 || node === null || typeof node !== 'object') continue;
    const entries: [string | number, unknown][] = Array.isArray(node) ? node.map((v, i) => [i, v]) : Object.entries(node);
    for (const [key, value] of entries) {
      out.push({ parent: node as Record<string, unknown>, key });
      stack.push({ node: value, depth: depth + 1 });
    }
  }
  return out;
}

function mutateTree(rng: Rng, json: unknown): void {
  const all = slots(json);
  const { parent, key } = all[rng.int(all.length)]!;
  const p = parent as Record<string | number, unknown>;
  switch (rng.int(5)) {
    case 0:
      if (Array.isArray(parent)) parent.splice(key as number, 1);
      else delete p[key];
      break;
    case 1:
      if (Array.isArray(parent)) parent.push(parent[key as number]);
      else p[`${String(key)}_extra`] = randomValue(rng);
      break;
    case 2: {
      // Numbers nudged rather than replaced: shapes and sizes that are almost right.
      const v = p[key];
      p[key] = typeof v === 'number' ? v + [-1, 1, 1000, -v][rng.int(4)]! : randomValue(rng);
      break;
    }
    default:
      p[key] = randomValue(rng);
  }
}

function mutateBytes(rng: Rng, bytes: Uint8Array): Uint8Array {
  const out = Uint8Array.from(bytes);
  const n = 1 + rng.int(8);
  // JSON's structure lives in a few characters: flip to those as often as to random bytes.
  const alphabet = enc.encode('{}[]":,0123456789-.e ');
  for (let i = 0; i < n && out.length > 0; i++) {
    out[rng.int(out.length)] = rng.next() < 0.5 ? alphabet[rng.int(alphabet.length)]! : rng.int(256);
  }
  return out;
}

/** One damaged variant of a good model's files. */
function mutate(rng: Rng, good: Files): { files: Files; mode: string } {
  const files: Files = new Map([...good].map(([k, v]) => [k, Uint8Array.from(v)]));
  const json = good.get(MODEL_JSON)!;
  const shard = good.get(SHARD)!;
  const mode = rng.int(9);
  switch (mode) {
    case 0:
      files.set(MODEL_JSON, Uint8Array.from({ length: rng.int(400) }, () => rng.int(256)));
      break;
    case 1:
      files.set(MODEL_JSON, json.subarray(0, rng.int(json.length)));
      break;
    case 2:
      files.set(MODEL_JSON, mutateBytes(rng, json));
      break;
    case 3:
    case 4: {
      const tree = JSON.parse(dec.decode(json)) as unknown;
      for (let k = 1 + rng.int(3); k > 0; k--) mutateTree(rng, tree);
      let text: string;
      try {
        text = JSON.stringify(tree);
      } catch {
        text = `{"format":"otsr-model","formatVersion":1,"arch":${'['.repeat(20_000)}${']'.repeat(20_000)}}`;
      }
      files.set(MODEL_JSON, enc.encode(text));
      break;
    }
    case 5: {
      const cut = rng.int(shard.length + 64);
      files.set(SHARD, cut <= shard.length ? shard.subarray(0, cut) : new Uint8Array([...shard, ...new Uint8Array(cut - shard.length)]));
      break;
    }
    case 6: {
      const s = Uint8Array.from(shard);
      // Random bytes inside floats: often still finite (loads), sometimes NaN/Inf (refused).
      for (let k = 1 + rng.int(6); k > 0; k--) s[rng.int(s.length)] = rng.int(256);
      files.set(SHARD, s);
      break;
    }
    case 7:
      files.delete(rng.next() < 0.5 ? MODEL_JSON : SHARD);
      break;
    default: {
      const tree = JSON.parse(dec.decode(json)) as { weightsManifest: { weights: { shape: number[] }[] }[] };
      // Weights list and shard sizes changed together: shapes that agree with the bytes but not the architecture.
      const w = tree.weightsManifest[0]!.weights;
      const entry = w[rng.int(w.length)]!;
      entry.shape = entry.shape.length > 0 ? [entry.shape.reduce((a, b) => a * b, 1)] : [1];
      if (rng.next() < 0.5) w.reverse();
      files.set(MODEL_JSON, enc.encode(JSON.stringify(tree)));
    }
  }
  return { files, mode: String(mode) };
}

test('fuzz: random and mutated model.json and shard bytes load or give one InputError line', { timeout: 120_000 }, async () => {
  await initBackend('cpu');
  const models: Module[] = [
    new Edsr({ nResBlocks: 1, nFeats: 4, scale: 2, seed: 1 }),
    new Critic({ size: 8, nFeats: 2, maxFeats: 4, seed: 2 }),
    new Mlp({ inDim: 2, hidden: [3], outDim: 2, seed: 3 }),
    new Unet({ inChannels: 3, outChannels: 3, base: 2, depth: 1, seed: 4 }),
  ];
  const goods: Files[] = [];
  for (const [k, m] of models.entries()) {
    goods.push(await encodeModel(m, k === 0 ? { scale: 2 } : {}));
    assert.deepEqual([...goods[k]!.keys()].sort(), [SHARD, MODEL_JSON].sort());
  }
  const rng = new Rng(8);
  const outcomes = { loaded: 0, refused: 0 };
  const before = tf.memory().numTensors;
  const rounds = 600;
  for (let k = 0; k < rounds; k++) {
    const g = rng.int(goods.length);
    const { files, mode } = mutate(rng, goods[g]!);
    try {
      const loaded = await loadModelFromFiles(files);
      // A mutation that left the model usable (a date, a byte inside a float): the same architecture.
      assert.equal(loaded.module.parameterCount(), models[g]!.parameterCount(), `round ${k} (mode ${mode})`);
      loaded.module.dispose();
      outcomes.loaded++;
    } catch (err) {
      assert.ok(err instanceof InputError, `round ${k} (mode ${mode}): ${err instanceof Error ? err.stack : String(err)}`);
      assert.ok(err.path === MODEL_JSON || err.path === SHARD, `round ${k}: names ${err.path}`);
      assert.doesNotMatch(err.message, /\n/);
      assert.ok(err.message.length < 400, `round ${k}: a ${err.message.length}-character message`);
      outcomes.refused++;
    }
    assert.equal(tf.memory().numTensors, before, `round ${k} (mode ${mode}) leaked tensors`);
  }
  assert.equal(outcomes.loaded + outcomes.refused, rounds);
  assert.ok(outcomes.refused > rounds / 2, `most mutations are refused (${JSON.stringify(outcomes)})`);
  assert.ok(outcomes.loaded > 0, 'some harmless mutations load');
  for (const m of models) m.dispose();
});

test('an architecture far larger than its weights is refused before anything is built', async () => {
  await initBackend('cpu');
  const m = new Edsr({ nResBlocks: 1, nFeats: 4, scale: 2, seed: 1 });
  const files = await encodeModel(m, { scale: 2 });
  m.dispose();
  const json = JSON.parse(dec.decode(files.get(MODEL_JSON)!));
  for (const arch of [
    { kind: 'edsr', nResBlocks: 1, nFeats: 100_000, scale: 2 },
    { kind: 'edsr', nResBlocks: 10_000_000, nFeats: 4, scale: 2 },
    { kind: 'critic', size: 2 ** 40 },
    { kind: 'mlp', inDim: 1e7, hidden: [1e7], outDim: 1 },
  ]) {
    json.arch = arch;
    files.set(MODEL_JSON, enc.encode(JSON.stringify(json)));
    const bytes = tf.memory().numBytes;
    await assert.rejects(loadModelFromFiles(files), (e: unknown) => {
      assert.ok(e instanceof InputError, String(e));
      assert.match(e.message, /weights do not match the \w+ architecture: it has \d+ parameters, the file holds 1259/);
      return true;
    });
    assert.equal(tf.memory().numBytes, bytes);
  }
});
