import { promises as fs } from 'node:fs';
import path from 'node:path';
import { InputError } from '../errors.js';
import { escapeXml, linePlotSvg, type Series } from '../report/svg-plot.js';
import { writeFileAtomic } from '../util/atomic-write.js';
import { readLog } from './log.js';
import { type LogRecord, runPaths } from './run-dir.js';

/**
 * Writes `report.html` for a run folder: one self-contained page (images inlined as data URIs, plots as
 * inline SVG) with the config, loss and validation curves, and the sample grids. Returns its path.
 */
export async function writeRunReport(
  runDir: string,
  options: { maxSamples?: number; /** Trusted HTML shown first (e.g. the demo's before/after). */ leadHtml?: string } = {},
): Promise<string> {
  const paths = runPaths(runDir);
  let config: unknown;
  try {
    config = JSON.parse(await fs.readFile(paths.config, 'utf8'));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new InputError(paths.config, code === 'ENOENT' ? 'not found: is this an otsr run folder?' : 'is not valid JSON');
  }
  const records = await readLog(paths.log);
  const samples = await listSamples(paths.samples, options.maxSamples ?? 8);
  const html = renderReport({ title: path.basename(path.resolve(runDir)), config, records, samples, leadHtml: options.leadHtml });
  await writeFileAtomic(paths.report, html);
  return paths.report;
}

interface SampleImage {
  name: string;
  dataUri: string;
}

async function listSamples(dir: string, max: number): Promise<SampleImage[]> {
  let names: string[];
  try {
    names = (await fs.readdir(dir)).filter((n) => n.endsWith('.png')).sort();
  } catch {
    return [];
  }
  // Keep the first and the most recent ones: how it started and where it is now.
  const chosen = names.length <= max ? names : [...names.slice(0, 1), ...names.slice(names.length - (max - 1))];
  return Promise.all(
    chosen.map(async (name) => ({
      name,
      dataUri: `data:image/png;base64,${(await fs.readFile(path.join(dir, name))).toString('base64')}`,
    })),
  );
}

/** Pure rendering, separate from I/O so it is easy to test. */
export function renderReport(input: { title: string; config: unknown; records: LogRecord[]; samples: SampleImage[]; leadHtml?: string }): string {
  const train = input.records.filter((r): r is Extract<LogRecord, { type: 'train' }> => r.type === 'train');
  const val = input.records.filter((r): r is Extract<LogRecord, { type: 'val' }> => r.type === 'val');
  const seriesOf = (rows: { step: number; values: Record<string, number> }[]): Series[] => {
    const names = [...new Set(rows.flatMap((r) => Object.keys(r.values)))];
    return names.map((name) => ({
      name,
      points: rows.filter((r) => name in r.values).map((r) => [r.step, r.values[name]!] as [number, number]),
    }));
  };
  const lossPlots = seriesOf(train.map((r) => ({ step: r.step, values: r.losses }))).map((s) =>
    linePlotSvg([s], { title: `training: ${s.name}`, xLabel: 'step' }),
  );
  // With --ema-decay, each plot shows the exported average beside the training weights (`raw`).
  const rawSeries = seriesOf(val.flatMap((r) => (r.raw ? [{ step: r.step, values: r.raw }] : [])));
  const valPlots = seriesOf(val.map((r) => ({ step: r.step, values: r.metrics }))).map((s) => {
    const raw = rawSeries.find((r) => r.name === s.name);
    const series = raw ? [{ ...s, name: `${s.name} (average, exported)` }, { ...raw, name: `${s.name} (training weights)` }] : [s];
    return linePlotSvg(series, { title: `validation: ${s.name}`, xLabel: 'step' });
  });
  const last = val.at(-1);
  const lastRow = last
    ? `<p>Last validation (step ${last.step}): ${Object.entries(last.metrics)
        .map(([k, v]) => `${escapeXml(k)} <b>${v.toFixed(4)}</b>`)
        .join(', ')}</p>`
    : '';
  const events = input.records.filter((r) => r.type === 'event');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>otsr run ${escapeXml(input.title)}</title>
<style>
body{font-family:system-ui,sans-serif;margin:24px;max-width:1240px;color:#222}
.plots{display:flex;flex-wrap:wrap;gap:12px}
figure{margin:0 0 16px}img{max-width:100%;image-rendering:pixelated;border:1px solid #ccc}
pre{background:#f6f6f6;padding:12px;overflow:auto}
</style></head><body>
<h1>otsr run: ${escapeXml(input.title)}</h1>
<p>${train.length ? `${train.at(-1)!.step} steps logged, ${formatSeconds(train.at(-1)!.seconds)} of training.` : 'No training steps logged yet.'}</p>
${lastRow}
${input.leadHtml ?? ''}
<h2>Losses</h2><div class="plots">${lossPlots.join('') || '<p>none yet</p>'}</div>
<h2>Validation</h2><div class="plots">${valPlots.join('') || '<p>no validation set given</p>'}</div>
<h2>Samples</h2><p>Each row: LR input | bicubic | otsr | HR (where known).</p>
${input.samples.map((s) => `<figure><img src="${s.dataUri}" alt="${escapeXml(s.name)}"><figcaption>${escapeXml(s.name)}</figcaption></figure>`).join('\n') || '<p>none yet</p>'}
${events.length ? `<h2>Events</h2><ul>${events.map((e) => `<li>step ${e.step}: ${escapeXml(e.message)}</li>`).join('')}</ul>` : ''}
<h2>Config</h2><pre>${escapeXml(JSON.stringify(input.config, null, 2))}</pre>
</body></html>
`;
}

function formatSeconds(s: number): string {
  return s >= 3600 ? `${(s / 3600).toFixed(2)} h` : s >= 60 ? `${(s / 60).toFixed(1)} min` : `${s.toFixed(1)} s`;
}
