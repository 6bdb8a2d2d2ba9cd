import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { ListQueuesCommand, SQSClient } from '@aws-sdk/client-sqs';
import { afterAll, describe, expect, it } from 'vitest';
import { DEV_ACCESS_KEY_ID, DEV_SECRET_ACCESS_KEY } from '../../src/config.ts';
import { freePort, runDarkroom } from '../helpers/process.ts';
import { startTestStack, TESTDATA, type TestStack } from '../helpers/stack.ts';

// 18.9: the published development secrets outside development.

const PUBLISHED = { accessKeyId: DEV_ACCESS_KEY_ID, secretAccessKey: DEV_SECRET_ACCESS_KEY };
let stack: TestStack | undefined;
afterAll(async () => {
  await stack?.stop();
});

describe('the published S3 key pair once secrets of your own are set', () => {
  it('opens neither the embedded S3 nor the embedded SQS, while uploads keep working', async () => {
    // The stack sets its own JWT secret; the S3 key pair is left unset (empty means unset).
    stack = await startTestStack({
      DARKROOM_TRANSFORM_SECRET: 'own-transform-secret-0123456789',
      DARKROOM_S3_ACCESS_KEY_ID: '',
      DARKROOM_S3_SECRET_ACCESS_KEY: '',
    });
    const s3 = new S3Client({
      endpoint: stack.s3,
      region: 'us-east-1',
      forcePathStyle: true,
      credentials: PUBLISHED,
    });
    const sqs = new SQSClient({ endpoint: stack.sqs, region: 'us-east-1', credentials: PUBLISHED });
    try {
      const listed = await s3
        .send(new ListObjectsV2Command({ Bucket: stack.config.s3.bucket }))
        .catch((e: Error) => e);
      expect(listed).toBeInstanceOf(Error);
      expect((listed as Error).name).toBe('InvalidAccessKeyId');
      const queues = await sqs.send(new ListQueuesCommand({})).catch((e: Error) => e);
      expect(queues).toBeInstanceOf(Error);
      expect((queues as Error).name).toMatch(/InvalidClientTokenId/);
    } finally {
      s3.destroy();
      sqs.destroy();
    }
    const id = await stack.upload('alice', path.join(TESTDATA, 'orientation/Landscape_1.jpg'), 'image/jpeg');
    expect((await stack.waitSettled('alice', id)).status).toBe('ready');
  }, 60_000);
});

describe('development secrets on a host that is not loopback', () => {
  it('darkroom start refuses to start and names each variable to set', async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'darkroom-devsecrets-'));
    const proc = runDarkroom(['start'], {
      DARKROOM_HOST: '0.0.0.0',
      DARKROOM_PORT: String(await freePort()),
      DARKROOM_S3_PORT: String(await freePort()),
      DARKROOM_SQS_PORT: String(await freePort()),
      DARKROOM_DATA_DIR: dataDir,
    });
    try {
      const code = await Promise.race([
        proc.exited,
        new Promise((r) => setTimeout(() => r('still running'), 20_000)),
      ]);
      expect(code, proc.output()).toBe(2);
      for (const name of ['DARKROOM_JWT_SECRET', 'DARKROOM_TRANSFORM_SECRET', 'DARKROOM_S3_ACCESS_KEY_ID']) {
        expect(proc.output()).toContain(name);
      }
      expect(proc.output()).toContain('not a loopback address');
    } finally {
      if (proc.child.exitCode === null) proc.child.kill('SIGKILL');
      await proc.exited;
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  }, 30_000);
});
