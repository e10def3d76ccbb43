/** One named series of (x, y) points. */
export interface Series {
  name: string;
  points: [number, number][];
}

const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#17becf'];

/**
 * A self-contained SVG line chart (no scripts, no external assets), for HTML reports.
 * Non-finite points are dropped; a series with a huge range can use `logY`.
 */
export function linePlotSvg(
  series: Series[],
  options: { title: string; xLabel?: string; yLabel?: string; width?: number; height?: number; logY?: boolean } = { title: '' },
): string {
  const width = options.width ?? 560, height = options.height ?? 300;
  const m = { left: 64, right: 16, top: 28, bottom: 44 };
  const ty = (y: number) => (options.logY ? Math.log10(y) : y);
  const clean = series.map((s) => ({
    name: s.name,
    points: s.points.filter(([x, y]) => Number.isFinite(x) && Number.isFinite(ty(y))),
  }));
  const all = clean.flatMap((s) => s.points);
  const esc = escapeXml;
  if (all.length === 0) {
    return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}"><text x="10" y="20">${esc(options.title)}: no data</text></svg>`;
  }
  let [x0, x1] = extent(all.map((p) => p[0]));
  let [y0, y1] = extent(all.map((p) => ty(p[1])));
  if (x0 === x1) [x0, x1] = [x0 - 1, x1 + 1];
  if (y0 === y1) [y0, y1] = [y0 - 1, y1 + 1];
  const pw = width - m.left - m.right, ph = height - m.top - m.bottom;
  const sx = (x: number) => m.left + ((x - x0) / (x1 - x0)) * pw;
  const sy = (y: number) => m.top + ph - ((ty(y) - y0) / (y1 - y0)) * ph;
  const parts: string[] = [];
  parts.push(`<rect x="${m.left}" y="${m.top}" width="${pw}" height="${ph}" fill="#fff" stroke="#ccc"/>`);
  for (let i = 0; i <= 4; i++) {
    const yv = y0 + ((y1 - y0) * i) / 4;
    const py = m.top + ph - (ph * i) / 4;
    const label = options.logY ? formatTick(10 ** yv) : formatTick(yv);
    parts.push(`<line x1="${m.left}" x2="${m.left + pw}" y1="${py}" y2="${py}" stroke="#eee"/>`);
    parts.push(`<text x="${m.left - 6}" y="${py + 4}" text-anchor="end" font-size="11">${label}</text>`);
    const xv = x0 + ((x1 - x0) * i) / 4;
    parts.push(`<text x="${sx(xv)}" y="${m.top + ph + 16}" text-anchor="middle" font-size="11">${formatTick(xv)}</text>`);
  }
  clean.forEach((s, i) => {
    const color = COLORS[i % COLORS.length];
    const d = s.points.map(([x, y], j) => `${j === 0 ? 'M' : 'L'}${sx(x).toFixed(1)},${sy(y).toFixed(1)}`).join('');
    if (s.points.length === 1) {
      parts.push(`<circle cx="${sx(s.points[0]![0])}" cy="${sy(s.points[0]![1])}" r="3" fill="${color}"/>`);
    } else {
      parts.push(`<path d="${d}" fill="none" stroke="${color}" stroke-width="1.5"/>`);
    }
    parts.push(`<rect x="${m.left + 8}" y="${m.top + 6 + i * 16}" width="10" height="10" fill="${color}"/>`);
    parts.push(`<text x="${m.left + 22}" y="${m.top + 15 + i * 16}" font-size="11">${esc(s.name)}</text>`);
  });
  parts.push(`<text x="${width / 2}" y="16" text-anchor="middle" font-size="13" font-weight="bold">${esc(options.title)}</text>`);
  if (options.xLabel) parts.push(`<text x="${m.left + pw / 2}" y="${height - 6}" text-anchor="middle" font-size="11">${esc(options.xLabel)}</text>`);
  if (options.yLabel) {
    parts.push(`<text transform="translate(14 ${m.top + ph / 2}) rotate(-90)" text-anchor="middle" font-size="11">${esc(options.yLabel)}</text>`);
  }
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif">${parts.join('')}</svg>`;
}

function extent(values: number[]): [number, number] {
  let lo = Infinity, hi = -Infinity;
  for (const v of values) {
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  return [lo, hi];
}

function formatTick(v: number): string {
  const a = Math.abs(v);
  if (a !== 0 && (a >= 1e5 || a < 1e-3)) return v.toExponential(1);
  return Number(v.toPrecision(4)).toString();
}

export function escapeXml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}
