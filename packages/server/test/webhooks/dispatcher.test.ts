import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import v8 from 'node:v8';
import vm from 'node:vm';
import type { WebhookPayload } from '@darkroom/contract';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { type Db, openDatabase } from '../../src/db/connect.ts';
import { ImageRepository, newImageRow } from '../../src/db/images.ts';
import {
  claimDelivery,
  WebhookDispatcher,
  type WebhookDispatcherOptions,
} from '../../src/webhooks/dispatcher.ts';
import { verifyWebhook } from '../../src/webhooks/signing.ts';

const SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
const log = pino({ level: process.env.DARKROOM_TEST_LOG ?? 'silent' });

interface Received {
  headers: http.IncomingHttpHeaders;
  body: string;
}

type Reply = (req: Received, res: http.ServerResponse) => void;

/** A webhook receiver on 127.0.0.1:0; `reply` decides each response (default 204). */
async function receiver(reply: Reply = (_req, res) => res.writeHead(204).end()) {
  const received: Received[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const r = { headers: req.headers, body: Buffer.concat(chunks).toString('utf8') };
      received.push(r);
      reply(r, res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks`;
  cleanups.push(
    () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  );
  return { url, received };
}

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function tempDb(): Promise<{ file: string; db: Db; images: ImageRepository }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'darkroom-webhooks-'));
  const file = path.join(dir, 'db.sqlite');
  const { db, dialect } = await openDatabase(`sqlite:${file}`);
  cleanups.push(() => fs.rmSync(dir, { recursive: true, force: true }));
  cleanups.push(() => db.destroy());
  return { file, db, images: new ImageRepository(db, dialect) };
}

const CHILD = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures', 'dispatcher-child.ts');

/** A WebhookDispatcher in another process on the same database file; stopped (SIGTERM) at cleanup. */
async function childDispatcher(file: string, url: string, options: Partial<WebhookDispatcherOptions>) {
  const child = spawn(process.execPath, ['--import', 'tsx', CHILD], {
    env: {
      ...process.env,
      WEBHOOK_CHILD_DB: `sqlite:${file}`,
      WEBHOOK_CHILD_URL: url,
      WEBHOOK_CHILD_SECRET: SECRET,
      WEBHOOK_CHILD_OPTIONS: JSON.stringify(options),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  cleanups.push(async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await exited;
  });
  let out = '';
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  await new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('WEBHOOKS READY')) resolve();
    });
    child.on('exit', (code) => reject(new Error(`dispatcher child exited (${code}):\n${out}`)));
  });
}

function dispatcher(
  deps: { db: Db; images: ImageRepository },
  url: string,
  opts: Partial<WebhookDispatcherOptions> = {},
): WebhookDispatcher {
  const d = new WebhookDispatcher({
    ...deps,
    webhook: { url, secret: SECRET },
    deliveryBaseUrl: 'https://cdn.example',
    log,
    pollIntervalMs: 20,
    backoffBaseMs: 50,
    backoffMaxMs: 200,
    ...opts,
  });
  cleanups.push(() => d.stop());
  return d;
}

let seq = 0;
/** Inserts a pending image and walks it to `final` through the repository (which logs each event). */
async function imageTo(images: ImageRepository, final: 'ready' | 'failed' | 'deleted', owner = 'alice') {
  const id = `img_${process.pid}_${++seq}`;
  const now = Date.now();
  const row = newImageRow(
    {
      id,
      owner,
      filename: 'photo.jpg',
      content_type: 'image/jpeg',
      declared_bytes: 100,
      upload_method: 'put',
    },
    now,
  );
  await images.insert(row);
  await images.recordOriginal(id, 90, '"etag"');
  await images.transition(id, ['uploaded'], { status: 'processing' });
  if (final === 'failed') {
    await images.transition(id, ['processing'], {
      status: 'failed',
      error_code: 'unsupported_format',
      error_message: 'not an image',
    });
  } else {
    await images.transition(id, ['processing'], {
      status: 'ready',
      width: 40,
      height: 30,
      format: 'jpeg',
      variants: JSON.stringify({
        thumb: {
          key: `variants/${id}/thumb.webp`,
          width: 4,
          height: 3,
          bytes: 12,
          contentType: 'image/webp',
        },
      }),
    });
    if (final === 'deleted') await images.delete(id);
  }
  return id;
}

async function waitFor(check: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 20));
  }
}

const parse = (r: Received) => verifyWebhook<WebhookPayload>(SECRET, r.headers, r.body);

describe('WebhookDispatcher', () => {
  it('posts one signed Standard Webhook per ready, failed and deleted image', async () => {
    const t = await tempDb();
    const hooks = await receiver();
    const d = dispatcher(t, hooks.url);
    await d.start();
    const ready = await imageTo(t.images, 'ready');
    await waitFor(() => hooks.received.length >= 1);
    const failed = await imageTo(t.images, 'failed', 'bob');
    const deleted = await imageTo(t.images, 'deleted');
    await waitFor(() => hooks.received.length >= 4);
    await new Promise((r) => setTimeout(r, 200));
    expect(hooks.received).toHaveLength(4);

    const [first, ...rest] = hooks.received.map((r) => ({ r, p: parse(r) }));
    expect(first!.r.headers['content-type']).toBe('application/json');
    expect(first!.r.headers['webhook-id']).toMatch(/^evt_\d+$/);
    expect(Number(first!.r.headers['webhook-timestamp'])).toBeCloseTo(Date.now() / 1000, -2);
    expect(first!.p).toMatchObject({
      type: 'image.ready',
      data: { id: ready, owner: 'alice', status: 'ready', width: 40, height: 30 },
    });
    expect(first!.p.data).toHaveProperty('variants.thumb.url', `https://cdn.example/img/${ready}/thumb`);
    expect(new Date(first!.p.timestamp).getTime()).toBeGreaterThan(Date.now() - 60_000);
    const byType = Object.fromEntries(rest.map(({ p }) => [p.type, p.data]));
    expect(byType['image.failed']).toMatchObject({
      id: failed,
      owner: 'bob',
      status: 'failed',
      error: { code: 'unsupported_format' },
    });
    expect(byType['image.ready']).toMatchObject({ id: deleted, status: 'ready' });
    expect(byType['image.deleted']).toEqual({ id: deleted, owner: 'alice', status: 'deleted' });
    // Distinct ids, in the order the changes happened when nothing failed.
    const ids = hooks.received.map((r) => Number(String(r.headers['webhook-id']).slice(4)));
    expect(ids).toEqual([...ids].sort((a, b) => a - b));
    expect(new Set(ids).size).toBe(4);

    await waitFor(async () => {
      const rows = await t.db.selectFrom('webhook_deliveries').selectAll().execute();
      return rows.length === 4 && rows.every((r) => r.delivered_at !== null && r.attempts === 1);
    });
  });

  it('retries a failing receiver with backoff, under the same webhook-id, until it answers 2xx', async () => {
    const t = await tempDb();
    let calls = 0;
    const hooks = await receiver((_req, res) => {
      calls++;
      res.writeHead(calls <= 2 ? 500 : 200).end('ok');
    });
    const d = dispatcher(t, hooks.url);
    await d.start();
    await imageTo(t.images, 'ready');
    await waitFor(() => hooks.received.length >= 3);
    await new Promise((r) => setTimeout(r, 300));
    expect(hooks.received).toHaveLength(3);
    const ids = new Set(hooks.received.map((r) => r.headers['webhook-id']));
    expect(ids.size).toBe(1);
    // Each attempt is signed afresh and verifies; the body is the same bytes every time.
    for (const r of hooks.received) expect(parse(r).type).toBe('image.ready');
    expect(new Set(hooks.received.map((r) => r.body)).size).toBe(1);
    const row = await t.db.selectFrom('webhook_deliveries').selectAll().executeTakeFirstOrThrow();
    expect(row).toMatchObject({ attempts: 3, last_error: null, next_attempt_at: null });
    expect(row.delivered_at).not.toBeNull();
  });

  it('gives up after maxAttempts and keeps the row with the last error', async () => {
    const t = await tempDb();
    const hooks = await receiver((_req, res) => res.writeHead(503).end());
    const d = dispatcher(t, hooks.url, { maxAttempts: 3 });
    await d.start();
    await imageTo(t.images, 'ready');
    await waitFor(async () => {
      const row = await t.db.selectFrom('webhook_deliveries').selectAll().executeTakeFirst();
      return row?.next_attempt_at === null;
    });
    await new Promise((r) => setTimeout(r, 300));
    expect(hooks.received).toHaveLength(3);
    const row = await t.db.selectFrom('webhook_deliveries').selectAll().executeTakeFirstOrThrow();
    expect(row).toMatchObject({ attempts: 3, last_error: 'HTTP 503', delivered_at: null });
  });

  it('treats redirects and refused connections as failures', async () => {
    const t = await tempDb();
    const target = await receiver();
    const redirect = await receiver((_req, res) => res.writeHead(307, { location: target.url }).end());
    const d = dispatcher(t, redirect.url, { maxAttempts: 1 });
    await d.start();
    await imageTo(t.images, 'ready');
    await waitFor(async () => {
      const row = await t.db.selectFrom('webhook_deliveries').selectAll().executeTakeFirst();
      return row?.last_error === 'HTTP 307';
    });
    expect(target.received).toHaveLength(0);
    await d.stop();

    // Nothing listens on the port any more.
    const t2 = await tempDb();
    const gone = await receiver();
    await cleanups.pop()!();
    const d2 = dispatcher(t2, gone.url, { maxAttempts: 1 });
    await d2.start();
    await imageTo(t2.images, 'ready');
    await waitFor(async () => {
      const row = await t2.db.selectFrom('webhook_deliveries').selectAll().executeTakeFirst();
      return row?.last_error?.includes('ECONNREFUSED') ?? false;
    });
  });

  it('delivers each event exactly once when several processes run dispatchers on one database', async () => {
    const t = await tempDb();
    // Refusing everything for a while makes the retries of every delivery fall due in all three
    // processes at once, so their claims do race; then a slow 200 keeps attempts in flight together.
    let refusing = true;
    const answers: number[] = [];
    const hooks = await receiver((_req, res) => {
      const status = refusing ? 503 : 200;
      answers.push(status);
      setTimeout(() => res.writeHead(status).end(), 10);
    });
    const fast = { pollIntervalMs: 5, backoffBaseMs: 20, backoffMaxMs: 40, concurrency: 8 };
    // Two other processes and this one: in one process SQLite calls never interleave, across them they do.
    await Promise.all([childDispatcher(t.file, hooks.url, fast), childDispatcher(t.file, hooks.url, fast)]);
    await dispatcher(t, hooks.url, fast).start();
    const ids: string[] = [];
    for (let i = 0; i < 30; i++) ids.push(await imageTo(t.images, 'ready'));
    await waitFor(async () => {
      const rows = await t.db.selectFrom('webhook_deliveries').select('attempts').execute();
      return rows.length === 30 && rows.every((r) => r.attempts >= 3);
    });
    refusing = false;
    await waitFor(async () => {
      const rows = await t.db.selectFrom('webhook_deliveries').select('delivered_at').execute();
      return rows.length === 30 && rows.every((r) => r.delivered_at !== null);
    });
    await new Promise((r) => setTimeout(r, 200));
    const okIds = hooks.received.filter((_, i) => answers[i] === 200).map((r) => r.headers['webhook-id']);
    expect(okIds).toHaveLength(30);
    expect(new Set(okIds).size).toBe(30);
    expect(new Set(hooks.received.map((r) => parse(r).data.id))).toEqual(new Set(ids));
    // Every attempt was claimed by exactly one process: the attempt counts add up to the requests.
    const rows = await t.db.selectFrom('webhook_deliveries').selectAll().execute();
    expect(rows).toHaveLength(30);
    expect(rows.reduce((n, r) => n + r.attempts, 0)).toBe(hooks.received.length);
    expect(hooks.received.length).toBeGreaterThanOrEqual(90);
  });

  it('lets only one of several claims on the same snapshot of a delivery through', async () => {
    const t = await tempDb();
    const now = Date.now();
    await t.db
      .insertInto('webhook_deliveries')
      .values({
        id: 7,
        owner: 'alice',
        image_id: 'img_7',
        status: 'ready',
        payload: '{}',
        attempts: 0,
        next_attempt_at: now,
        last_error: null,
        delivered_at: null,
        created_at: now,
      })
      .execute();
    const seen = await t.db.selectFrom('webhook_deliveries').selectAll().executeTakeFirstOrThrow();
    const other = await openDatabase(`sqlite:${t.file}`);
    cleanups.push(() => other.db.destroy());
    expect(await claimDelivery(t.db, seen, now + 60_000)).toBe(true);
    expect(await claimDelivery(other.db, seen, now + 60_000)).toBe(false);
    expect(await claimDelivery(t.db, seen, now + 60_000)).toBe(false);
    const row = await t.db.selectFrom('webhook_deliveries').selectAll().executeTakeFirstOrThrow();
    expect(row).toMatchObject({ attempts: 1, next_attempt_at: now + 60_000 });
    // Once delivered, nobody claims it, even with a fresh snapshot.
    await t.db.updateTable('webhook_deliveries').set({ delivered_at: now }).execute();
    expect(await claimDelivery(t.db, row, now + 120_000)).toBe(false);
  });

  it('keeps delivering while a receiver hangs, and retries the hung webhook after its timeout', async () => {
    const t = await tempDb();
    let calls = 0;
    const hooks = await receiver((_req, res) => {
      // The first request never gets an answer.
      if (++calls > 1) res.writeHead(200).end();
    });
    const d = dispatcher(t, hooks.url, { timeoutMs: 2500 });
    await d.start();
    const hung = await imageTo(t.images, 'ready');
    await waitFor(() => hooks.received.length >= 1);
    const started = Date.now();
    const later = await imageTo(t.images, 'ready');
    await waitFor(() => hooks.received.length >= 2);
    // Well before the hung attempt times out.
    expect(Date.now() - started).toBeLessThan(2000);
    expect(parse(hooks.received[1]!).data.id).toBe(later);
    // The hung one times out, then goes again under the same id (after its backoff: generous on a
    // loaded machine, where 10 s was once not enough).
    await waitFor(() => hooks.received.length >= 3, 40_000);
    expect(parse(hooks.received[2]!).data.id).toBe(hung);
    expect(hooks.received[2]!.headers['webhook-id']).toBe(hooks.received[0]!.headers['webhook-id']);
    await waitFor(async () => {
      const rows = await t.db
        .selectFrom('webhook_deliveries')
        .selectAll()
        .where('image_id', '=', hung)
        .execute();
      return rows[0]?.delivered_at !== null && rows[0]?.attempts === 2;
    });
    const row = await t.db
      .selectFrom('webhook_deliveries')
      .selectAll()
      .where('image_id', '=', hung)
      .executeTakeFirstOrThrow();
    expect(row.delivered_at).not.toBeNull();
  });

  it('times out a hung receiver even while the garbage collector runs (it once hung for ever)', async () => {
    // AbortSignal.any([AbortSignal.timeout(…), …]) lost its timeout to a collection on Node 20
    // (nodejs/node#57736): the attempt then never ended. Collect every 50 ms while it hangs.
    v8.setFlagsFromString('--expose-gc');
    const gc = vm.runInNewContext('gc') as () => void;
    const collecting = setInterval(gc, 50);
    try {
      const t = await tempDb();
      let calls = 0;
      const hooks = await receiver((_req, res) => {
        if (++calls > 1) res.writeHead(200).end();
      });
      const d = dispatcher(t, hooks.url, { timeoutMs: 500 });
      await d.start();
      const hung = await imageTo(t.images, 'ready');
      await waitFor(() => hooks.received.length >= 2);
      expect(parse(hooks.received[1]!).data.id).toBe(hung);
    } finally {
      clearInterval(collecting);
    }
  });

  it('stops promptly: idle at once, and a hung webhook is aborted after the stop timeout', async () => {
    const t = await tempDb();
    const hooks = await receiver(() => undefined);
    const idle = dispatcher(t, hooks.url);
    await idle.start();
    let at = Date.now();
    await idle.stop();
    expect(Date.now() - at).toBeLessThan(500);

    const d = dispatcher(t, hooks.url, { timeoutMs: 30_000, stopTimeoutMs: 200 });
    await d.start();
    await imageTo(t.images, 'ready');
    await waitFor(() => hooks.received.length >= 1);
    at = Date.now();
    await d.stop();
    expect(Date.now() - at).toBeLessThan(1000);
    // The aborted attempt is recorded, and will be retried (by this or another process).
    const row = await t.db.selectFrom('webhook_deliveries').selectAll().executeTakeFirstOrThrow();
    expect(row).toMatchObject({ attempts: 1, delivered_at: null, last_error: 'shutting down' });
    expect(row.next_attempt_at).not.toBeNull();
  });

  it('does not replay history on first start, and resumes from its cursor after a restart', async () => {
    const t = await tempDb();
    const hooks = await receiver();
    await imageTo(t.images, 'ready');
    const first = dispatcher(t, hooks.url, { settleMs: 0 });
    await first.start();
    await new Promise((r) => setTimeout(r, 200));
    expect(hooks.received).toHaveLength(0);
    await first.stop();
    // Changes while no dispatcher runs are sent by the next one.
    const whileDown = await imageTo(t.images, 'ready');
    const second = dispatcher(t, hooks.url, { settleMs: 0 });
    await second.start();
    await waitFor(() => hooks.received.length >= 1);
    await new Promise((r) => setTimeout(r, 200));
    expect(hooks.received.map((r) => parse(r).data.id)).toEqual([whileDown]);
    const cursor = await t.db.selectFrom('webhook_cursor').selectAll().executeTakeFirstOrThrow();
    expect(cursor.last_event_id).toBe(await t.images.lastEventId());
  });

  it('does nothing when no webhook URL is configured', async () => {
    const t = await tempDb();
    const d = new WebhookDispatcher({
      ...t,
      webhook: { url: undefined, secret: undefined },
      deliveryBaseUrl: 'https://cdn.example',
      log,
    });
    expect(d.enabled).toBe(false);
    await d.start();
    await imageTo(t.images, 'ready');
    await d.stop();
    expect(await t.db.selectFrom('webhook_cursor').selectAll().execute()).toEqual([]);
    expect(await t.db.selectFrom('webhook_deliveries').selectAll().execute()).toEqual([]);
  });
});
