import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mintToken } from '../../src/api/auth/jwt.ts';
import { JWT_SECRET } from '../helpers/api.ts';
import { startTestStack, TESTDATA, type TestStack } from '../helpers/stack.ts';

let stack: TestStack;
beforeAll(async () => {
  stack = await startTestStack();
}, 60_000);
afterAll(() => stack.stop());

interface SseEvent {
  id: number;
  event: string;
  data: { imageId: string; status: string; image?: { status: string; variants: Record<string, unknown> } };
}

/** Reads an SSE stream until `until` says stop; returns the events seen. */
async function readEvents(
  url: string,
  headers: Record<string, string>,
  until: (events: SseEvent[]) => boolean,
  timeoutMs = 30_000,
) {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), timeoutMs);
  const res = await fetch(url, { headers, signal: controller.signal });
  expect(res.headers.get('content-type')).toContain('text/event-stream');
  const events: SseEvent[] = [];
  let buffer = '';
  const decoder = new TextDecoder();
  try {
    for await (const chunk of res.body as AsyncIterable<Uint8Array>) {
      buffer += decoder.decode(chunk, { stream: true });
      let at = buffer.indexOf('\n\n');
      while (at >= 0) {
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
        at = buffer.indexOf('\n\n');
      }
      if (until(events)) break;
    }
  } catch (err) {
    // The time limit is how a "nothing arrives" check ends.
    if (!controller.signal.aborted) throw err;
  } finally {
    clearTimeout(timer);
    controller.abort();
  }
  return events;
}

describe('GET /v1/events', () => {
  it('streams an upload from pending to ready, then resumes from Last-Event-ID', async () => {
    const token = await mintToken(JWT_SECRET, { sub: 'dave', ttlSeconds: 600 });
    const url = `${stack.api}/v1/events`;
    const live = readEvents(url, { authorization: `Bearer ${token}` }, (ev) =>
      ev.some((e) => e.data.status === 'ready'),
    );
    await new Promise((r) => setTimeout(r, 300));
    const id = await stack.upload('dave', path.join(TESTDATA, 'orientation/Portrait_1.jpg'), 'image/jpeg');
    const events = await live;
    expect(events.map((e) => e.data.status)).toEqual(['pending', 'uploaded', 'processing', 'ready']);
    expect(events.every((e) => e.event === 'status' && e.data.imageId === id)).toBe(true);
    expect(events.at(-1)!.data.image).toMatchObject({ status: 'ready' });
    expect(Object.keys(events.at(-1)!.data.image!.variants)).toContain('thumb');

    // A reconnect with the id of the first event gets exactly what came after it.
    const resumed = await readEvents(
      `${url}?access_token=${token}`,
      { 'last-event-id': String(events[0]!.id) },
      (ev) => ev.length >= 3,
    );
    expect(resumed.map((e) => e.id)).toEqual(events.slice(1).map((e) => e.id));
  });

  it('shows nobody else’s images and refuses unauthenticated streams', async () => {
    const res = await fetch(`${stack.api}/v1/events`);
    expect(res.status).toBe(401);
    const token = await mintToken(JWT_SECRET, { sub: 'erin', ttlSeconds: 600 });
    const erin = readEvents(
      `${stack.api}/v1/events?access_token=${token}&lastEventId=0`,
      {},
      () => false,
      3000,
    );
    await stack.upload('frank', path.join(TESTDATA, 'orientation/Portrait_2.jpg'), 'image/jpeg');
    expect(await erin).toEqual([]);
  });
});
