import http from 'node:http';
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestStack, type TestStack } from '../helpers/stack.ts';

// 18.4: clients that hold connections without using them, against every server `darkroom start` runs
// (API, embedded S3, embedded SQS): headers or bodies trickled a byte at a time are cut, a steady upload
// is not, and one address cannot hold more than its share of connections.

const HOOK_SECRET = 'slow-clients-webhook-secret-0123';

/** How long the trickles below would take to finish: far beyond any limit, so finishing means "not cut". */
const TRICKLE_BYTES = 100;
const TRICKLE_EVERY_MS = 400;

interface Trickled {
  /** The server closed the connection before the client had sent everything. */
  cut: boolean;
  /** What the server answered, if anything, before closing. */
  response: string;
}

/**
 * Opens a raw connection to `url`, sends `head` at once, then `trickle` one byte every TRICKLE_EVERY_MS.
 * Resolves when the server closes the connection, or when everything was sent and answered.
 */
function trickle(url: string, head: string, trickleText: string): Promise<Trickled> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const socket = net.connect(Number(port), hostname);
    let response = '';
    let sent = 0;
    let timer: NodeJS.Timeout | undefined;
    socket.on('data', (d) => (response += d.toString()));
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearInterval(timer);
      resolve({ cut: sent < trickleText.length, response });
    });
    socket.on('connect', () => {
      socket.write(head);
      timer = setInterval(() => {
        if (sent >= trickleText.length) {
          clearInterval(timer);
          socket.end();
          return;
        }
        socket.write(trickleText[sent++]!);
      }, TRICKLE_EVERY_MS);
    });
  });
}

const body = 'x'.repeat(TRICKLE_BYTES);
const hostOf = (url: string) => new URL(url).host;

describe('timeouts (headers, bodies) on every server', () => {
  let stack: TestStack;
  beforeAll(async () => {
    stack = await startTestStack({
      DARKROOM_HEADERS_TIMEOUT_SECONDS: '2',
      DARKROOM_BODY_TIMEOUT_SECONDS: '2',
      DARKROOM_S3_WEBHOOK_SECRET: HOOK_SECRET,
    });
  }, 60_000);
  afterAll(() => stack?.stop());

  it.each([
    ['API, an unknown route', 'api', '/nonexistent'],
    ['API, the S3 webhook', 'api', `/v1/hooks/s3?token=${HOOK_SECRET}`],
    ['SQS', 'sqs', '/'],
  ] as const)(
    '%s: a body trickled a byte at a time is cut',
    async (_name, server, path) => {
      const base = server === 'api' ? stack.api : stack.sqs;
      const head = `POST ${path} HTTP/1.1\r\nHost: ${hostOf(base)}\r\nContent-Type: application/json\r\nContent-Length: ${TRICKLE_BYTES}\r\n\r\n`;
      const result = await trickle(base, head, body);
      expect(result.cut).toBe(true);
    },
    30_000,
  );

  it('S3: a presigned PUT whose body is trickled is cut, and nothing is stored', async () => {
    const intent = await stack.call('POST', '/v1/uploads', {
      as: 'slow-sam',
      body: { filename: 'a.jpg', contentType: 'image/jpeg', size: TRICKLE_BYTES },
    });
    const { image, upload } = intent.json as { image: { id: string }; upload: { url: string } };
    const url = new URL(upload.url);
    const head = `PUT ${url.pathname}${url.search} HTTP/1.1\r\nHost: ${url.host}\r\nContent-Type: image/jpeg\r\nContent-Length: ${TRICKLE_BYTES}\r\n\r\n`;
    expect((await trickle(upload.url, head, body)).cut).toBe(true);
    const after = await stack.call('POST', `/v1/uploads/${image.id}/complete`, { as: 'slow-sam' });
    expect(after.json).toMatchObject({ error: { code: 'upload_incomplete' } });
  }, 30_000);

  it.each(['api', 's3', 'sqs'] as const)(
    '%s: headers trickled a byte at a time are cut',
    async (server) => {
      const base = server === 'api' ? stack.api : server === 's3' ? stack.s3 : stack.sqs;
      const result = await trickle(
        base,
        `GET / HTTP/1.1\r\nHost: ${hostOf(base)}\r\n`,
        `X-Slow: ${'y'.repeat(90)}\r\n\r\n`,
      );
      expect(result.cut).toBe(true);
    },
    30_000,
  );

  it('S3: a steady upload over several body windows is not cut', async () => {
    const size = 3 * 1024 * 1024;
    const intent = await stack.call('POST', '/v1/uploads', {
      as: 'slow-sam',
      body: { filename: 'b.jpg', contentType: 'image/jpeg', size },
    });
    const { upload } = intent.json as { upload: { url: string } };
    // 64 KiB every 60 ms: about 1 MiB/s, so the body takes some 3 s, past a 2 s window.
    const status = await new Promise<number>((resolve, reject) => {
      const req = http.request(upload.url, {
        method: 'PUT',
        headers: { 'content-type': 'image/jpeg', 'content-length': String(size) },
      });
      req.on('response', (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', reject);
      const chunk = Buffer.alloc(64 * 1024, 1);
      let sent = 0;
      const timer = setInterval(() => {
        req.write(chunk);
        sent += chunk.length;
        if (sent >= size) {
          clearInterval(timer);
          req.end();
        }
      }, 60);
    });
    expect(status).toBe(200);
  }, 30_000);
});

describe('connections per client address', () => {
  const CAP = 8;
  const OPENED = 40;
  let stack: TestStack;
  beforeAll(async () => {
    stack = await startTestStack({ DARKROOM_MAX_CONNECTIONS_PER_CLIENT: String(CAP) });
  }, 60_000);
  afterAll(() => stack?.stop());

  it.each(['api', 's3', 'sqs'] as const)(
    '%s: past the cap, connections are closed at once; then service resumes',
    async (server) => {
      const base = server === 'api' ? stack.api : server === 's3' ? stack.s3 : stack.sqs;
      const { hostname, port } = new URL(base);
      const sockets = Array.from({ length: OPENED }, () => net.connect(Number(port), hostname));
      let closed = 0;
      for (const s of sockets) {
        s.on('error', () => undefined);
        s.on('close', () => closed++);
      }
      try {
        // Without a cap they would all stay open until the 20 s headers timeout.
        const deadline = Date.now() + 10_000;
        while (closed < OPENED - CAP && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
        expect(closed).toBeGreaterThanOrEqual(OPENED - CAP);
      } finally {
        for (const s of sockets) s.destroy();
      }
      // The places are free again once those connections are gone.
      const deadline = Date.now() + 10_000;
      let ok = false;
      while (!ok && Date.now() < deadline) {
        ok = await fetch(`${stack.api}/healthz`).then(
          (r) => r.status === 200,
          () => false,
        );
        if (!ok) await new Promise((r) => setTimeout(r, 100));
      }
      expect(ok).toBe(true);
    },
    30_000,
  );
});
