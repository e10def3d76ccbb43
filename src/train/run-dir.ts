import path from 'node:path';

/**
 * The files of one training run, in one folder (`otsr train --out runs/NAME`):
 * the config it was started with, the latest checkpoint, the JSONL log, sample grids, the exported
 * model and the HTML report.
 */
export function runPaths(dir: string) {
  return {
    dir,
    config: path.join(dir, 'config.json'),
    checkpoint: path.join(dir, 'checkpoint.otsr'),
    log: path.join(dir, 'log.jsonl'),
    samples: path.join(dir, 'samples'),
    sample: (step: number) => path.join(dir, 'samples', `step-${String(step).padStart(7, '0')}.png`),
    model: path.join(dir, 'model'),
    report: path.join(dir, 'report.html'),
  };
}

/** One line of log.jsonl. */
export type LogRecord =
  | { type: 'train'; step: number; seconds: number; losses: Record<string, number> }
  /** `metrics`: the exported map's (with --ema-decay, the average's, and `raw` the training weights' own). */
  | { type: 'val'; step: number; seconds: number; metrics: Record<string, number>; raw?: Record<string, number> }
  | { type: 'event'; step: number; seconds: number; message: string };
