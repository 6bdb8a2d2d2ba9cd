import { describe, expect, it } from 'vitest';
import { ApiClient } from '../src/api-client.ts';
import { retryPolicy } from '../src/retry.ts';
import { type StatusEvent, StatusStream } from '../src/status-stream.ts';

/** A fetch whose first GET /v1/events answers `body` in chunks of `size` characters; later ones stay open. */
function streamingFetch(body: string, size: number): typeof fetch {
  let served = false;
  return async () => {
    if (served) return new Promise<Response>(() => {});
    served = true;
    const bytes = new TextEncoder().encode(body);
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        for (let i = 0; i < bytes.length; i += size) controller.enqueue(bytes.subarray(i, i + size));
        controller.close();
      },
    });
    return new Response(stream, { status: 200, headers: { 'content-type': 'text/event-stream' } });
  };
}

describe('StatusStream', () => {
  it('reads events split anywhere across chunks, with CRLF or LF, multi-line data, comments and other events', async () => {
    const text =
      'retry: 2000\n\n: keep-alive\n\nid: 7\nevent: status\ndata: {"imageId":"a",\ndata: "status":"ready"}\n\r\n' +
      'event: other\ndata: {}\n\nid: 8\r\nevent: status\r\ndata: {"imageId":"b","status":"failed"}\r\n\r\n';
    const fetchImpl = streamingFetch(text, 3);
    const stream = new StatusStream(
      new ApiClient('http://api', () => 'tok', retryPolicy(), fetchImpl),
      fetchImpl,
    );
    const events: StatusEvent[] = [];
    const stop = stream.subscribe((e) => events.push(e));
    for (let i = 0; i < 200 && events.length < 2; i++) await new Promise((r) => setTimeout(r, 10));
    stop();
    expect(events).toEqual([
      { id: '7', imageId: 'a', status: 'ready' },
      { id: '8', imageId: 'b', status: 'failed' },
    ]);
  });

  it('reconnects after the stream ends, sending Last-Event-ID and a fresh token, and tells listeners it reopened', async () => {
    const requests: Record<string, string>[] = [];
    const bodies = [
      'retry: 2000\n\nid: 5\nevent: status\ndata: {"imageId":"a","status":"processing"}\n\n',
      'id: 6\nevent: status\ndata: {"imageId":"a","status":"ready"}\n\n',
    ];
    const fetchImpl: typeof fetch = async (_input, init) => {
      requests.push(init!.headers as Record<string, string>);
      const body = bodies.shift();
      if (body === undefined) return new Promise<Response>(() => {}); // a stream that stays open
      const stream = new ReadableStream<Uint8Array>({
        start(controller) {
          const bytes = new TextEncoder().encode(body);
          // Split mid-event, as networks do.
          controller.enqueue(bytes.subarray(0, 20));
          controller.enqueue(bytes.subarray(20));
          controller.close();
        },
      });
      return new Response(stream, { status: 200, headers: { 'content-type': 'text/event-stream' } });
    };
    let n = 0;
    const api = new ApiClient('http://api', () => `tok${++n}`, retryPolicy(), fetchImpl);
    const stream = new StatusStream(api, fetchImpl);
    const events: StatusEvent[] = [];
    let opened = 0;
    stream.onOpen(() => opened++);
    const stop = stream.subscribe((e) => events.push(e));
    for (let i = 0; i < 200 && events.length < 2; i++) await new Promise((r) => setTimeout(r, 20));
    stop();
    expect(events.map((e) => [e.id, e.imageId, e.status])).toEqual([
      ['5', 'a', 'processing'],
      ['6', 'a', 'ready'],
    ]);
    expect(opened).toBe(2);
    expect(requests[0]).toMatchObject({ authorization: 'Bearer tok1', accept: 'text/event-stream' });
    expect(requests[0]!['last-event-id']).toBeUndefined();
    expect(requests[1]).toMatchObject({ authorization: 'Bearer tok2', 'last-event-id': '5' });
  });
});
