import path from 'node:path';
import { Writable } from 'node:stream';
import { GetObjectTaggingCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import {
  CreateQueueCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { TEST_KEY } from '@darkroom/s3-server/test-support';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mintToken } from '../../src/api/auth/jwt.ts';
import { signTransformPath } from '../../src/delivery/transform-signature.ts';
import { JWT_SECRET } from '../helpers/api.ts';
import { startTestStack, TESTDATA, type TestStack } from '../helpers/stack.ts';

// Issue 18's attacks on a running stack by ordinary callers: lookups keyed by request input (18.7),
// secrets in the request log (18.8), event streams per user (18.10).

const PHOTO = path.join(TESTDATA, 'orientation/Landscape_1.jpg');
const HOOK_SECRET = 'abuse-test-s3-webhook-secret-0123';
const TRANSFORM_SECRET = 'abuse-test-transform-secret-0123';

let stack: TestStack;
let logged = '';
let ready: string;

beforeAll(async () => {
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      logged += chunk.toString();
      done();
    },
  });
  stack = await startTestStack(
    {
      DARKROOM_S3_WEBHOOK_SECRET: HOOK_SECRET,
      DARKROOM_TRANSFORM_SECRET: TRANSFORM_SECRET,
      DARKROOM_MAX_EVENT_STREAMS: '3',
    },
    { log: pino({ level: 'info' }, sink) },
  );
  ready = await stack.upload('alice', PHOTO, 'image/jpeg');
  expect((await stack.waitSettled('alice', ready)).status).toBe('ready');
}, 60_000);
afterAll(async () => {
  await stack?.stop();
});

describe('lookups keyed by request input see own properties only (18.7)', () => {
  it.each(['constructor', 'toString', '__proto__', 'valueOf', 'hasOwnProperty'])(
    '/img/{id}/%s is a 404, not a storage error',
    async (name) => {
      const res = await fetch(`${stack.api}/img/${ready}/${name}`);
      expect(res.status).toBe(404);
      expect(res.headers.get('retry-after')).toBeNull();
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe('not_found');
    },
  );

  it('an S3 tag called __proto__ is a tag like any other', async () => {
    const s3 = new S3Client({
      endpoint: stack.s3,
      region: 'us-east-1',
      forcePathStyle: true,
      credentials: TEST_KEY,
    });
    try {
      const Bucket = stack.config.s3.bucket;
      await s3.send(
        new PutObjectCommand({ Bucket, Key: 'proto-tags', Body: 'x', Tagging: '__proto__=a&constructor=b' }),
      );
      const { TagSet } = await s3.send(new GetObjectTaggingCommand({ Bucket, Key: 'proto-tags' }));
      expect(TagSet).toEqual([
        { Key: '__proto__', Value: 'a' },
        { Key: 'constructor', Value: 'b' },
      ]);
    } finally {
      s3.destroy();
    }
  });

  it('an SQS message attribute called __proto__ comes back as sent', async () => {
    const sqs = new SQSClient({ endpoint: stack.sqs, region: 'us-east-1', credentials: TEST_KEY });
    try {
      const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: 'proto-attributes' }));
      const sent = await sqs.send(
        new SendMessageCommand({
          QueueUrl,
          MessageBody: 'x',
          MessageAttributes: { ['__proto__']: { DataType: 'String', StringValue: 'p' } },
        }),
      );
      const { Messages } = await sqs.send(
        new ReceiveMessageCommand({ QueueUrl, MessageAttributeNames: ['All'], WaitTimeSeconds: 1 }),
      );
      expect(Object.hasOwn(Messages?.[0]?.MessageAttributes ?? {}, '__proto__')).toBe(true);
      // The server's digest covers the attribute (the SDK checks it against what it received).
      expect(Messages?.[0]?.MD5OfMessageAttributes).toBe(sent.MD5OfMessageAttributes);
    } finally {
      sqs.destroy();
    }
  });

  it('a real variant of the same image is still served', async () => {
    const res = await fetch(`${stack.api}/img/${ready}/thumb`);
    expect(res.status).toBe(200);
    await res.arrayBuffer();
  });
});

describe('the request log keeps no secrets (18.8)', () => {
  it('redacts tokens and signatures in logged URLs', async () => {
    // A real JWT, sent the only way EventSource can: in the query.
    const token = await mintToken(JWT_SECRET, { sub: 'alice', ttlSeconds: 600 });
    const events = new AbortController();
    const sse = await fetch(`${stack.api}/v1/events?access_token=${token}`, { signal: events.signal });
    expect(sse.status).toBe(200);
    events.abort();

    const hook = await fetch(`${stack.api}/v1/hooks/s3?token=${HOOK_SECRET}`, {
      method: 'POST',
      body: '{"Event":"s3:TestEvent"}',
    });
    expect(hook.status).toBe(202);

    const transform = signTransformPath(TRANSFORM_SECRET, ready, 'w_100');
    const sig = new URL(transform, 'http://x').searchParams.get('sig')!;
    expect((await fetch(`${stack.api}${transform}`)).status).toBe(200);

    const presignedLike =
      '/nowhere?X-Amz-Credential=AKID%2F20250101%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Signature=deadbeefcafe0123456789&Signature=cloudfrontsig~&Key-Pair-Id=K1';
    expect(
      (await fetch(`${stack.api}${presignedLike}`, { headers: { authorization: 'Bearer hdr-secret-xyz' } }))
        .status,
    ).toBe(404);

    // The request log has these requests, without any of the secrets.
    await new Promise((r) => setTimeout(r, 100));
    expect(logged).toContain('/v1/events?access_token=[REDACTED]');
    expect(logged).toContain('/v1/hooks/s3?token=[REDACTED]');
    for (const secret of [
      token,
      HOOK_SECRET,
      sig,
      'deadbeefcafe0123456789',
      'cloudfrontsig~',
      'hdr-secret-xyz',
    ]) {
      expect(logged).not.toContain(secret);
    }
  });
});

describe('event streams per user are bounded (18.10)', () => {
  async function open(sub: string): Promise<{ status: number; res: Response; close: () => void }> {
    const token = await mintToken(JWT_SECRET, { sub, ttlSeconds: 600 });
    const abort = new AbortController();
    const res = await fetch(`${stack.api}/v1/events`, {
      headers: { authorization: `Bearer ${token}` },
      signal: abort.signal,
    });
    return { status: res.status, res, close: () => abort.abort() };
  }

  it('refuses the stream past DARKROOM_MAX_EVENT_STREAMS with 429 too_many_streams; others are not affected', async () => {
    const streams = [await open('sse-sam'), await open('sse-sam'), await open('sse-sam')];
    try {
      expect(streams.map((s) => s.status)).toEqual([200, 200, 200]);
      const refused = await open('sse-sam');
      expect(refused.status).toBe(429);
      expect(refused.res.headers.get('retry-after')).toBe('30');
      expect(((await refused.res.json()) as { error: { code: string } }).error.code).toBe('too_many_streams');
      const other = await open('sse-tom');
      expect(other.status).toBe(200);
      other.close();
      // Closing one frees its place (once the server has seen the close).
      streams.shift()!.close();
      const deadline = Date.now() + 10_000;
      let again = await open('sse-sam');
      while (again.status !== 200 && Date.now() < deadline) {
        await again.res.arrayBuffer();
        await new Promise((r) => setTimeout(r, 50));
        again = await open('sse-sam');
      }
      expect(again.status).toBe(200);
      streams.push(again);
    } finally {
      for (const s of streams) s.close();
    }
  });
});
