import type { StatusEventData } from '@darkroom/contract';
import type { ApiClient } from './api-client.ts';
import { backoffDelay, retryPolicy } from './retry.ts';

/** One `status` event of GET /v1/events: the contract's data, and the event id to resume from. */
export type StatusEvent = StatusEventData & { id?: string };

/** A parsed Server-Sent Event. */
export interface SseMessage {
  id?: string;
  event: string;
  data: string;
  retry?: number;
}

/**
 * Incremental text/event-stream parser (the WHATWG rules that matter here): feed it chunks, it calls
 * `onMessage` for each complete event. Comments (`: keep-alive`) are skipped.
 */
export class SseParser {
  private buffer = '';
  private data: string[] = [];
  private event = '';
  private id: string | undefined;
  private retry: number | undefined;
  constructor(private readonly onMessage: (m: SseMessage) => void) {}

  /** Adds decoded text. */
  push(text: string): void {
    this.buffer += text;
    for (;;) {
      const nl = this.buffer.search(/\r\n|\r|\n/);
      if (nl < 0) return;
      const line = this.buffer.slice(0, nl);
      const skip = this.buffer.startsWith('\r\n', nl) ? 2 : 1;
      this.buffer = this.buffer.slice(nl + skip);
      this.line(line);
    }
  }

  private line(line: string): void {
    if (line === '') {
      if (this.data.length > 0 || this.retry !== undefined) {
        this.onMessage({
          event: this.event || 'message',
          data: this.data.join('\n'),
          ...(this.id !== undefined ? { id: this.id } : {}),
          ...(this.retry !== undefined ? { retry: this.retry } : {}),
        });
      }
      this.data = [];
      this.event = '';
      this.retry = undefined;
      return;
    }
    if (line.startsWith(':')) return;
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'data') this.data.push(value);
    else if (field === 'event') this.event = value;
    else if (field === 'id') this.id = value;
    else if (field === 'retry' && /^\d+$/.test(value)) this.retry = Number(value);
  }
}

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
        const parser = new SseParser((m) => this.dispatch(m));
        const decoder = new TextDecoder();
        const reader = res.body.getReader();
        for (;;) {
          const { done, value } = await reader.read();
          if (done) break;
          parser.push(decoder.decode(value, { stream: true }));
        }
      } catch {
        // Network error, 401 with an expired token (the token function gives a fresh one) or close().
      }
      if (!this.running) return;
      await new Promise((r) => setTimeout(r, backoffDelay(Math.min(failures++, 6), policy) + 250));
    }
  }

  private dispatch(m: SseMessage): void {
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
