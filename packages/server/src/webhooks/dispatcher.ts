import type { WebhookPayload, WebhookType } from '@darkroom/contract';
import type { Logger } from 'pino';
import type { Db } from '../db/connect.ts';
import type { ImageRepository } from '../db/images.ts';
import type { ImageStatus } from '../db/schema.ts';
import { toImageView } from '../domain/image-view.ts';
import { type WebhookSigner, webhookHeaders, webhookSigner } from './signing.ts';

/**
 * The status changes the application hears about. `ready` and `failed` end processing and `deleted`
 * ends the image: each is something the app acts on (show it, tell the user, drop its reference).
 * `pending`, `uploaded` and `processing` are progress the browser already sees over GET /v1/events;
 * posting them would triple the traffic for nothing the app can act on.
 */
export const NOTIFIED_STATUSES: ReadonlySet<ImageStatus> = new Set<ImageStatus>([
  'ready',
  'failed',
  'deleted',
]);

export interface WebhookDispatcherOptions {
  db: Db;
  images: ImageRepository;
  /** config.webhook; the dispatcher does nothing when `url` is unset. */
  webhook: { readonly url: string | undefined; readonly secret: string | undefined };
  /** Base of variant URLs in the image JSON (deliveryBase(config)). */
  deliveryBaseUrl: string;
  /** Viewer path of private images' URLs (config.delivery.privatePath). */
  privatePath?: string;
  log: Logger;
  /** How often the tailer reads new events and the sender looks for due deliveries (ms). */
  pollIntervalMs?: number;
  /** Webhooks in flight at once, per process. */
  concurrency?: number;
  /** One attempt's limit, connection to response headers (ms). */
  timeoutMs?: number;
  /** How long a claimed attempt is reserved before another process may take it over (ms; > timeoutMs). */
  leaseMs?: number;
  /** First retry delay; doubles per attempt, with jitter, up to backoffMaxMs. */
  backoffBaseMs?: number;
  backoffMaxMs?: number;
  /** Give up after this many attempts, or once the next attempt would come later than maxAgeMs after the event. */
  maxAttempts?: number;
  maxAgeMs?: number;
  /**
   * Events newer than this are read again on the next poll before the cursor passes them: on
   * PostgreSQL an event id is taken before its transaction commits, so a smaller id can appear after
   * a larger one. Commits slower than this could be missed.
   */
  settleMs?: number;
  /** Delivered rows are deleted after this long; given-up rows after maxAgeMs + this. */
  retainMs?: number;
  /** How long stop() waits for webhooks in flight before aborting them. */
  stopTimeoutMs?: number;
}

const SECOND = 1000;
const HOUR = 3600 * SECOND;
const DAY = 24 * HOUR;
const DEFAULTS = {
  pollIntervalMs: 500,
  concurrency: 4,
  timeoutMs: 10 * SECOND,
  leaseMs: 60 * SECOND,
  backoffBaseMs: 5 * SECOND,
  backoffMaxMs: HOUR,
  // With 5 s doubling to a 1 h cap, attempt 20 comes about 11 h in; the age limit is what lets an
  // application survive a weekend outage, the attempt limit only bounds a pathological row.
  maxAttempts: 100,
  maxAgeMs: 3 * DAY,
  settleMs: 5 * SECOND,
  retainMs: 7 * DAY,
  stopTimeoutMs: 5 * SECOND,
} satisfies Partial<WebhookDispatcherOptions>;

const CURSOR = 'webhooks';
const BATCH = 500;
const PRUNE_EVERY_MS = HOUR;

/** Delay before retry number `attempt` (1 = the first retry): exponential, capped, with "equal jitter". */
export function retryDelay(attempt: number, baseMs: number, maxMs: number, random = Math.random): number {
  const ceiling = Math.min(maxMs, baseMs * 2 ** Math.min(Math.max(attempt - 1, 0), 40));
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}

/** The webhook a status change becomes, rendered once so every attempt sends the same body. */
export function webhookPayload(
  event: { owner: string; image_id: string; status: ImageStatus; created_at: number },
  row: Parameters<typeof toImageView>[0] | undefined,
  deliveryBaseUrl: string,
  privatePath?: string,
): WebhookPayload {
  // Private images' variant URLs stay unsigned here: a signature would expire while a delivery is
  // retried for days. The application gets signed ones from GET /v1/images/{id}.
  const data: WebhookPayload['data'] =
    event.status !== 'deleted' && row
      ? { ...toImageView(row, deliveryBaseUrl, undefined, privatePath), owner: event.owner }
      : { id: event.image_id, owner: event.owner, status: event.status };
  return {
    type: `image.${event.status}` as WebhookType,
    timestamp: new Date(event.created_at).toISOString(),
    data,
  };
}

/**
 * Takes one attempt of a delivery seen as `seen`: a compare-and-set on next_attempt_at that also
 * leases the row until `leaseUntil` and counts the attempt. Of several processes holding the same
 * snapshot, exactly one gets true.
 */
export async function claimDelivery(
  db: Db,
  seen: { id: number; attempts: number; next_attempt_at: number | null },
  leaseUntil: number,
): Promise<boolean> {
  if (seen.next_attempt_at === null) return false;
  const res = await db
    .updateTable('webhook_deliveries')
    .set({ next_attempt_at: leaseUntil, attempts: seen.attempts + 1 })
    .where('id', '=', seen.id)
    .where('next_attempt_at', '=', seen.next_attempt_at)
    .where('delivered_at', 'is', null)
    .executeTakeFirst();
  return Number(res.numUpdatedRows) === 1;
}

/** A poll loop that can also be woken at once; runs never overlap, and stop() waits for the current run. */
class Loop {
  private timer: NodeJS.Timeout | undefined;
  private current: Promise<void> | undefined;
  private again = false;
  private stopped = true;

  constructor(
    private readonly run: () => Promise<void>,
    private readonly intervalMs: number,
    private readonly onError: (err: unknown) => void,
  ) {}

  start(): void {
    this.stopped = false;
    this.kick();
  }

  kick(): void {
    if (this.stopped) return;
    if (this.current) {
      this.again = true;
      return;
    }
    clearTimeout(this.timer);
    this.current = this.run()
      .catch(this.onError)
      .finally(() => {
        this.current = undefined;
        if (this.again) {
          this.again = false;
          this.kick();
        } else if (!this.stopped) {
          this.timer = setTimeout(() => this.kick(), this.intervalMs);
          this.timer.unref();
        }
      });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    while (this.current) await this.current;
  }
}

interface Claimed {
  id: number;
  image_id: string;
  payload: string;
  attempts: number;
  created_at: number;
}

/**
 * Posts status changes to the application as signed Standard Webhooks, without ever holding up the
 * pipeline: the worker only appends to image_events (as it does for SSE); this reads that log.
 *
 * 1. The tailer reads image_events after its cursor (a row in webhook_cursor) and inserts one
 *    webhook_deliveries row per `ready` / `failed` / `deleted` event, keyed by the event id with
 *    ON CONFLICT DO NOTHING, so every worker process can run it at once; then it advances the cursor.
 * 2. The sender claims due rows with a compare-and-set on next_attempt_at (which also leases the row
 *    for leaseMs, so a crashed sender's attempt is retried by someone else) and POSTs them, a few at a
 *    time. 2xx is delivered; anything else is retried with exponential backoff until maxAgeMs.
 *
 * Delivery is at least once: `webhook-id` (`evt_<event id>`) is the same on every attempt, so the
 * application drops repeats. Order is not guaranteed across images (retries overtake).
 * On first start the cursor begins at the newest event: history is not replayed.
 */
export class WebhookDispatcher {
  private readonly o: Required<Omit<WebhookDispatcherOptions, 'webhook'>>;
  private readonly url: string | undefined;
  /** Signs each delivery; made once (the key decoded once). */
  private readonly signer: WebhookSigner | undefined;
  private readonly log: Logger;
  private readonly tailer: Loop;
  private readonly sender: Loop;
  private readonly inFlight = new Set<Promise<void>>();
  private readonly abort = new AbortController();
  /** Event ids past the cursor that this process has already queued (so re-reads skip them). */
  private readonly queued = new Set<number>();
  private cursor = 0;
  private lastPrune = 0;
  private started = false;

  /** Throws only for a malformed `whsec_` secret: a configuration error, found at start-up. */
  constructor(options: WebhookDispatcherOptions) {
    const given = Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined));
    this.o = { ...DEFAULTS, ...given } as typeof this.o;
    // An attempt must end before its lease does, or another process could send it at the same time.
    this.o.leaseMs = Math.max(this.o.leaseMs, this.o.timeoutMs + 5 * SECOND);
    this.url = options.webhook.url;
    this.signer =
      options.webhook.url && options.webhook.secret ? webhookSigner(options.webhook.secret) : undefined;
    this.log = options.log.child({ component: 'webhooks' });
    const onError = (what: string) => (err: unknown) =>
      this.log.warn({ err }, `webhooks: ${what} failed; retrying`);
    this.tailer = new Loop(() => this.tail(), this.o.pollIntervalMs, onError('reading status events'));
    this.sender = new Loop(() => this.sendDue(), this.o.pollIntervalMs, onError('claiming deliveries'));
  }

  /** True when DARKROOM_WEBHOOK_URL is set. */
  get enabled(): boolean {
    return this.url !== undefined && this.signer !== undefined;
  }

  /**
   * Starts tailing and sending. Resolves once the cursor is in place (so events from now on are
   * delivered); never rejects: a database that is not reachable yet is retried by the loops.
   */
  async start(): Promise<void> {
    if (!this.enabled || this.started) return;
    this.started = true;
    try {
      await this.loadCursor();
    } catch (err) {
      this.log.warn({ err }, 'webhooks: could not read the cursor; retrying');
    }
    this.tailer.start();
    this.sender.start();
    // The origin only: a webhook URL may carry a token in its path or query.
    this.log.info({ to: new URL(this.url!).origin }, 'webhooks on');
  }

  /** Stops both loops and waits for webhooks in flight, aborting them after `timeoutMs`. Never rejects. */
  async stop(timeoutMs = this.o.stopTimeoutMs): Promise<void> {
    if (!this.started) return;
    this.started = false;
    await Promise.all([this.tailer.stop(), this.sender.stop()]);
    const settled = Promise.allSettled([...this.inFlight]);
    let timer: NodeJS.Timeout | undefined;
    const timedOut = await Promise.race([
      settled.then(() => false),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(true), timeoutMs);
      }),
    ]);
    clearTimeout(timer);
    if (timedOut) {
      this.abort.abort(new Error('shutting down'));
      await settled;
    }
  }

  /** Reads the shared cursor (creating it at the newest event the first time); keeps the larger of it and ours. */
  private async loadCursor(): Promise<void> {
    let row = await this.o.db
      .selectFrom('webhook_cursor')
      .select('last_event_id')
      .where('name', '=', CURSOR)
      .executeTakeFirst();
    if (!row) {
      const newest = await this.o.images.lastEventId();
      await this.o.db
        .insertInto('webhook_cursor')
        .values({ name: CURSOR, last_event_id: newest })
        .onConflict((oc) => oc.column('name').doNothing())
        .execute();
      row = await this.o.db
        .selectFrom('webhook_cursor')
        .select('last_event_id')
        .where('name', '=', CURSOR)
        .executeTakeFirstOrThrow();
    }
    this.cursor = Math.max(this.cursor, Number(row.last_event_id));
  }

  private async tail(): Promise<void> {
    await this.loadCursor();
    const settledBefore = Date.now() - this.o.settleMs;
    let settled = this.cursor;
    let prefixSettled = true;
    let after = this.cursor;
    let added = 0;
    for (;;) {
      const rows = await this.o.db
        .selectFrom('image_events')
        .select(['id', 'owner', 'image_id', 'status', 'created_at'])
        .where('id', '>', after)
        .orderBy('id')
        .limit(BATCH)
        .execute();
      for (const r of rows) {
        const id = Number(r.id);
        if (prefixSettled && r.created_at <= settledBefore) settled = id;
        else prefixSettled = false;
        if (!NOTIFIED_STATUSES.has(r.status) || this.queued.has(id)) continue;
        await this.enqueue({ ...r, id });
        this.queued.add(id);
        added++;
      }
      if (rows.length < BATCH) break;
      after = Number(rows.at(-1)!.id);
    }
    if (added > 0) this.sender.kick();
    if (settled > this.cursor) {
      await this.o.db
        .updateTable('webhook_cursor')
        .set({ last_event_id: settled })
        .where('name', '=', CURSOR)
        .where('last_event_id', '<', settled)
        .execute();
      this.cursor = settled;
      for (const id of this.queued) if (id <= settled) this.queued.delete(id);
    }
    await this.prune();
  }

  private async enqueue(event: {
    id: number;
    owner: string;
    image_id: string;
    status: ImageStatus;
    created_at: number;
  }): Promise<void> {
    const row = event.status === 'deleted' ? undefined : await this.o.images.findById(event.image_id);
    const payload = JSON.stringify(webhookPayload(event, row, this.o.deliveryBaseUrl, this.o.privatePath));
    const now = Date.now();
    await this.o.db
      .insertInto('webhook_deliveries')
      .values({
        id: event.id,
        owner: event.owner,
        image_id: event.image_id,
        status: event.status,
        payload,
        attempts: 0,
        next_attempt_at: now,
        last_error: null,
        delivered_at: null,
        created_at: now,
      })
      .onConflict((oc) => oc.column('id').doNothing())
      .execute();
  }

  /** Drops delivered rows after retainMs and given-up ones after maxAgeMs + retainMs, once an hour. */
  private async prune(): Promise<void> {
    const now = Date.now();
    if (now - this.lastPrune < PRUNE_EVERY_MS) return;
    this.lastPrune = now;
    await this.o.db
      .deleteFrom('webhook_deliveries')
      .where('delivered_at', '<', now - this.o.retainMs)
      .execute();
    await this.o.db
      .deleteFrom('webhook_deliveries')
      .where('delivered_at', 'is', null)
      .where('next_attempt_at', 'is', null)
      .where('created_at', '<', now - this.o.maxAgeMs - this.o.retainMs)
      .execute();
  }

  /** Claims due deliveries (compare-and-set, so no two processes send the same attempt) and sends them. */
  private async sendDue(): Promise<void> {
    const free = this.o.concurrency - this.inFlight.size;
    if (free <= 0) return;
    const now = Date.now();
    const due = await this.o.db
      .selectFrom('webhook_deliveries')
      .select(['id', 'image_id', 'payload', 'attempts', 'next_attempt_at', 'created_at'])
      .where('delivered_at', 'is', null)
      .where('next_attempt_at', '<=', now)
      .orderBy('next_attempt_at')
      .orderBy('id')
      .limit(free)
      .execute();
    for (const d of due) {
      if (!this.started) return;
      if (!(await claimDelivery(this.o.db, d, now + this.o.leaseMs))) continue;
      const p: Promise<void> = this.attempt({ ...d, id: Number(d.id), attempts: d.attempts + 1 })
        .catch((err) => this.log.error({ err, deliveryId: d.id }, 'webhooks: could not record an attempt'))
        .finally(() => {
          this.inFlight.delete(p);
          this.sender.kick();
        });
      this.inFlight.add(p);
    }
  }

  /** One POST; records the outcome. */
  private async attempt(d: Claimed): Promise<void> {
    const msgId = `evt_${d.id}`;
    const timestamp = Math.floor(Date.now() / 1000);
    let error: string | undefined;
    // One controller for the timeout and shutdown, held by its own timer. Not AbortSignal.any() over
    // AbortSignal.timeout(): on Node 20 the timeout signal inside it can be garbage-collected before it
    // fires (nodejs/node#57736), and a hung receiver then holds the attempt for ever (seen in a full test run).
    const attempt = new AbortController();
    const timer = setTimeout(
      () => attempt.abort(new DOMException(`timed out after ${this.o.timeoutMs} ms`, 'TimeoutError')),
      this.o.timeoutMs,
    );
    const onStop = () => attempt.abort(this.abort.signal.reason);
    if (this.abort.signal.aborted) onStop();
    else this.abort.signal.addEventListener('abort', onStop, { once: true });
    try {
      const res = await fetch(this.url!, {
        method: 'POST',
        headers: {
          ...webhookHeaders(this.signer!, msgId, timestamp, d.payload),
          'content-type': 'application/json',
          'user-agent': 'Darkroom-Webhooks/1',
        },
        body: d.payload,
        // A redirect is a failure, as Standard Webhooks recommends: the signed URL is the one configured.
        redirect: 'manual',
        signal: attempt.signal,
      });
      // The response body is not read: only the status counts.
      await res.body?.cancel().catch(() => undefined);
      if (res.status < 200 || res.status > 299) error = `HTTP ${res.status}`;
    } catch (err) {
      error = describeError(err, this.o.timeoutMs);
    } finally {
      clearTimeout(timer);
      this.abort.signal.removeEventListener('abort', onStop);
    }
    const now = Date.now();
    const log = { deliveryId: msgId, imageId: d.image_id, attempts: d.attempts };
    if (error === undefined) {
      await this.o.db
        .updateTable('webhook_deliveries')
        .set({ delivered_at: now, next_attempt_at: null, last_error: null })
        .where('id', '=', d.id)
        .execute();
      this.log.debug(log, 'webhook delivered');
      return;
    }
    const next = now + retryDelay(d.attempts, this.o.backoffBaseMs, this.o.backoffMaxMs);
    const giveUp = d.attempts >= this.o.maxAttempts || next - d.created_at > this.o.maxAgeMs;
    await this.o.db
      .updateTable('webhook_deliveries')
      .set({ next_attempt_at: giveUp ? null : next, last_error: error.slice(0, 1000) })
      .where('id', '=', d.id)
      .where('delivered_at', 'is', null)
      .execute();
    if (giveUp) this.log.error({ ...log, error }, 'webhook given up');
    else this.log.warn({ ...log, error, retryInMs: next - now }, 'webhook failed; will retry');
  }
}

function describeError(err: unknown, timeoutMs: number): string {
  if (err instanceof Error) {
    if (err.name === 'TimeoutError') return `timed out after ${timeoutMs} ms`;
    if (err.name === 'AbortError') return 'aborted (shutting down)';
    const cause = err.cause as { code?: string; message?: string } | undefined;
    return cause ? `${err.message}: ${cause.code ?? cause.message ?? String(cause)}` : err.message;
  }
  return String(err);
}
