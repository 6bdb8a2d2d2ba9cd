import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyWebhook } from '../../src/webhooks/signing.ts';
import { startTestStack, TESTDATA, type TestStack } from '../helpers/stack.ts';

const SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
const received: { headers: http.IncomingHttpHeaders; body: string }[] = [];
let receiver: http.Server;
let stack: TestStack;

beforeAll(async () => {
  receiver = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      received.push({ headers: req.headers, body });
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
  const { port } = receiver.address() as AddressInfo;
  stack = await startTestStack({
    DARKROOM_WEBHOOK_URL: `http://127.0.0.1:${port}/hooks`,
    DARKROOM_WEBHOOK_SECRET: SECRET,
  });
}, 60_000);
afterAll(async () => {
  await stack.stop();
  await new Promise((r) => receiver.close(r));
});

describe('webhooks from the whole flow', () => {
  it('tells the application, with a signature it can verify, when an image is ready', async () => {
    const id = await stack.upload('judy', path.join(TESTDATA, 'orientation/Portrait_3.jpg'), 'image/jpeg');
    expect((await stack.waitSettled('judy', id)).status).toBe('ready');
    const deadline = Date.now() + 15_000;
    while (!received.some((r) => r.body.includes(id)) && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 100));
    const hook = received.find((r) => r.body.includes(id))!;
    const payload = verifyWebhook<{ type: string; data: { id: string; owner: string; status: string } }>(
      SECRET,
      hook.headers,
      hook.body,
    );
    expect(payload.type).toBe('image.ready');
    expect(payload.data).toMatchObject({ id, owner: 'judy', status: 'ready' });
    expect(() => verifyWebhook(SECRET, hook.headers, hook.body.replace('ready', 'failed'))).toThrow();
  });
});
