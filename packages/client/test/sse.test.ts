import { describe, expect, it } from 'vitest';
import { ApiClient } from '../src/api-client.ts';
import { retryPolicy } from '../src/retry.ts';
import { type SseMessage, SseParser, type StatusEvent, StatusStream } from '../src/status-stream.ts';

describe('SSE parser', () => {
  it('parses events split anywhere across chunks, skipping comments, with CRLF or LF', () => {
    const got: SseMessage[] = [];
    const parser = new SseParser((m) => got.push(m));
    const text =
      'retry: 2000\n\n: keep-alive\n\nid: 7\nevent: status\ndata: {"imageId":"a",\ndata: "status":"ready"}\n\r\nid: 8\r\nevent: status\r\ndata: {}\r\n\r\n';
    for (let i = 0; i < text.length; i += 3) parser.push(text.slice(i, i + 3));
    expect(got).toEqual([
      { event: 'message', data: '', retry: 2000 },
      { id: '7', event: 'status', data: '{"imageId":"a",\n"status":"ready"}' },
      { id: '8', event: 'status', data: '{}' },
    ]);
  });
});

describe('StatusStream', () => {
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
