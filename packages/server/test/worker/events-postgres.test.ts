import { createPgDatabase, type TestDatabase } from '@darkroom/testkit';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mintToken } from '../../src/api/auth/jwt.ts';
import { JWT_SECRET } from '../helpers/api.ts';
import { type EventStream, openEventStream } from '../helpers/sse.ts';
import { startTestStack, type TestStack } from '../helpers/stack.ts';

// On PostgreSQL, workers and APIs in many processes append status events at once: an event id is taken
// when its row is inserted, but becomes visible only when its transaction commits, so a later id can be
// seen first. The SSE streams must still get every event, once, in id order (what Last-Event-ID resumes
// from). The test plays two such writers by hand, one of them slow to commit.
//
// The API hears other processes' commits through LISTEN/NOTIFY: its poll interval is an hour here, so
// every event these tests see was read because a notification woke the hub (or, at a hole, because it
// re-reads while it waits there). The hand-written events come over connections of their own, so the
// API's process never learns of them any other way.
let db: TestDatabase;
let stack: TestStack;
let writer: pg.Pool;

beforeAll(async () => {
  db = await createPgDatabase();
  stack = await startTestStack({ DARKROOM_DATABASE_URL: db.url, DARKROOM_EVENT_POLL_MS: '3600000' });
  writer = new pg.Pool({ connectionString: db.url, max: 4 });
}, 60_000);
afterAll(async () => {
  await writer?.end();
  await stack?.stop();
  await db?.drop();
});

/** Inserts a status event for `imageId` through `client` (in whatever transaction it has open); returns its id. */
async function logEvent(client: pg.PoolClient | pg.Pool, owner: string, imageId: string): Promise<number> {
  const { rows } = await client.query<{ id: string }>(
    `INSERT INTO image_events (owner, image_id, status, created_at) VALUES ($1, $2, 'ready', $3) RETURNING id`,
    [owner, imageId, Date.now()],
  );
  return Number(rows[0]!.id);
}

async function streamOf(owner: string, lastEventId?: number): Promise<EventStream> {
  const token = await mintToken(JWT_SECRET, { sub: owner, ttlSeconds: 600 });
  return openEventStream(`${stack.api}/v1/events`, {
    authorization: `Bearer ${token}`,
    ...(lastEventId === undefined ? {} : { 'last-event-id': String(lastEventId) }),
  });
}

/** Long enough for the event hub to have read whatever was committed before (it is woken by each commit). */
const hubPolls = () => new Promise((r) => setTimeout(r, 1000));

describe('GET /v1/events on PostgreSQL, events from other processes', () => {
  it('an event committed elsewhere reaches the stream though the API never polls', async () => {
    const stream = await streamOf('quinn');
    try {
      const id = await logEvent(writer, 'quinn', 'img-elsewhere');
      const events = await stream.waitFor((ev) => ev.length >= 1, 20_000);
      expect(events.map((e) => [e.id, e.data.imageId])).toEqual([[id, 'img-elsewhere']]);
    } finally {
      stream.close();
    }
  });

  it('a lost LISTEN connection is made again, and what was committed meanwhile is streamed', async () => {
    const stream = await streamOf('rita');
    try {
      const { rows } = await writer.query<{ ok: boolean }>(
        `SELECT pg_terminate_backend(pid) AS ok FROM pg_stat_activity
         WHERE datname = current_database() AND query ILIKE 'LISTEN %'`,
      );
      expect(rows.map((r) => r.ok)).toEqual([true]);
      const id = await logEvent(writer, 'rita', 'img-while-down');
      const events = await stream.waitFor((ev) => ev.length >= 1, 20_000);
      expect(events.map((e) => [e.id, e.data.imageId])).toEqual([[id, 'img-while-down']]);
      // Listening again: the next commit is heard as before.
      const next = await logEvent(writer, 'rita', 'img-after');
      const more = await stream.waitFor((ev) => ev.length >= 2, 20_000);
      expect(more.map((e) => e.id)).toEqual([id, next]);
    } finally {
      stream.close();
    }
  });
});

describe('GET /v1/events on PostgreSQL, writers committing out of id order', () => {
  it('an event whose transaction commits after a later event’s is still streamed, and in id order', async () => {
    const stream = await streamOf('olga');
    const slow = await writer.connect();
    try {
      await slow.query('BEGIN');
      const late = await logEvent(slow, 'olga', 'img-late');
      const early = await logEvent(writer, 'olga', 'img-early');
      expect(early).toBeGreaterThan(late);
      await hubPolls();
      // A client resuming meanwhile, from just before both.
      const resumed = await streamOf('olga', late - 1);
      await hubPolls();
      await slow.query('COMMIT');
      for (const s of [stream, resumed]) {
        const events = await s.waitFor((ev) => ev.length >= 2, 20_000);
        expect(events.map((e) => [e.id, e.data.imageId])).toEqual([
          [late, 'img-late'],
          [early, 'img-early'],
        ]);
        s.close();
      }
    } finally {
      slow.release();
      stream.close();
    }
  });

  it('an event whose transaction rolled back holds up none after it', async () => {
    const stream = await streamOf('pavel');
    const slow = await writer.connect();
    try {
      await slow.query('BEGIN');
      await logEvent(slow, 'pavel', 'img-never');
      const after = await logEvent(writer, 'pavel', 'img-after');
      await hubPolls();
      await slow.query('ROLLBACK');
      const events = await stream.waitFor((ev) => ev.length >= 1, 20_000);
      expect(events.map((e) => [e.id, e.data.imageId])).toEqual([[after, 'img-after']]);
    } finally {
      slow.release();
      stream.close();
    }
  });
});
