import type { Logger } from 'pino';
import type { StatusEventsListener } from '../db/event-listener.ts';
import type { ImageRepository, ImageRow } from '../db/images.ts';
import type { ImageStatus } from '../db/schema.ts';
import { onStatusEventsCommitted } from '../db/status-signal.ts';

/** One status change, as GET /v1/events streams it. */
export interface StatusEvent {
  id: number;
  owner: string;
  imageId: string;
  status: ImageStatus;
  at: number;
  /** The image as read with the event (null: gone); absent when the stream must look it up. */
  image?: ImageRow | null;
}

type Listener = (event: StatusEvent) => void;

/** A missing event id below a visible one: its transaction had not committed yet, or rolled back. */
interface Hole {
  /** When this process first saw it missing. */
  since: number;
  /** xmax of a snapshot taken after that read: the transaction that took the id has an id below it. */
  xmax: bigint | undefined;
}

/** A hole PostgreSQL cannot settle (a long transaction elsewhere holds its snapshots back) stops waiting after this. */
const HOLE_TIMEOUT_MS = 10_000;
/** While waiting at a hole the log is read this often at most: a rolled-back writer notifies nobody. */
const HOLE_RECHECK_MS = 250;
/**
 * While LISTEN is in place every commit wakes the hub; it still reads the log this often at least, in
 * case a notification was lost with a connection that has not yet been noticed dead.
 */
const LISTENING_BACKSTOP_MS = 30_000;

/** How the hub learns of new events besides this process's own commits. */
export interface EventHubOptions {
  /** Read the log this often when nothing wakes the hub (DARKROOM_EVENT_POLL_MS). */
  pollMs: number;
  /** PostgreSQL: starts the LISTEN connection that hears other processes' commits. */
  listen?: (onWake: () => void, onChange: () => void) => StatusEventsListener;
}

/**
 * Fans the database's status-change log out to SSE streams. One reader per API process reads new
 * events for everyone (workers may be other processes, so the database is the shared channel), and
 * each stream hears its owner's. It reads as soon as it hears of a commit: at once for this process's
 * own (a worker in `darkroom start`), through LISTEN/NOTIFY for other processes' on PostgreSQL; on
 * SQLite, other processes' commits are found by reading every `pollMs`.
 *
 * Events go out in id order, each once. On PostgreSQL, writers in several processes take ids when they
 * insert but become visible when they commit, so id 11 can be read while id 10 is still uncommitted:
 * the hub stops at such a hole and waits for it. A hole is settled when its event shows up, or once
 * every transaction that could have taken its id has finished (the snapshot's xmin passed the xmax
 * seen when the hole was found: the writer rolled back or died), or after HOLE_TIMEOUT_MS.
 */
export class EventHub {
  private readonly listeners = new Map<string, Set<Listener>>();
  private readonly closers = new Set<() => void>();
  /** Every event up to this id has been delivered (or its id settled as never to come). */
  private last = 0;
  private readonly holes = new Map<number, Hole>();
  private timer: NodeJS.Timeout | undefined;
  private running = false;
  /** A read is under way. */
  private reading = false;
  /** Something was committed while reading: read again right after. */
  private again = false;
  /** A read is about to start (woken). */
  private wakePending = false;
  private listener: StatusEventsListener | undefined;
  private unsubscribeLocal: (() => void) | undefined;

  constructor(
    private readonly images: ImageRepository,
    private readonly log: Logger,
    private readonly options: EventHubOptions = { pollMs: 250 },
  ) {}

  /**
   * No stream is open and the log can be read synchronously (SQLite with a reader): the hub reads
   * nothing, neither on commits nor by polling, since every event would be delivered to nobody. The
   * first subscriber moves `last` to the newest committed event before it listens, which is where a
   * read delivering to nobody would have left it; an API without streams then costs no reads per intent.
   */
  private get asleep(): boolean {
    return this.listeners.size === 0 && this.images.readsNow && !this.reading;
  }

  async start(): Promise<void> {
    this.last = await this.images.lastEventId();
    this.running = true;
    this.unsubscribeLocal = onStatusEventsCommitted(() => this.wake());
    // Waking on (re)connection and on loss reads whatever it could have missed and re-times the polls.
    this.listener = this.options.listen?.(
      () => this.wake(),
      () => this.wake(),
    );
    this.schedule();
  }

  /** Stops reading and ends every open stream (so shutdown does not wait on them). */
  async stop(): Promise<void> {
    this.running = false;
    clearTimeout(this.timer);
    this.unsubscribeLocal?.();
    for (const close of [...this.closers]) close();
    await this.listener?.close();
  }

  /** How many streams `owner` has open on this process. */
  streamsOf(owner: string): number {
    return this.listeners.get(owner)?.size ?? 0;
  }

  /**
   * The id up to which every event has been delivered: a stream that subscribed before reading this
   * replays the log up to it, and hears the rest from the hub.
   */
  get horizon(): number {
    return this.last;
  }

  /** Subscribes to an owner's events; returns the unsubscribe function. `onClose` runs at stop(). */
  subscribe(owner: string, listener: Listener, onClose: () => void): () => void {
    const wasAsleep = this.running && this.asleep;
    if (wasAsleep) {
      // Everything committed so far went to nobody; the next reads start after it.
      const newest = this.images.lastEventIdNow();
      if (newest !== false) this.last = Math.max(this.last, newest);
    }
    let set = this.listeners.get(owner);
    if (!set) {
      set = new Set();
      this.listeners.set(owner, set);
    }
    set.add(listener);
    this.closers.add(onClose);
    // Polling resumes now that someone listens (other processes' commits reach the hub only that way).
    if (wasAsleep) this.schedule();
    return () => {
      set.delete(listener);
      if (set.size === 0) this.listeners.delete(owner);
      this.closers.delete(onClose);
    };
  }

  /** Reads the log now (or right after the read under way): events were committed. */
  private wake(): void {
    if (!this.running || this.asleep) return;
    if (this.reading) {
      this.again = true;
      return;
    }
    if (this.wakePending) return;
    this.wakePending = true;
    clearTimeout(this.timer);
    // Not inside the committer's call stack, and sooner than a 0 ms timer (which waits at least 1 ms).
    setImmediate(() => {
      this.wakePending = false;
      void this.poll();
    });
  }

  /** When to read next if nothing wakes the hub first. */
  private nextReadMs(): number {
    const { pollMs } = this.options;
    if (this.holes.size > 0) return Math.min(pollMs, HOLE_RECHECK_MS);
    if (this.listener?.listening) return Math.max(pollMs, LISTENING_BACKSTOP_MS);
    return pollMs;
  }

  private schedule(): void {
    if (!this.running) return;
    clearTimeout(this.timer);
    if (this.asleep) return;
    this.timer = setTimeout(() => void this.poll(), this.nextReadMs());
    this.timer.unref();
  }

  private async poll(): Promise<void> {
    if (this.reading || !this.running) return;
    this.reading = true;
    try {
      do {
        this.again = false;
        await this.read();
      } while (this.again && this.running);
    } finally {
      this.reading = false;
    }
    this.schedule();
  }

  private async read(): Promise<void> {
    try {
      for (;;) {
        // Taken before the read, so a hole whose writers had all finished by then is final if the read
        // does not fill it.
        const before = this.holes.size > 0 ? await this.images.writersSnapshot() : undefined;
        const rows = await this.images.eventsAfter(this.last);
        let blocked = false;
        for (const r of rows) {
          if (!(await this.passHolesBelow(r.id, before))) {
            blocked = true;
            break;
          }
          this.last = r.id;
          const event: StatusEvent = {
            id: r.id,
            owner: r.owner,
            imageId: r.image_id,
            status: r.status,
            at: r.created_at,
            image: r.image ?? null,
          };
          for (const listener of this.listeners.get(r.owner) ?? []) listener(event);
        }
        if (blocked || rows.length < 500) break;
      }
    } catch (err) {
      this.log.warn({ err }, 'could not read status events; retrying');
    }
  }

  /**
   * Whether every id between the last delivered one and `id` is settled as never to come (then `last`
   * moves up to just below `id`). A new hole is remembered with a snapshot taken after the read.
   */
  private async passHolesBelow(id: number, before: { xmin: bigint } | undefined): Promise<boolean> {
    if (id === this.last + 1) return true;
    // SQLite commits one writer at a time, in id order: a missing id there rolled back.
    if (this.images.dialect !== 'postgres') return true;
    const now = Date.now();
    let after: { xmax: bigint } | undefined;
    for (let missing = this.last + 1; missing < id; missing++) {
      const hole = this.holes.get(missing);
      if (!hole) {
        after ??= await this.images.writersSnapshot();
        this.holes.set(missing, { since: now, xmax: after?.xmax });
        return false;
      }
      const writersDone = before !== undefined && hole.xmax !== undefined && before.xmin >= hole.xmax;
      if (!writersDone && now - hole.since < HOLE_TIMEOUT_MS) return false;
      if (!writersDone)
        this.log.warn({ eventId: missing }, 'status event id still missing; streaming the events after it');
      this.holes.delete(missing);
      this.last = missing;
    }
    return true;
  }
}
