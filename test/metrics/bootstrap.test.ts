import assert from 'node:assert/strict';
import { test } from 'node:test';
import { bootstrapFeatureDistances, frechetFromGrams, kidFromGrams } from '../../src/metrics/bootstrap.js';
import { frechetDistance, kernelInceptionDistance } from '../../src/metrics/fid.js';
import { matMulTransB } from '../../src/metrics/linalg.js';
import { Rng } from '../../src/util/rng.js';

const rng = new Rng(11);

/** `rows[g]` vectors of `dim` non-negative numbers (like post-ReLU averages) per image g, shifted by `shift`. */
function groups(rows: number[], dim: number, shift: number): Float32Array[] {
  return rows.map((r) => Float32Array.from({ length: r * dim }, () => Math.abs(rng.normal()) + shift));
}

const concat = (gs: Float32Array[], dim: number) => {
  const data = new Float32Array(gs.reduce((s, g) => s + g.length, 0));
  let o = 0;
  for (const g of gs) (data.set(g, o), (o += g.length));
  return { n: data.length / dim, dim, data };
};

test('on the whole sets the Gram formulas equal frechetDistance and one-subset KID', () => {
  for (const [rows, dim] of [[[3, 4, 2, 5], 16], [[2, 2, 3], 40], [[30, 20], 8]] as [number[], number][]) {
    const ga = groups(rows, dim, 0.3), gb = groups(rows, dim, 0.5);
    const a = concat(ga, dim), b = concat(gb, dim);
    const A = Float64Array.from(a.data), B = Float64Array.from(b.data);
    const grams = { gaa: matMulTransB(A, A, a.n, dim, a.n), gbb: matMulTransB(B, B, b.n, dim, b.n), gab: matMulTransB(A, B, a.n, dim, b.n), na: a.n, nb: b.n, dim };
    const all = { rows: Array.from({ length: a.n }, (_, i) => i) };
    const fid = frechetDistance(a, b);
    assert.ok(Math.abs(frechetFromGrams(grams, all, all) - fid) < 1e-6 * (Math.abs(fid) + 1), `${frechetFromGrams(grams, all, all)} vs ${fid}`);
    const kid = kernelInceptionDistance(a, b);
    assert.equal(kid.subsets, 1);
    assert.ok(Math.abs(kidFromGrams(grams, all, all) - kid.mean) < 1e-12 + 1e-9 * Math.abs(kid.mean), `${kidFromGrams(grams, all, all)} vs ${kid.mean}`);
    // Repeated rows are rows like any other: the formulas equal the definitions on the repeated data.
    const rep = [0, 0, 1, 2, 2, 2];
    const weighted = { rows: [0, 1, 2], weights: [2, 1, 3] };
    const pick = (s: { data: Float32Array }, idx: number[]) => ({ n: idx.length, dim, data: Float32Array.from(idx.flatMap((i) => Array.from(s.data.subarray(i * dim, (i + 1) * dim)))) });
    const fr = frechetDistance(pick(a, rep), pick(b, rep));
    assert.ok(Math.abs(frechetFromGrams(grams, weighted, weighted) - fr) < 1e-6 * (Math.abs(fr) + 1), `${frechetFromGrams(grams, weighted, weighted)} vs ${fr}`);
    // KID's estimator: repeats are distinct samples (position pairs i != j), as on the repeated data.
    const kr = kernelInceptionDistance(pick(a, rep), pick(b, rep)).mean;
    assert.ok(Math.abs(kidFromGrams(grams, weighted, weighted) - kr) < 1e-12 + 1e-9 * Math.abs(kr), `${kidFromGrams(grams, weighted, weighted)} vs ${kr}`);
  }
});

test('bootstrap: seeded, spread > 0, the same images drawn for every method; typed errors', () => {
  const dim = 32, rows = [4, 5, 3, 4, 6, 2];
  const ga = groups(rows, dim, 0.3), gb = groups(rows, dim, 0.4), gc = groups(rows, dim, 1.5);
  const r1 = bootstrapFeatureDistances(ga, gb, dim, { resamples: 50, seed: 3 });
  const r2 = bootstrapFeatureDistances(ga, gb, dim, { resamples: 50, seed: 3 });
  assert.deepEqual(r1, r2);
  assert.equal(r1.fid.length, 50);
  assert.ok(r1.fidStd > 0 && r1.kidStd > 0, JSON.stringify({ fidStd: r1.fidStd, kidStd: r1.kidStd }));
  // A worse method (further from B) is worse on every resample here: paired draws.
  const worse = bootstrapFeatureDistances(gc, gb, dim, { resamples: 50, seed: 3 });
  assert.ok(worse.fid.every((f, r) => f > r1.fid[r]!), 'paired resamples rank the methods');
  assert.throws(() => bootstrapFeatureDistances(ga.slice(0, 1), gb.slice(0, 1), dim), /at least 2 images/);
  assert.throws(() => bootstrapFeatureDistances(ga, gb.slice(1), dim), /6 image groups in one set, 5 in the other/);
  assert.throws(() => bootstrapFeatureDistances([new Float32Array(5), ga[1]!], gb.slice(0, 2), dim), /not a multiple of 32/);
});
