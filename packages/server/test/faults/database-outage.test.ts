import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type PrivatePostgres, startPrivatePostgres } from '../helpers/private-pg.ts';
import { startTestStack, TESTDATA, type TestStack } from '../helpers/stack.ts';

// PostgreSQL stops under a running Darkroom and comes back: the API answers 503 with Retry-After
// meanwhile and recovers without a restart; the worker keeps the event and finishes the image later.
let pg: PrivatePostgres;
let stack: TestStack;

beforeAll(async () => {
  pg = await startPrivatePostgres();
  stack = await startTestStack({
    DARKROOM_DATABASE_URL: pg.url,
    // The outage must not push the event to the dead-letter queue.
    DARKROOM_MAX_RECEIVE_COUNT: '50',
  });
}, 60_000);
afterAll(async () => {
  await stack?.stop();
  await pg?.destroy();
});

describe('PostgreSQL stopped and started again', () => {
  it('API answers 503 + Retry-After, recovers by itself, and no upload is dropped', async () => {
    const file = path.join(TESTDATA, 'orientation/Portrait_6.jpg');
    const bytes = fs.readFileSync(file);
    const intent = await stack.call('POST', '/v1/uploads', {
      as: 'ola',
      body: { filename: 'p.jpg', contentType: 'image/jpeg', size: bytes.length },
    });
    expect(intent.status).toBe(201);
    const { image, upload } = intent.json as {
      image: { id: string };
      upload: { url: string; headers: Record<string, string> };
    };

    await pg.stop();
    for (const [method, route, body] of [
      ['GET', `/v1/images/${image.id}`, undefined],
      ['GET', '/v1/images', undefined],
      ['POST', '/v1/uploads', { filename: 'q.jpg', contentType: 'image/jpeg', size: 10 }],
    ] as const) {
      const res = await fetch(`${stack.api}${route}`, {
        method,
        headers: {
          authorization: `Bearer ${await tokenFor('ola')}`,
          ...(body ? { 'content-type': 'application/json' } : {}),
        },
        ...(body ? { body: JSON.stringify(body) } : {}),
      });
      expect(res.status, `${method} ${route}`).toBe(503);
      expect(res.headers.get('retry-after')).toMatch(/^\d+$/);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe('database_unavailable');
    }
    const health = await fetch(`${stack.api}/healthz`);
    expect(health.status).toBe(503);

    // The bytes still go straight to storage; the worker gets the event while the database is down.
    const put = await fetch(upload.url, {
      method: 'PUT',
      headers: upload.headers,
      body: new Uint8Array(bytes),
    });
    expect(put.status).toBe(200);
    const failedAttempts = await waitForMetric(
      /darkroom_worker_jobs_total\{outcome="error"\} (\d+)/,
      1,
      20_000,
    );
    expect(failedAttempts).toBeGreaterThanOrEqual(1);

    await pg.start();
    expect((await fetch(`${stack.api}/healthz`)).status).toBe(200);
    const done = await stack.waitSettled('ola', image.id, 60_000);
    expect(done).toMatchObject({ status: 'ready', width: 450, height: 600 });
  }, 120_000);
});

async function tokenFor(sub: string): Promise<string> {
  const { mintToken } = await import('../../src/api/auth/jwt.ts');
  return mintToken(stack.config.jwt.secret!, { sub, ttlSeconds: 600 });
}

/** Polls /metrics until the first capture group of `pattern` reaches `atLeast`; returns the value. */
async function waitForMetric(pattern: RegExp, atLeast: number, timeoutMs: number): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const text = await (await fetch(`${stack.api}/metrics`)).text();
    const value = Number(pattern.exec(text)?.[1] ?? 0);
    if (value >= atLeast || Date.now() > deadline) return value;
    await new Promise((r) => setTimeout(r, 200));
  }
}
