import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CreateBucketCommand, PutBucketNotificationConfigurationCommand } from '@aws-sdk/client-s3';
import { CreateQueueCommand, SQSClient } from '@aws-sdk/client-sqs';
import { REGION, startTestS3, TEST_KEY, type TestS3 } from '@darkroom/s3-server/test-support';
import { createSqsServer, type EmbeddedSqsServer } from '@darkroom/sqs-server';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.ts';
import { runApiRole } from '../src/roles/api.ts';
import { PreflightError } from '../src/roles/preflight.ts';
import { runWorkerRole } from '../src/roles/worker.ts';
import { JWT_SECRET } from './helpers/api.ts';
import { freePort, runDarkroom } from './helpers/process.ts';

// Start-up checks against storage and a queue configured like AWS ones (explicit endpoint and queue
// URL): a deployment mistake is named at start-up instead of surfacing as failed uploads.
let dir: string;
let s3: TestS3;
let sqs: EmbeddedSqsServer;
let queueUrl: string;

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'darkroom-preflight-'));
  s3 = await startTestS3();
  sqs = await createSqsServer({
    host: '127.0.0.1',
    port: 0,
    dataDir: path.join(dir, 'sqs'),
    region: REGION,
    accessKeys: [TEST_KEY],
    log: pino({ level: 'silent' }),
  });
  await s3.client().send(new CreateBucketCommand({ Bucket: 'plain' }));
  const client = new SQSClient({ endpoint: sqs.url, region: REGION, credentials: TEST_KEY });
  ({ QueueUrl: queueUrl } = (await client.send(new CreateQueueCommand({ QueueName: 'uploads' }))) as {
    QueueUrl: string;
  });
  client.destroy();
});
afterAll(async () => {
  await s3.stop();
  await sqs.close(500);
  fs.rmSync(dir, { recursive: true, force: true });
});

function env(overrides: Record<string, string> = {}): Record<string, string> {
  return {
    DARKROOM_PORT: '0',
    DARKROOM_DATA_DIR: dir,
    DARKROOM_S3_ENDPOINT: s3.endpoint,
    DARKROOM_S3_BUCKET: 'plain',
    DARKROOM_S3_REGION: REGION,
    DARKROOM_SQS_QUEUE_URL: queueUrl,
    DARKROOM_S3_ACCESS_KEY_ID: TEST_KEY.accessKeyId,
    DARKROOM_S3_SECRET_ACCESS_KEY: TEST_KEY.secretAccessKey,
    DARKROOM_JWT_SECRET: JWT_SECRET,
    DARKROOM_LOG_LEVEL: 'silent',
    ...overrides,
  };
}

/** The problems a role start reports, or [] when it started (it is then closed again). */
async function problemsOf(role: 'api' | 'worker', overrides: Record<string, string>): Promise<string[]> {
  const config = loadConfig(env(overrides));
  try {
    const running =
      role === 'api'
        ? await runApiRole(config, pino({ level: 'silent' }))
        : await runWorkerRole(config, pino({ level: 'silent' }));
    await running.close(500);
    return [];
  } catch (err) {
    if (err instanceof PreflightError) return [...err.problems];
    throw err;
  }
}

describe('start-up checks', () => {
  it('names a bucket that does not exist', async () => {
    for (const role of ['api', 'worker'] as const) {
      const problems = await problemsOf(role, { DARKROOM_S3_BUCKET: 'no-such-bucket' });
      expect(problems).toEqual([expect.stringMatching(/bucket "no-such-bucket" does not exist/)]);
    }
  });

  it('says when the credentials are refused', async () => {
    const problems = await problemsOf('api', {
      DARKROOM_S3_ACCESS_KEY_ID: 'AKIAWRONGWRONGWRONG1',
      DARKROOM_S3_SECRET_ACCESS_KEY: 'wrong-secret-wrong-secret-wrong-secret00',
    });
    expect(problems).toContainEqual(
      expect.stringMatching(/access to bucket "plain" is denied: .*s3:ListBucket/),
    );
  });

  it('names a queue that does not exist', async () => {
    const problems = await problemsOf('worker', {
      DARKROOM_SQS_QUEUE_URL: queueUrl.replace(/uploads$/, 'missing-queue'),
    });
    expect(problems).toEqual([expect.stringMatching(/queue .*missing-queue does not exist/)]);
  });

  it('stops when a configured endpoint does not answer', async () => {
    const port = await freePort();
    const problems = await problemsOf('api', { DARKROOM_S3_ENDPOINT: `http://127.0.0.1:${port}` });
    expect(problems).toEqual([expect.stringMatching(new RegExp(`cannot reach http://127.0.0.1:${port}`))]);
  });

  it('starts, warning, when the bucket does not notify the queue; quiet once it does', async () => {
    const warnings: string[] = [];
    const log = pino({ level: 'warn' }, { write: (line: string) => warnings.push(JSON.parse(line).msg) });
    const api = await runApiRole(loadConfig(env()), log);
    await api.close(500);
    expect(warnings).toContainEqual(
      expect.stringMatching(
        /bucket "plain" sends no s3:ObjectCreated notifications for uploads\/ to arn:aws:sqs:/,
      ),
    );

    // The notification the CDK stack configures silences it.
    const config = loadConfig(env({ DARKROOM_S3_BUCKET: 'notified' }));
    const client = s3.client();
    await client.send(new CreateBucketCommand({ Bucket: 'notified' }));
    await client.send(
      new PutBucketNotificationConfigurationCommand({
        Bucket: 'notified',
        NotificationConfiguration: {
          QueueConfigurations: [
            {
              QueueArn: `arn:aws:sqs:${REGION}:000000000000:uploads`,
              Events: ['s3:ObjectCreated:*'],
              Filter: { Key: { FilterRules: [{ Name: 'prefix', Value: 'uploads/' }] } },
            },
          ],
        },
      }),
    );
    warnings.length = 0;
    const again = await runApiRole(config, log);
    await again.close(500);
    expect(warnings.filter((w) => /notification|cannot reach/.test(w))).toEqual([]);
  });

  it('darkroom api exits 1 with the problem on stderr, without a stack trace', async () => {
    const proc = runDarkroom(
      ['api'],
      env({ DARKROOM_S3_BUCKET: 'no-such-bucket', DARKROOM_PORT: String(await freePort()) }),
    );
    expect(await proc.exited).toBe(1);
    expect(proc.output()).toMatch(
      /darkroom: Darkroom cannot start:\n {2}- bucket "no-such-bucket" does not exist/,
    );
    expect(proc.output()).not.toMatch(/at .*\.js:\d+/);
  });
});
