import type { StatusEventData } from '@darkroom/contract';
import { createParser, type EventSourceMessage } from 'eventsource-parser';
import type { ApiClient } from './api-client.ts';
import { backoffDelay, retryPolicy } from './retry.ts';

/** An event larger than this is not one of ours (an image's JSON is a few KB): the stream is dropped and reopened. */
const MAX_EVENT_CHARS = 1024 * 1024;

/** One `status` event of GET /v1/events: the contract's data, and the event id to resume from. */
export type StatusEvent = StatusEventData & { id?: string };

/**
 * The owner's status events over GET /v1/events, read with fetch (so the token goes in the
 * Authorization header, in browsers and Node alike), reconnecting with Last-Event-ID and backoff.
 * Connects on the first subscriber, disconnects after the last.
 */
export class StatusStream {
  private listeners = new Set<(e: StatusEvent) => void>();
  private openListeners = new Set<() => void>();
  private controller: AbortController | undefined;
  private lastEventId: string | undefined;
  private running = false;

  constructor(
    private readonly api: ApiClient,
    private readonly fetchImpl: typeof fetch,
  ) {}

  /** Listens to every status event; returns unsubscribe. */
  subscribe(listener: (e: StatusEvent) => void): () => void {
    this.listeners.add(listener);
    if (!this.running) void this.run();
    return () => {
      this.listeners.delete(listener);
      if (this.listeners.size === 0) this.close();
    };
  }

  /** Called each time the stream (re)connects: events may have been missed, callers re-check. */
  onOpen(listener: () => void): () => void {
    this.openListeners.add(listener);
    return () => this.openListeners.delete(listener);
  }

  /** Stops the stream. */
  close(): void {
    this.running = false;
    this.controller?.abort();
  }

  private async run(): Promise<void> {
    this.running = true;
    const policy = retryPolicy({ baseDelayMs: 1000, maxDelayMs: 30_000 });
    let failures = 0;
    while (this.running) {
      this.controller = new AbortController();
      try {
        const headers: Record<string, string> = {
          authorization: `Bearer ${await this.api.bearer()}`,
          accept: 'text/event-stream',
        };
        if (this.lastEventId) headers['last-event-id'] = this.lastEventId;
        const res = await this.fetchImpl(`${this.api.endpoint}/v1/events`, {
          headers,
          signal: this.controller.signal,
        });
        if (!res.ok || !res.body) throw new Error(`events: ${res.status}`);
        failures = 0;
        for (const l of this.openListeners) l();
        // The WHATWG text/event-stream rules (CRLF, comments, multi-line data, events split across chunks).
        const parser = createParser({ onEvent: (m) => this.dispatch(m), maxBufferSize: MAX_EVENT_CHARS });
        const decoder = new TextDecoder();
        const reader = res.body.getReader();
        for (;;) {
          const { done, value } = await reader.read();
          if (done) break;
          parser.feed(decoder.decode(value, { stream: true }));
        }
      } catch {
        // Network error, 401 with an expired token (the token function gives a fresh one), an event past
        // MAX_EVENT_CHARS (the parser refuses more input) or close().
      }
      // Whatever ended the read, the connection goes with it before the next one opens.
      this.controller.abort();
      if (!this.running) return;
      await new Promise((r) => setTimeout(r, backoffDelay(Math.min(failures++, 6), policy) + 250));
    }
  }

  private dispatch(m: EventSourceMessage): void {
    if (m.id) this.lastEventId = m.id;
    if (m.event !== 'status') return;
    let event: StatusEvent;
    try {
      event = { ...(JSON.parse(m.data) as StatusEvent), ...(m.id ? { id: m.id } : {}) };
    } catch {
      return;
    }
    for (const l of this.listeners) l(event);
  }
}
