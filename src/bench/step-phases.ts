import type { StepTimeline, WorkerPhases } from '../engine/parallel/index.js';

/** Median ms of each part of a data-parallel step, for one worker: WorkerPhases' durations, plus the messages' transit. */
export type WorkerPhaseMedians = Omit<WorkerPhases, 'begin' | 'end'> & {
  /** From the main thread posting the step to this worker taking it. */
  dispatch: number;
  /** From this worker posting its reply to the main thread having every reply. */
  reply: number;
};

/** Where the time of a data-parallel step goes: medians over steps, in ms. */
export interface StepPhases {
  /** The whole step as the caller sees it. */
  step: number;
  /** The main thread copying the batch into shared memory. */
  batchCopy: number;
  /** Per worker, in rank order. */
  workers: WorkerPhaseMedians[];
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

const round1 = (x: number) => Math.round(x * 10) / 10;

/** The medians of `timelines` (steps of one pool, so with the same number of workers). */
export function stepPhases(timelines: StepTimeline[]): StepPhases {
  if (timelines.length === 0) throw new Error('no steps to summarise');
  const m = (f: (t: StepTimeline) => number) => round1(median(timelines.map(f)));
  const workers = timelines[0]!.workers.map((_, r): WorkerPhaseMedians => {
    const w = (f: (p: StepTimeline['workers'][number], t: StepTimeline) => number) => m((t) => f(t.workers[r]!, t));
    return {
      dispatch: w((p, t) => p.begin - t.posted),
      input: w((p) => p.input),
      compute: w((p) => p.compute),
      gradCopy: w((p) => p.gradCopy),
      wait: w((p) => p.wait),
      reduce: w((p) => p.reduce),
      wait2: w((p) => p.wait2),
      update: w((p) => p.update),
      reply: w((p, t) => t.end - p.end),
    };
  });
  return { step: m((t) => t.end - t.begin), batchCopy: m((t) => t.posted - t.begin), workers };
}

/** One line per worker for terminals. */
export function formatStepPhases(p: StepPhases): string[] {
  return p.workers.map(
    (w, r) =>
      `  worker ${r}: dispatch ${w.dispatch}, input ${w.input}, compute ${w.compute}, grad copy ${w.gradCopy}, wait ${w.wait}, ` +
      `reduce ${w.reduce}, wait ${w.wait2}, update ${w.update}, reply ${w.reply} ms (step ${p.step}, batch copy ${p.batchCopy})`,
  );
}
