import assert from 'node:assert/strict';
import { test } from 'node:test';
import { bicubicTaps, cubic, resizeBicubic } from '../../src/image/resize.js';
import { maxAbsDiff } from '../helpers/compare.js';
import { reference, referencePattern } from './reference.js';

test('Keys cubic: interpolating (1 at 0, 0 at other integers) and the two standard a values', () => {
  for (const a of [-0.5, -0.75]) {
    assert.equal(cubic(0, a), 1);
    for (const k of [1, 2, 3, -1, -2]) assert.ok(Math.abs(cubic(k, a)) < 1e-15);
    // Partition of unity at any phase.
    for (const t of [0.1, 0.25, 0.5, 0.9]) {
      const s = cubic(t + 1, a) + cubic(t, a) + cubic(1 - t, a) + cubic(2 - t, a);
      assert.ok(Math.abs(s - 1) < 1e-12);
    }
  }
  assert.equal(cubic(1.5, -0.5), -0.0625);
  assert.equal(cubic(1.5, -0.75), -0.09375);
});

test('taps sum to 1 for every output sample, both kernels, up and down', () => {
  for (const kernel of ['pil', 'torch'] as const) {
    for (const [i, o] of [[10, 3], [7, 28], [5, 5], [1, 4], [9, 1]] as const) {
      const t = bicubicTaps(i, o, kernel);
      for (let k = 0; k < o; k++) {
        let s = 0;
        for (let j = 0; j < t.taps; j++) s += t.weight[k * t.taps + j]!;
        assert.ok(Math.abs(s - 1) < 1e-12, `${kernel} ${i}->${o} output ${k}: ${s}`);
      }
    }
  }
});

test(`'pil' matches Pillow ${reference.pillow} Image.resize(BICUBIC) on float images`, () => {
  const cases = reference.cases.filter((c) => c.kernel === 'pil');
  assert.ok(cases.length >= 9);
  for (const c of cases) {
    const img = referencePattern(c.inWidth, c.inHeight, c.seed);
    const out = resizeBicubic(img, c.width, c.height, { kernel: 'pil' });
    assert.equal(out.width, c.width);
    assert.equal(out.height, c.height);
    const err = maxAbsDiff(out.data, c.data);
    assert.ok(err < 2e-6, `${c.inWidth}x${c.inHeight} -> ${c.width}x${c.height}: max error ${err}`);
  }
});

test(`'torch' matches PyTorch ${reference.torch} F.interpolate(bicubic, align_corners=False)`, () => {
  const cases = reference.cases.filter((c) => c.kernel === 'torch');
  assert.ok(cases.length >= 12);
  for (const c of cases) {
    const img = referencePattern(c.inWidth, c.inHeight, c.seed);
    const out = resizeBicubic(img, c.width, c.height, { kernel: 'torch' });
    const err = maxAbsDiff(out.data, c.data);
    // PyTorch computes coordinates and weights in float32, we in float64: a few float32 ulps apart.
    assert.ok(err < 1e-5, `${c.inWidth}x${c.inHeight} -> ${c.width}x${c.height}: max error ${err}`);
  }
});

test('the two kernels really differ (the test above can tell them apart)', () => {
  const img = referencePattern(11, 9, 0);
  const a = resizeBicubic(img, 22, 18, { kernel: 'pil' });
  const b = resizeBicubic(img, 22, 18, { kernel: 'torch' });
  assert.ok(maxAbsDiff(a.data, b.data) > 0.05);
  // Downscaling: the antialiased kernel averages the noise-like pattern much more.
  const big = referencePattern(32, 24, 1);
  const pil = resizeBicubic(big, 8, 6, { kernel: 'pil' });
  const torch = resizeBicubic(big, 8, 6, { kernel: 'torch' });
  const spread = (d: Float32Array) => Math.max(...d) - Math.min(...d);
  assert.ok(spread(pil.data) < spread(torch.data));
});

test('a constant image stays constant; same size is a copy', () => {
  const img = { width: 7, height: 5, channels: 3, data: new Float32Array(7 * 5 * 3).fill(0.25) };
  for (const kernel of ['pil', 'torch'] as const) {
    for (const [w, h] of [[3, 2], [14, 10], [9, 4]] as const) {
      const out = resizeBicubic(img, w, h, { kernel });
      for (const v of out.data) assert.ok(Math.abs(v - 0.25) < 1e-6);
    }
  }
  const same = resizeBicubic(img, 7, 5);
  assert.deepEqual(same.data, img.data);
  assert.notEqual(same.data, img.data);
});
