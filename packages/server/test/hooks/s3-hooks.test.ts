import path from 'node:path';
import { HeadObjectCommand, PutBucketNotificationConfigurationCommand, S3Client } from '@aws-sdk/client-s3';
import { REGION, TEST_KEY } from '@darkroom/s3-server/test-support';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestStack, TESTDATA, type TestStack } from '../helpers/stack.ts';

// Storage that can only post webhooks (MinIO, Ceph RGW): its events reach the workers through
// POST /v1/hooks/s3. The embedded S3's own notifications are switched off, so the hook is the only path.
const SECRET = 'minio-webhook-secret-0123456789';
let stack: TestStack;
let s3: S3Client;

beforeAll(async () => {
  stack = await startTestStack({ DARKROOM_S3_WEBHOOK_SECRET: SECRET });
  s3 = new S3Client({
    endpoint: stack.s3,
    region: REGION,
    forcePathStyle: true,
    credentials: TEST_KEY,
  });
  await s3.send(
    new PutBucketNotificationConfigurationCommand({
      Bucket: stack.config.s3.bucket,
      NotificationConfiguration: {},
    }),
  );
}, 60_000);
afterAll(async () => {
  s3.destroy();
  await stack.stop();
});

/** A bucket notification as MinIO posts it to a webhook target. */
function minioEvent(key: string, size: number, eTag: string) {
  const encodedKey = encodeURIComponent(key);
  return JSON.stringify({
    EventName: 's3:ObjectCreated:Put',
    Key: `${stack.config.s3.bucket}/${encodedKey}`,
    Records: [
      {
        eventVersion: '2.0',
        eventSource: 'minio:s3',
        awsRegion: '',
        eventTime: new Date().toISOString(),
        eventName: 's3:ObjectCreated:Put',
        userIdentity: { principalId: 'minioadmin' },
        requestParameters: { sourceIPAddress: '127.0.0.1' },
        responseElements: { 'x-amz-request-id': '17A5C1F3B0C2D4E6' },
        s3: {
          s3SchemaVersion: '1.0',
          configurationId: 'Config',
          bucket: { name: stack.config.s3.bucket, ownerIdentity: { principalId: 'minioadmin' }, arn: '' },
          object: { key: encodedKey, size, eTag, contentType: 'image/jpeg', sequencer: '17A5C1F3B0D00001' },
        },
        source: { host: '127.0.0.1', port: '', userAgent: 'MinIO (linux; amd64)' },
      },
    ],
  });
}

const hook = (body: string, headers: Record<string, string> = {}, query = '') =>
  fetch(`${stack.api}/v1/hooks/s3${query}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body,
  });

/** Uploads a photo through a presigned PUT; with notifications off, nothing else happens. */
async function uploadSilently(): Promise<{ id: string; size: number; eTag: string }> {
  const id = await stack.upload('mia', path.join(TESTDATA, 'orientation/Landscape_1.jpg'), 'image/jpeg');
  // Long enough for a notification to have been processed, had storage sent one.
  await new Promise((resolve) => setTimeout(resolve, 1500));
  const { json } = await stack.call('GET', `/v1/images/${id}`, { as: 'mia' });
  expect(json.status).toBe('pending');
  const head = await s3.send(new HeadObjectCommand({ Bucket: stack.config.s3.bucket, Key: `uploads/${id}` }));
  return { id, size: head.ContentLength!, eTag: head.ETag!.replace(/"/g, '') };
}

describe('POST /v1/hooks/s3', () => {
  it('relays a MinIO event to the queue, and the worker makes the image ready', async () => {
    const { id, size, eTag } = await uploadSilently();
    const res = await hook(minioEvent(`uploads/${id}`, size, eTag), {
      authorization: `Bearer ${SECRET}`,
    });
    expect(res.status).toBe(202);
    expect(await res.json()).toEqual({ queued: true });
    const image = await stack.waitSettled('mia', id);
    expect(image.status).toBe('ready');
  });

  it('accepts the secret the ways MinIO and Ceph RGW can send it', async () => {
    const body = JSON.stringify({ Event: 's3:TestEvent' });
    const basic = `Basic ${Buffer.from(`rgw:${SECRET}`).toString('base64')}`;
    for (const [headers, query] of [
      [{ authorization: SECRET }, ''],
      [{ authorization: basic }, ''],
      [{}, `?token=${SECRET}`],
    ] as const) {
      const res = await hook(body, headers, query);
      expect(res.status).toBe(202);
      expect(await res.json()).toEqual({ queued: false });
    }
  });

  it('refuses a missing or wrong secret with 401', async () => {
    const body = minioEvent('uploads/00000000-0000-4000-8000-000000000000', 1, 'x');
    const attempts: Record<string, string>[] = [{}, { authorization: 'Bearer wrong-secret-0123456789abc' }];
    for (const headers of attempts) {
      const res = await hook(body, headers);
      expect(res.status).toBe(401);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe('unauthorized');
    }
  });

  it('refuses what is not an S3 event with 400 and says why', async () => {
    for (const body of ['not json', '{"Records":"nope"}', '{"Records":[{"eventVersion":"1.0"}]}']) {
      const res = await hook(body, { authorization: `Bearer ${SECRET}` });
      expect(res.status).toBe(400);
      const json = (await res.json()) as { error: { code: string; message: string } };
      expect(json.error.code).toBe('invalid_event');
      expect(json.error.message).toMatch(/not an S3 event/);
    }
  });

  it('answers the endpoint check MinIO makes with an unauthenticated HEAD', async () => {
    const res = await fetch(`${stack.api}/v1/hooks/s3`, { method: 'HEAD' });
    expect(res.status).toBe(200);
  });
});

describe('without DARKROOM_S3_WEBHOOK_SECRET', () => {
  it('the route is off (404) and says how to turn it on', async () => {
    const plain = await startTestStack();
    try {
      const res = await fetch(`${plain.api}/v1/hooks/s3`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{}',
      });
      expect(res.status).toBe(404);
      expect(((await res.json()) as { error: { message: string } }).error.message).toMatch(
        /DARKROOM_S3_WEBHOOK_SECRET/,
      );
    } finally {
      await plain.stop();
    }
  });
});
