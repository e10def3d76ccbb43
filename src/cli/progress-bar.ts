import cliProgress from 'cli-progress';
import type { ProgressEvent } from '../util/progress.js';

/**
 * Renders library progress events on the terminal: an in-place bar on a TTY, and on pipes/CI one plain
 * line every `lineEverySeconds` so logs stay readable.
 */
export function progressRenderer(label: string, options: { unit?: string; lineEverySeconds?: number } = {}) {
  const unit = options.unit ?? 'steps';
  const tty = process.stderr.isTTY === true;
  let bar: cliProgress.SingleBar | undefined;
  let lastLine = 0;
  const describe = (e: ProgressEvent) => {
    const values = Object.entries(e.values ?? {})
      .map(([k, v]) => `${k} ${formatNumber(v)}`)
      .join('  ');
    const eta = Number.isFinite(e.etaSeconds) ? formatDuration(e.etaSeconds) : '?';
    return { values, rate: `${e.rate.toFixed(e.rate < 10 ? 2 : 1)} ${unit}/s`, eta };
  };
  return {
    update(e: ProgressEvent): void {
      const d = describe(e);
      if (tty) {
        if (!bar) {
          bar = new cliProgress.SingleBar(
            { format: `${label} [{bar}] {value}/{total} | {rate} | ETA {eta} | {values}`, hideCursor: true, stream: process.stderr },
            cliProgress.Presets.shades_classic,
          );
          bar.start(e.total, e.done, d);
        }
        bar.update(e.done, d);
        return;
      }
      const now = Date.now();
      if (now - lastLine >= (options.lineEverySeconds ?? 10) * 1000 || e.done === e.total) {
        lastLine = now;
        process.stderr.write(`${label} ${e.done}/${e.total} | ${d.rate} | ETA ${d.eta} | ${d.values}\n`);
      }
    },
    stop(): void {
      bar?.stop();
    },
  };
}

export function formatDuration(seconds: number): string {
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
  return h > 0 ? `${h}h${String(m).padStart(2, '0')}m` : m > 0 ? `${m}m${String(r).padStart(2, '0')}s` : `${r}s`;
}

function formatNumber(v: number): string {
  return Math.abs(v) >= 1000 || (Math.abs(v) < 0.001 && v !== 0) ? v.toExponential(2) : v.toFixed(4);
}
