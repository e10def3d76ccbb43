import assert from 'node:assert/strict';
import { test } from 'node:test';
import { linePlotSvg } from '../../src/report/svg-plot.js';

test('linePlotSvg draws one path per series, escapes names and skips non-finite points', () => {
  const svg = linePlotSvg(
    [
      { name: 'map <T>', points: [[0, 1], [1, 0.5], [2, NaN], [3, 0.25]] },
      { name: 'potential', points: [[0, -1], [3, 2]] },
    ],
    { title: 'losses', xLabel: 'step' },
  );
  assert.equal((svg.match(/<path /g) ?? []).length, 2);
  assert.match(svg, /map &lt;T&gt;/);
  assert.doesNotMatch(svg, /NaN/);
  assert.match(svg, /^<svg xmlns/);
});

test('linePlotSvg with no data says so instead of failing', () => {
  assert.match(linePlotSvg([{ name: 'a', points: [] }], { title: 'empty' }), /no data/);
});
