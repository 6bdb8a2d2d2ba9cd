import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mintToken } from '../../src/api/auth/jwt.ts';
import { JWT_SECRET } from '../helpers/api.ts';
import { openEventStream, readEvents } from '../helpers/sse.ts';
import { startTestStack, TESTDATA, type TestStack } from '../helpers/stack.ts';

// API and worker share this process (as in `darkroom start`) and its poll interval is an hour: every
// event these tests see was read because a commit in this process woke the event hub.
let stack: TestStack;
beforeAll(async () => {
  stack = await startTestStack({ DARKROOM_EVENT_POLL_MS: '3600000' });
}, 60_000);
afterAll(() => stack.stop());

describe('GET /v1/events', () => {
  it('streams an upload from pending to ready, then resumes from Last-Event-ID', async () => {
    const token = await mintToken(JWT_SECRET, { sub: 'dave', ttlSeconds: 600 });
    const url = `${stack.api}/v1/events`;
    const live = await openEventStream(url, { authorization: `Bearer ${token}` });
    const id = await stack.upload('dave', path.join(TESTDATA, 'orientation/Portrait_1.jpg'), 'image/jpeg');
    const events = await live.waitFor((ev) => ev.some((e) => e.data.status === 'ready'));
    live.close();
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
    const erin = await openEventStream(`${stack.api}/v1/events?access_token=${token}&lastEventId=0`);
    const frank = await stack.upload(
      'frank',
      path.join(TESTDATA, 'orientation/Portrait_2.jpg'),
      'image/jpeg',
    );
    await stack.waitSettled('frank', frank);
    expect(await erin.waitFor(() => false, 1000)).toEqual([]);
    erin.close();
  });
});
