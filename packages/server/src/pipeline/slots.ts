/** Raised by {@link Slots.run} when every slot is taken and the line is full. */
export class SlotsFull extends Error {
  override readonly name = 'SlotsFull';
}

/**
 * A counting semaphore with a bounded first-come, first-served line: at most `size` tasks run at once,
 * at most `maxWaiting` wait for a slot, and the next one is refused with {@link SlotsFull} at once
 * (bounded: a waiter costs a socket and memory, and one that waits too long is worth less than a clear no).
 */
export class Slots {
  private running = 0;
  private readonly line: (() => void)[] = [];

  constructor(
    readonly size: number,
    readonly maxWaiting: number = Number.POSITIVE_INFINITY,
    /** Told after every change, e.g. to set gauges. */
    private readonly onChange?: (running: number, waiting: number) => void,
  ) {
    if (!Number.isInteger(size) || size < 1)
      throw new RangeError(`size must be a positive integer, got ${size}`);
  }

  /** Tasks running now. */
  get active(): number {
    return this.running;
  }

  /** Tasks waiting for a slot now. */
  get waiting(): number {
    return this.line.length;
  }

  /** Runs `task` in a slot, after those ahead of it in line; throws {@link SlotsFull} when the line is full. */
  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.running >= this.size) {
      if (this.line.length >= this.maxWaiting) {
        throw new SlotsFull(`${this.running} running and ${this.line.length} waiting`);
      }
      // The slot is handed over by the task that frees it (running stays counted), so no newcomer can
      // take it in between and the line is served in order.
      await new Promise<void>((resolve) => {
        this.line.push(resolve);
        this.changed();
      });
    } else {
      this.running++;
      this.changed();
    }
    try {
      return await task();
    } finally {
      const next = this.line.shift();
      if (next) next();
      else this.running--;
      this.changed();
    }
  }

  private changed(): void {
    this.onChange?.(this.running, this.line.length);
  }
}
