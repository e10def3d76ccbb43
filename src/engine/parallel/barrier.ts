/**
 * A reusable barrier for a fixed number of threads over an Int32Array in a SharedArrayBuffer.
 *
 * Layout of `control` (from `offset`): [count, generation, abort]. The last thread to arrive resets the count
 * and bumps the generation; the others sleep until it changes. Waits time out every 100 ms to re-check the
 * abort flag, so that one failing thread releases the others with an error instead of leaving them asleep.
 */
export class Barrier {
  static readonly INTS = 3;

  constructor(
    private readonly control: Int32Array,
    private readonly parties: number,
    private readonly offset = 0,
  ) {}

  /** Blocks (Atomics.wait: worker threads only) until all parties have arrived. Throws once aborted. */
  arrive(): void {
    const c = this.control;
    const count = this.offset;
    const gen = this.offset + 1;
    const abort = this.offset + 2;
    if (Atomics.load(c, abort) !== 0) throw new BarrierAborted();
    const g = Atomics.load(c, gen);
    if (Atomics.add(c, count, 1) === this.parties - 1) {
      Atomics.store(c, count, 0);
      Atomics.add(c, gen, 1);
      Atomics.notify(c, gen);
      return;
    }
    while (Atomics.load(c, gen) === g) {
      if (Atomics.load(c, abort) !== 0) throw new BarrierAborted();
      Atomics.wait(c, gen, g, 100);
    }
  }

  /** Releases every waiting party with {@link BarrierAborted}; the barrier stays unusable afterwards. */
  abort(): void {
    Atomics.store(this.control, this.offset + 2, 1);
    Atomics.notify(this.control, this.offset + 1);
  }

  get aborted(): boolean {
    return Atomics.load(this.control, this.offset + 2) !== 0;
  }
}

/** Thrown in the threads waiting at a barrier when another thread failed. */
export class BarrierAborted extends Error {
  constructor() {
    super('another worker failed during this step');
    this.name = 'BarrierAborted';
  }
}
