import path from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestStack, TESTDATA, type TestStack } from '../helpers/stack.ts';
import { metric, scrape } from './support.ts';

// A variant held in memory is answered by delivery's lean path, in front of the router. Whatever answers,
// a client, the logs and /metrics must not be able to tell: the first GET below is the router's (nothing
// is held yet), the ones after it the lean path's.

let stack: TestStack;
let id: string;
const lines: Array<Record<string, unknown>> = [];

beforeAll(async () => {
  const log = pino({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line)) });
  stack = await startTestStack({}, { log });
  id = await stack.upload('lena', path.join(TESTDATA, 'orientation/Landscape_1.jpg'), 'image/jpeg');
  expect((await stack.waitSettled('lena', id)).status).toBe('ready');
}, 120_000);
afterAll(() => stack?.stop());

const headersOf = (r: Response) => Object.fromEntries([...r.headers].filter(([name]) => name !== 'date'));
const requestLines = (url: string) =>
  lines.filter((l) => (l.req as { url?: string } | undefined)?.url === url || l.msg === 'request completed');

describe('the lean path for variants held in memory', () => {
  it('answers GET, HEAD and If-None-Match as the full route does, logs and counts them alike', async () => {
    const url = `${stack.api}/img/${id}/thumb`;
    const before = await scrape(stack);
    const first = await fetch(url);
    const firstBody = Buffer.from(await first.arrayBuffer());
    const second = await fetch(url);
    expect(second.status).toBe(200);
    expect(headersOf(second)).toEqual(headersOf(first));
    expect(Buffer.from(await second.arrayBuffer()).equals(firstBody)).toBe(true);

    const head = await fetch(url, { method: 'HEAD' });
    expect(head.status).toBe(200);
    // Node closes the connection after any HEAD with a Content-Length (the router's answer too).
    const { connection: _c, 'keep-alive': _k, ...getHeaders } = headersOf(first);
    expect(headersOf(head)).toEqual({ ...getHeaders, connection: 'close' });
    expect((await head.arrayBuffer()).byteLength).toBe(0);

    const etag = first.headers.get('etag')!;
    const notModified = await fetch(url, { headers: { 'if-none-match': `"other", ${etag}` } });
    expect(notModified.status).toBe(304);
    expect(headersOf(notModified)).toMatchObject({
      'cache-control': 'public, max-age=31536000, immutable',
      etag,
      'last-modified': first.headers.get('last-modified'),
      'x-content-type-options': 'nosniff',
      'referrer-policy': 'no-referrer',
    });
    expect(headersOf(notModified)['content-type']).toBeUndefined();

    // Counted under the route, by status, whichever path answered (3 × 200, 1 × 304).
    const after = await scrape(stack);
    const count = (text: string, method: string, status: number) =>
      metric(
        text,
        `darkroom_http_requests_total{method="${method}",route="/img/:id/:variant",status="${status}"}`,
      );
    expect(count(after, 'GET', 200) - count(before, 'GET', 200)).toBe(2);
    expect(count(after, 'HEAD', 200) - count(before, 'HEAD', 200)).toBe(1);
    expect(count(after, 'GET', 304) - count(before, 'GET', 304)).toBe(1);
    const responses = (text: string, status: number) =>
      metric(text, `darkroom_delivery_responses_total{status="${status}"}`);
    expect(responses(after, 200) - responses(before, 200)).toBe(3);
    expect(responses(after, 304) - responses(before, 304)).toBe(1);

    // Two log lines per request, of the same shape, each request with an id of its own.
    const path = `/img/${id}/thumb`;
    const incoming = lines.filter(
      (l) => l.msg === 'incoming request' && (l.req as { url: string }).url === path,
    );
    expect(incoming).toHaveLength(4);
    const shape = (l: Record<string, unknown>) => ({
      keys: Object.keys(l).sort(),
      req: Object.keys(l.req as object).sort(),
    });
    for (const l of incoming) expect(shape(l)).toEqual(shape(incoming[0]!));
    const ids = incoming.map((l) => l.reqId);
    expect(new Set(ids).size).toBe(4);
    const completed = requestLines(path).filter(
      (l) => l.msg === 'request completed' && ids.includes(l.reqId),
    );
    expect(completed.map((l) => (l.res as { statusCode: number }).statusCode)).toEqual([200, 200, 200, 304]);
    for (const l of completed) expect(typeof l.responseTime).toBe('number');
  });

  it('refuses a held variant at once when its image is deleted', async () => {
    const other = await stack.upload(
      'lena',
      path.join(TESTDATA, 'orientation/Landscape_2.jpg'),
      'image/jpeg',
    );
    expect((await stack.waitSettled('lena', other)).status).toBe('ready');
    const url = `${stack.api}/img/${other}/thumb`;
    expect((await fetch(url)).status).toBe(200);
    expect((await fetch(url)).status).toBe(200);
    expect((await stack.call('DELETE', `/v1/images/${other}`, { as: 'lena' })).status).toBe(204);
    const gone = await fetch(url);
    expect(gone.status).toBe(404);
    expect(gone.headers.get('cache-control')).toBe('private, max-age=60');
  });
});
