import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  CreateBucketCommand,
  PutBucketNotificationConfigurationCommand,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { ReceiveMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { createS3Server, S3_MAX_OBJECT_BYTES } from '@darkroom/s3-server';
import { queueArn } from '@darkroom/sqs-server';
import { queueName, REGION, startTestSqs, TEST_KEY, type TestSqs } from '@darkroom/sqs-server/test-support';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createSqsClientNotificationSender,
  createSqsNotificationSender,
} from '../../src/queue/notification-senders.ts';

let sqs: TestSqs;
let client: SQSClient;

beforeAll(async () => {
  sqs = await startTestSqs();
  client = sqs.client();
});
afterAll(() => sqs.stop());

const bodies = async (QueueUrl: string, WaitTimeSeconds = 0) =>
  (
    (await client.send(new ReceiveMessageCommand({ QueueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds })))
      .Messages ?? []
  ).map((m) => m.Body);

describe.each([
  ['in-process', () => createSqsNotificationSender(sqs.server.store)],
  ['over HTTP with the SQS client', () => createSqsClientNotificationSender(sqs.client())],
])('NotificationSender %s', (_label, make) => {
  it('delivers to the queue an ARN names', async () => {
    const url = await sqs.queue('notify');
    const sender = make();
    await sender.send(queueArn(REGION, queueName(url)), '{"Records":[]}');
    await sender.send(queueArn(REGION, queueName(url)), '{"Event":"s3:TestEvent"}');
    expect(await bodies(url)).toEqual(['{"Records":[]}', '{"Event":"s3:TestEvent"}']);
  });

  it('rejects (so the outbox retries) when the queue does not exist, creating nothing', async () => {
    const sender = make();
    await expect(sender.send(queueArn(REGION, 'not-there'), 'x')).rejects.toMatchObject({
      name: expect.stringMatching(/SqsError|QueueDoesNotExist/),
    });
    await expect(sender.send(queueArn('eu-west-3', 'notify-1'), 'x')).rejects.toThrow();
    expect(sqs.server.store.findQueue('not-there')).toBeUndefined();
  });
});

describe('S3 → SQS in one process', () => {
  it('puts ObjectCreated events on the queue the bucket notifies', async () => {
    const url = await sqs.queue('uploads');
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'darkroom-s3-sqs-'));
    const s3 = await createS3Server({
      host: '127.0.0.1',
      port: 0,
      dataDir,
      region: REGION,
      domain: 'localhost',
      accessKeys: [TEST_KEY],
      maxObjectBytes: S3_MAX_OBJECT_BYTES,
      log: pino({ level: 'silent' }),
      sender: createSqsNotificationSender(sqs.server.store),
    });
    const s3client = new S3Client({
      endpoint: s3.url,
      region: REGION,
      forcePathStyle: true,
      credentials: TEST_KEY,
    });
    try {
      await s3client.send(new CreateBucketCommand({ Bucket: 'events' }));
      await s3client.send(
        new PutBucketNotificationConfigurationCommand({
          Bucket: 'events',
          NotificationConfiguration: {
            QueueConfigurations: [
              { QueueArn: queueArn(REGION, queueName(url)), Events: ['s3:ObjectCreated:*'] },
            ],
          },
        }),
      );
      await s3client.send(new PutObjectCommand({ Bucket: 'events', Key: 'uploads/a b.jpg', Body: 'bytes' }));
      const received: string[] = [];
      const deadline = Date.now() + 10_000;
      while (!received.some((b) => b.includes('ObjectCreated:Put')) && Date.now() < deadline) {
        received.push(...((await bodies(url, 2)) as string[]));
      }
      const event = received.map((b) => JSON.parse(b)).find((e) => e.Records);
      expect(event.Records[0]).toMatchObject({
        eventName: 'ObjectCreated:Put',
        s3: { bucket: { name: 'events' }, object: { key: 'uploads/a+b.jpg' } },
      });
    } finally {
      s3client.destroy();
      await s3.close(1000);
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
