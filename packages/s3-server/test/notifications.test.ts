import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  GetBucketNotificationConfigurationCommand,
  PutBucketNotificationConfigurationCommand,
  PutObjectCommand,
  type S3Client,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createS3Server } from '../src/index.ts';
import { REGION, s3ErrorOf, startTestS3, TEST_KEY, type TestS3 } from './support.ts';

const QUEUE = 'arn:aws:sqs:us-east-1:000000000000:darkroom-uploads';
const Bucket = 'events-test';
let s3: TestS3;
let client: S3Client;

interface S3EventRecord {
  eventVersion: string;
  eventSource: string;
  awsRegion: string;
  eventName: string;
  eventTime: string;
  s3: {
    configurationId: string;
    bucket: { name: string; arn: string };
    object: { key: string; size: number; eTag: string; sequencer: string };
  };
}
const records = (from: number) =>
  s3.sender.messages.slice(from).flatMap((m) => (m.body.Records as S3EventRecord[] | undefined) ?? []);

beforeAll(async () => {
  s3 = await startTestS3();
  client = s3.client();
  await client.send(new CreateBucketCommand({ Bucket }));
});
afterAll(() => s3.stop());

describe('bucket notifications', () => {
  it('stores a queue configuration and sends s3:TestEvent to the queue', async () => {
    await client.send(
      new PutBucketNotificationConfigurationCommand({
        Bucket,
        NotificationConfiguration: {
          QueueConfigurations: [
            {
              Id: 'uploads-to-queue',
              QueueArn: QUEUE,
              Events: ['s3:ObjectCreated:*'],
              Filter: { Key: { FilterRules: [{ Name: 'prefix', Value: 'uploads/' }] } },
            },
          ],
        },
      }),
    );
    const got = await client.send(new GetBucketNotificationConfigurationCommand({ Bucket }));
    expect(got.QueueConfigurations?.[0]).toMatchObject({
      Id: 'uploads-to-queue',
      QueueArn: QUEUE,
      Events: ['s3:ObjectCreated:*'],
      Filter: { Key: { FilterRules: [{ Name: 'Prefix', Value: 'uploads/' }] } },
    });
    const [test] = await s3.sender.waitFor(1);
    expect(test!.queueArn).toBe(QUEUE);
    expect(test!.body).toMatchObject({ Service: 'Amazon S3', Event: 's3:TestEvent', Bucket });
  });

  it('refuses destinations that are not SQS queue ARNs', async () => {
    const err = await s3ErrorOf(() =>
      client.send(
        new PutBucketNotificationConfigurationCommand({
          Bucket,
          NotificationConfiguration: {
            QueueConfigurations: [{ QueueArn: 'not-an-arn', Events: ['s3:ObjectCreated:*'] }],
          },
        }),
      ),
    );
    expect(err.name).toBe('InvalidArgument');
  });

  it('sends AWS S3 event 2.1 JSON for a PUT, with the key form-URL-encoded', async () => {
    const before = s3.sender.messages.length;
    const body = Buffer.from('photo bytes');
    await client.send(new PutObjectCommand({ Bucket, Key: 'uploads/my photo+1 é.jpg', Body: body }));
    await client.send(new PutObjectCommand({ Bucket, Key: 'elsewhere/ignored.jpg', Body: body }));
    await s3.sender.waitFor(before + 1);
    await new Promise((r) => setTimeout(r, 100));
    const recs = records(before);
    expect(recs).toHaveLength(1);
    const rec = recs[0]!;
    expect(rec).toMatchObject({
      eventVersion: '2.1',
      eventSource: 'aws:s3',
      awsRegion: REGION,
      eventName: 'ObjectCreated:Put',
      s3: {
        configurationId: 'uploads-to-queue',
        bucket: { name: Bucket, arn: `arn:aws:s3:::${Bucket}` },
        object: {
          key: 'uploads/my+photo%2B1+%C3%A9.jpg',
          size: body.length,
          eTag: createHash('md5').update(body).digest('hex'),
        },
      },
    });
    expect(rec.s3.object.sequencer).toMatch(/^[0-9A-F]{16,}$/);
    expect(new Date(rec.eventTime).toISOString()).toBe(rec.eventTime);
  });

  it('names Copy and CompleteMultipartUpload events, with growing sequencers', async () => {
    const before = s3.sender.messages.length;
    await client.send(
      new CopyObjectCommand({
        Bucket,
        Key: 'uploads/copy.jpg',
        CopySource: `${Bucket}/elsewhere/ignored.jpg`,
      }),
    );
    const { UploadId } = await client.send(
      new CreateMultipartUploadCommand({ Bucket, Key: 'uploads/multi.jpg' }),
    );
    const part = await client.send(
      new UploadPartCommand({ Bucket, Key: 'uploads/multi.jpg', UploadId, PartNumber: 1, Body: 'only part' }),
    );
    await client.send(
      new CompleteMultipartUploadCommand({
        Bucket,
        Key: 'uploads/multi.jpg',
        UploadId,
        MultipartUpload: { Parts: [{ PartNumber: 1, ETag: part.ETag }] },
      }),
    );
    await s3.sender.waitFor(before + 2);
    const recs = records(before);
    expect(recs.map((r) => r.eventName)).toEqual([
      'ObjectCreated:Copy',
      'ObjectCreated:CompleteMultipartUpload',
    ]);
    expect(recs[1]!.s3.object.eTag).toMatch(/-1$/);
    expect(recs[1]!.s3.object.sequencer > recs[0]!.s3.object.sequencer).toBe(true);
  });
});

describe('notification outbox', () => {
  it('keeps events that could not be delivered and sends them after a restart', async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'darkroom-outbox-'));
    const common = {
      host: '127.0.0.1',
      port: 0,
      dataDir,
      region: REGION,
      domain: 'localhost',
      accessKeys: [TEST_KEY],
      maxObjectBytes: 1024 * 1024,
      log: pino({ level: 'silent' }),
    };
    let attempts = 0;
    const down = await createS3Server({
      ...common,
      sender: {
        async send() {
          attempts++;
          throw new Error('queue unavailable');
        },
      },
    });
    const c = s3.client({ endpoint: down.url });
    await c.send(new CreateBucketCommand({ Bucket: 'outbox' }));
    await c.send(
      new PutBucketNotificationConfigurationCommand({
        Bucket: 'outbox',
        NotificationConfiguration: {
          QueueConfigurations: [{ QueueArn: QUEUE, Events: ['s3:ObjectCreated:Put'] }],
        },
      }),
    );
    await c.send(new PutObjectCommand({ Bucket: 'outbox', Key: 'kept', Body: 'x' }));
    await new Promise((r) => setTimeout(r, 300));
    expect(attempts).toBeGreaterThan(0);
    await down.close(100);

    const delivered: string[] = [];
    const up = await createS3Server({
      ...common,
      sender: {
        async send(_arn, body) {
          delivered.push(body);
        },
      },
    });
    const deadline = Date.now() + 5000;
    while (delivered.length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    await up.close(100);
    fs.rmSync(dataDir, { recursive: true, force: true });
    expect(delivered.map((b) => JSON.parse(b).Event ?? JSON.parse(b).Records[0].eventName)).toEqual([
      's3:TestEvent',
      'ObjectCreated:Put',
    ]);
  });
});
