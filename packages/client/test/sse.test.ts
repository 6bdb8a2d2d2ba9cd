import { describe, expect, it } from 'vitest';
import { type SseMessage, SseParser } from '../src/status-stream.ts';

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
