import type { Logger } from 'pino';
import type { ImageRepository } from '../db/images.ts';
import type { ImageStatus } from '../db/schema.ts';

/** One status change, as GET /v1/events streams it. */
export interface StatusEvent {
  id: number;
  owner: string;
  imageId: string;
  status: ImageStatus;
  at: number;
}

type Listener = (event: StatusEvent) => void;

/**
 * Fans the database's status-change log out to SSE streams. One poller per API process reads new
 * events for everyone (workers may be other processes, so the database is the shared channel), and
 * each stream hears its owner's.
 */
export class EventHub {
  private readonly listeners = new Map<string, Set<Listener>>();
  private readonly closers = new Set<() => void>();
  private last = 0;
  private timer: NodeJS.Timeout | undefined;
  private running = false;

  constructor(
    private readonly images: ImageRepository,
    private readonly log: Logger,
    private readonly intervalMs = 250,
  ) {}

  async start(): Promise<void> {
    this.last = await this.images.lastEventId();
    this.running = true;
    this.schedule();
  }

  /** Stops polling and ends every open stream (so shutdown does not wait on them). */
  stop(): void {
    this.running = false;
    clearTimeout(this.timer);
    for (const close of [...this.closers]) close();
  }

  /** How many streams `owner` has open on this process. */
  streamsOf(owner: string): number {
    return this.listeners.get(owner)?.size ?? 0;
  }

  /** Subscribes to an owner's events; returns the unsubscribe function. `onClose` runs at stop(). */
  subscribe(owner: string, listener: Listener, onClose: () => void): () => void {
    let set = this.listeners.get(owner);
    if (!set) {
      set = new Set();
      this.listeners.set(owner, set);
    }
    set.add(listener);
    this.closers.add(onClose);
    return () => {
      set.delete(listener);
      if (set.size === 0) this.listeners.delete(owner);
      this.closers.delete(onClose);
    };
  }

  private schedule(): void {
    if (!this.running) return;
    this.timer = setTimeout(() => void this.poll(), this.intervalMs);
    this.timer.unref();
  }

  private async poll(): Promise<void> {
    try {
      for (;;) {
        const rows = await this.images.eventsAfter(this.last);
        for (const r of rows) {
          this.last = r.id;
          const event = { id: r.id, owner: r.owner, imageId: r.image_id, status: r.status, at: r.created_at };
          for (const listener of this.listeners.get(r.owner) ?? []) listener(event);
        }
        if (rows.length < 500) break;
      }
    } catch (err) {
      this.log.warn({ err }, 'could not read status events; retrying');
    }
    this.schedule();
  }
}
