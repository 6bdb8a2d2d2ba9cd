import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { REGION, startTestS3, TEST_KEY, type TestS3 } from '@darkroom/s3-server/test-support';
import { createSqsServer, type EmbeddedSqsServer } from '@darkroom/sqs-server';
import { createPgDatabase } from '@darkroom/testkit';
import pino from 'pino';
import { mintToken } from '../../src/api/auth/jwt.ts';
import { type Config, loadConfig } from '../../src/config.ts';
import { createSqsNotificationSender } from '../../src/queue/notification-senders.ts';
import { createSqsClient, setUpEmbeddedQueues } from '../../src/queue/sqs-client.ts';
import { type RunningApi, runApiRole } from '../../src/roles/api.ts';
import { setUpEmbeddedBucket } from '../../src/storage/bucket-setup.ts';

export const JWT_SECRET = 'test-jwt-secret-0123456789abcdef';

export { createPgDatabase };

export type DbKind = 'sqlite' | 'postgres';

export interface TestApi {
  url: string;
  config: Config;
  s3: TestS3;
  sqs: EmbeddedSqsServer;
  api: RunningApi;
  /** A bearer token for `sub`. */
  token(sub: string, ttlSeconds?: number): Promise<string>;
  /** fetch against the API with JSON in and out; `as` picks the caller. */
  call(
    method: string,
    path: string,
    opts?: { as?: string; body?: unknown; headers?: Record<string, string> },
  ): Promise<{
    status: number;
    headers: Headers;
    json: Record<string, unknown>;
  }>;
  /** Stops the embedded S3 server, so storage cannot be reached (stop() then skips it). */
  stopStorage(): Promise<void>;
  stop(): Promise<void>;
}

/** Starts the embedded S3 server and the API over SQLite or a fresh PostgreSQL database, on random ports. */
export async function startTestApi(kind: DbKind, env: Record<string, string> = {}): Promise<TestApi> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'darkroom-api-'));
  const sqs = await createSqsServer({
    host: '127.0.0.1',
    port: 0,
    dataDir: path.join(dataDir, 'sqs'),
    region: REGION,
    accessKeys: [TEST_KEY],
    log: pino({ level: 'silent' }),
  });
  const s3 = await startTestS3({ sender: createSqsNotificationSender(sqs.store) });
  const pgDb = kind === 'postgres' ? await createPgDatabase() : undefined;
  const s3Port = new URL(s3.endpoint).port;
  const config = loadConfig({
    DARKROOM_PORT: '0',
    DARKROOM_S3_PORT: s3Port,
    DARKROOM_SQS_PORT: String(sqs.port),
    DARKROOM_DATA_DIR: dataDir,
    DARKROOM_DATABASE_URL: pgDb?.url ?? `sqlite:${path.join(dataDir, 'darkroom.sqlite')}`,
    DARKROOM_JWT_SECRET: JWT_SECRET,
    DARKROOM_S3_ACCESS_KEY_ID: TEST_KEY.accessKeyId,
    DARKROOM_S3_SECRET_ACCESS_KEY: TEST_KEY.secretAccessKey,
    DARKROOM_LOG_LEVEL: process.env.DARKROOM_TEST_LOG ?? 'silent',
    ...env,
  });
  const client = s3.client();
  const sqsClient = createSqsClient(config);
  await setUpEmbeddedQueues(sqsClient, config);
  sqsClient.destroy();
  await setUpEmbeddedBucket(client, config);
  const api = await runApiRole(config, pino({ level: config.logLevel }));
  const tokens = new Map<string, string>();
  let s3Stopped: Promise<void> | undefined;
  const stopS3 = () => {
    s3Stopped ??= s3.stop();
    return s3Stopped;
  };
  const token = async (sub: string, ttlSeconds = 3600) => mintToken(JWT_SECRET, { sub, ttlSeconds });
  return {
    url: api.url,
    config,
    s3,
    sqs,
    api,
    token,
    async call(method, p, opts = {}) {
      const headers: Record<string, string> = { ...opts.headers };
      if (opts.as) {
        if (!tokens.has(opts.as)) tokens.set(opts.as, await token(opts.as));
        headers.authorization = `Bearer ${tokens.get(opts.as)}`;
      }
      if (opts.body !== undefined) headers['content-type'] = 'application/json';
      const res = await fetch(`${api.url}${p}`, {
        method,
        headers,
        ...(opts.body !== undefined ? { body: JSON.stringify(opts.body) } : {}),
      });
      const text = await res.text();
      return {
        status: res.status,
        headers: res.headers,
        json: text ? (JSON.parse(text) as Record<string, unknown>) : {},
      };
    },
    stopStorage: stopS3,
    async stop() {
      await api.close(500);
      await stopS3();
      await sqs.close(500);
      await pgDb?.drop();
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
