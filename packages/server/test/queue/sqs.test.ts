import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { TEST_KEY } from '@darkroom/s3-server/test-support';
import pino from 'pino';
import { loadConfig } from '../../src/config.ts';
import { runSqsRole } from '../../src/roles/sqs.ts';
import { freePort } from '../helpers/process.ts';
import { CONFORMANCE_ENV, describeQueueConformance } from './conformance.ts';

// The conformance suite against the embedded SQS server (`darkroom sqs`), reached over HTTP with the SDK.
describeQueueConformance('embedded SQS', async () => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'darkroom-queue-sqs-'));
  const env = {
    ...CONFORMANCE_ENV,
    DARKROOM_DATA_DIR: dataDir,
    DARKROOM_SQS_PORT: String(await freePort()),
    DARKROOM_S3_ACCESS_KEY_ID: TEST_KEY.accessKeyId,
    DARKROOM_S3_SECRET_ACCESS_KEY: TEST_KEY.secretAccessKey,
  };
  const server = await runSqsRole(loadConfig(env), pino({ level: 'silent' }));
  return {
    env,
    async teardown() {
      await server.close(500);
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
});
