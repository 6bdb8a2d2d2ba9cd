/** One event of GET /v1/events as a client reads it. */
export interface SseEvent {
  id: number;
  event: string;
  data: {
    imageId: string;
    status: string;
    image?: { status: string; variants: Record<string, unknown> };
  };
}

/** An open GET /v1/events stream that collects every event it receives. */
export interface EventStream {
  /** Every event so far, in the order the server sent them. */
  readonly events: readonly SseEvent[];
  /** Resolves once `until(events)` holds, or with what came when `timeoutMs` passed or the stream ended. */
  waitFor(until: (events: readonly SseEvent[]) => boolean, timeoutMs?: number): Promise<SseEvent[]>;
  close(): void;
}

/**
 * Opens an event stream and resolves once the server answered: the API subscribes the stream before
 * it sends the response head, so every event from then on reaches it.
 */
export async function openEventStream(
  url: string,
  headers: Record<string, string> = {},
): Promise<EventStream> {
  const controller = new AbortController();
  const res = await fetch(url, { headers, signal: controller.signal });
  if (!res.headers.get('content-type')?.includes('text/event-stream')) {
    controller.abort();
    throw new Error(`GET ${url} → ${res.status}, not an event stream`);
  }
  const events: SseEvent[] = [];
  let wake = () => {};
  let ended = false;
  void (async () => {
    let buffer = '';
    const decoder = new TextDecoder();
    try {
      for await (const chunk of res.body as AsyncIterable<Uint8Array>) {
        buffer += decoder.decode(chunk, { stream: true });
        for (let at = buffer.indexOf('\n\n'); at >= 0; at = buffer.indexOf('\n\n')) {
          const block = buffer.slice(0, at);
          buffer = buffer.slice(at + 2);
          const fields = Object.fromEntries(
            block
              .split('\n')
              .filter((l) => l && !l.startsWith(':'))
              .map((l) => [l.slice(0, l.indexOf(':')), l.slice(l.indexOf(':') + 1).trim()]),
          );
          if (fields.data)
            events.push({
              id: Number(fields.id),
              event: fields.event ?? 'message',
              data: JSON.parse(fields.data),
            });
        }
        wake();
      }
    } catch (err) {
      // Closing the stream aborts the read; anything else is the server's doing and ends it too.
      if (!controller.signal.aborted) throw err;
    } finally {
      ended = true;
      wake();
    }
  })().catch(() => undefined);
  return {
    events,
    async waitFor(until, timeoutMs = 30_000) {
      const deadline = Date.now() + timeoutMs;
      while (!until(events) && !ended && Date.now() < deadline) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, Math.max(0, deadline - Date.now()));
          wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
      }
      return [...events];
    },
    close: () => controller.abort(),
  };
}

/** Reads an event stream until `until` says stop (or `timeoutMs` passes); returns the events seen. */
export async function readEvents(
  url: string,
  headers: Record<string, string>,
  until: (events: readonly SseEvent[]) => boolean,
  timeoutMs = 30_000,
): Promise<SseEvent[]> {
  const stream = await openEventStream(url, headers);
  try {
    return await stream.waitFor(until, timeoutMs);
  } finally {
    stream.close();
  }
}
