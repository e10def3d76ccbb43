/** What long jobs (training, upscaling, benchmarks) report through their `onProgress` callback. */
export interface ProgressEvent {
  /** Units done so far (steps, tiles, images). */
  done: number;
  /** Units in the whole job. */
  total: number;
  /** Smoothed units per second. */
  rate: number;
  /** Estimated seconds left (Infinity until a rate is known). */
  etaSeconds: number;
  /** Named scalars to show beside the bar (losses, metrics). */
  values?: Record<string, number>;
}

/**
 * Turns "n units done" into rate and ETA, smoothing the rate with an exponential moving average so the
 * ETA does not jump around between slow (checkpoint) and fast steps.
 */
export class RateMeter {
  private lastTime: number | undefined;
  private lastDone = 0;
  private smoothed = 0;

  constructor(
    readonly total: number,
    private readonly smoothing = 0.1,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** Records progress and returns the event to report. */
  update(done: number, values?: Record<string, number>): ProgressEvent {
    const t = this.now();
    if (this.lastTime !== undefined && done > this.lastDone && t > this.lastTime) {
      const instant = ((done - this.lastDone) * 1000) / (t - this.lastTime);
      this.smoothed = this.smoothed === 0 ? instant : this.smoothing * instant + (1 - this.smoothing) * this.smoothed;
    }
    this.lastTime = t;
    this.lastDone = done;
    const etaSeconds = this.smoothed > 0 ? (this.total - done) / this.smoothed : Infinity;
    return { done, total: this.total, rate: this.smoothed, etaSeconds, ...(values ? { values } : {}) };
  }
}
