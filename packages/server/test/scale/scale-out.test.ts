import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { GetQueueAttributesCommand, GetQueueUrlCommand, SQSClient } from '@aws-sdk/client-sqs';
import { REGION, TEST_KEY } from '@darkroom/s3-server/test-support';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mintToken } from '../../src/api/auth/jwt.ts';
import { createPgDatabase, JWT_SECRET } from '../helpers/api.ts';
import { numberedPhoto } from '../helpers/photos.ts';
import { freePort, type RunningProcess, runDarkroom } from '../helpers/process.ts';

// The scale-out rehearsal: every role in its own process, as on AWS, sharing PostgreSQL. Two APIs take
// the uploads, two workers share the queue, and one worker is SIGKILLed mid-run.
const IMAGES = 240;
const CONCURRENCY = 12;

let dataDir: string;
let db: { url: string; drop(): Promise<void> };
let env: Record<string, string>;
const procs: RunningProcess[] = [];
let apis: string[];
let workers: RunningProcess[];

async function start(args: string[], extra: Record<string, string>, ready: RegExp): Promise<RunningProcess> {
  const p = runDarkroom(args, { ...env, ...extra });
  procs.push(p);
  await p.waitForOutput(ready, 30_000);
  return p;
}

beforeAll(async () => {
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'darkroom-scale-'));
  db = await createPgDatabase();
  env = {
    DARKROOM_DATA_DIR: dataDir,
    DARKROOM_DATABASE_URL: db.url,
    DARKROOM_S3_PORT: String(await freePort()),
    DARKROOM_SQS_PORT: String(await freePort()),
    DARKROOM_JWT_SECRET: JWT_SECRET,
    DARKROOM_S3_ACCESS_KEY_ID: TEST_KEY.accessKeyId,
    DARKROOM_S3_SECRET_ACCESS_KEY: TEST_KEY.secretAccessKey,
    DARKROOM_LOG_LEVEL: 'warn',
    DARKROOM_WORKER_CONCURRENCY: '2',
    // A killed worker's messages come back after this, not after the default minute.
    DARKROOM_VISIBILITY_TIMEOUT_SECONDS: '5',
    DARKROOM_UPLOADS_PER_MINUTE: '100000',
    DARKROOM_MAX_PENDING_UPLOADS: '100000',
    DARKROOM_VARIANTS: 'thumb:160,medium:320',
  };
  await start(['sqs'], {}, /Embedded SQS listening/);
  await start(['s3'], {}, /Embedded S3 listening/);
  apis = [];
  for (let i = 0; i < 2; i++) {
    const p = await start(['api'], { DARKROOM_PORT: String(await freePort()) }, /API listening on \S+/);
    apis.push(/API listening on (\S+)/.exec(p.output())![1]!);
  }
  workers = [];
  for (let i = 0; i < 2; i++) workers.push(await start(['worker'], {}, /worker running/));
}, 120_000);

afterAll(async () => {
  for (const p of procs) if (p.child.exitCode === null) p.child.kill('SIGTERM');
  await Promise.all(procs.map((p) => p.exited));
  await db.drop();
  fs.rmSync(dataDir, { recursive: true, force: true });
});

describe('two APIs and two workers over PostgreSQL, one worker killed mid-run', () => {
  it('processes every upload exactly once and loses none', async () => {
    const token = await mintToken(JWT_SECRET, { sub: 'scale', ttlSeconds: 3600 });
    const auth = { authorization: `Bearer ${token}` };
    const ids: string[] = [];
    let next = 0;
    let killed = false;
    const uploadOne = async (i: number) => {
      const bytes = await numberedPhoto(i);
      const api = apis[i % 2]!;
      const res = await fetch(`${api}/v1/uploads`, {
        method: 'POST',
        headers: { ...auth, 'content-type': 'application/json' },
        body: JSON.stringify({ filename: `p${i}.jpg`, contentType: 'image/jpeg', size: bytes.length }),
      });
      expect(res.status).toBe(201);
      const intent = (await res.json()) as {
        image: { id: string };
        upload: { url: string; headers: Record<string, string> };
      };
      const put = await fetch(intent.upload.url, {
        method: 'PUT',
        headers: intent.upload.headers,
        body: new Uint8Array(bytes),
      });
      expect(put.status).toBe(200);
      ids.push(intent.image.id);
    };
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (next < IMAGES) {
          const i = next++;
          await uploadOne(i);
          // A third of the way in, with the workers busy, one dies without warning.
          if (!killed && ids.length >= IMAGES / 3) {
            killed = true;
            workers[1]!.child.kill('SIGKILL');
          }
        }
      }),
    );
    expect(await workers[1]!.exited).toBe('SIGKILL');
    expect(ids).toHaveLength(IMAGES);

    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    try {
      const deadline = Date.now() + 180_000;
      let statuses: Record<string, number> = {};
      for (;;) {
        const { rows } = await client.query<{ status: string; n: number }>(
          'SELECT status, count(*)::int AS n FROM images GROUP BY status',
        );
        statuses = Object.fromEntries(rows.map((r) => [r.status, r.n]));
        if ((statuses.ready ?? 0) + (statuses.failed ?? 0) >= IMAGES || Date.now() > deadline) break;
        await new Promise((r) => setTimeout(r, 500));
      }
      expect(statuses).toEqual({ ready: IMAGES });

      // Exactly once: one `ready` per image in its event log, never two.
      const { rows: readyCounts } = await client.query<{ n: number; images: number }>(
        `SELECT n, count(*)::int AS images FROM
           (SELECT image_id, count(*)::int AS n FROM image_events WHERE status = 'ready' GROUP BY image_id) c
         GROUP BY n`,
      );
      expect(readyCounts).toEqual([{ n: 1, images: IMAGES }]);
      const { rows: known } = await client.query<{ id: string }>('SELECT id FROM images');
      expect(new Set(known.map((r) => r.id))).toEqual(new Set(ids));
    } finally {
      await client.end();
    }

    // Storage holds exactly two variants per image: nothing half-written, nothing twice.
    const s3 = new S3Client({
      endpoint: `http://127.0.0.1:${env.DARKROOM_S3_PORT}`,
      region: REGION,
      forcePathStyle: true,
      credentials: TEST_KEY,
    });
    const variantKeys: string[] = [];
    let token2: string | undefined;
    do {
      const page = await s3.send(
        new ListObjectsV2Command({ Bucket: 'darkroom', Prefix: 'variants/', ContinuationToken: token2 }),
      );
      variantKeys.push(...(page.Contents ?? []).map((o) => o.Key!));
      token2 = page.NextContinuationToken;
    } while (token2);
    s3.destroy();
    expect(variantKeys).toHaveLength(IMAGES * 2);

    // Nothing stranded on the queue or its dead-letter queue.
    const sqs = new SQSClient({
      endpoint: `http://127.0.0.1:${env.DARKROOM_SQS_PORT}`,
      region: REGION,
      credentials: TEST_KEY,
    });
    for (const name of ['darkroom-uploads', 'darkroom-uploads-dlq']) {
      const { QueueUrl } = await sqs.send(new GetQueueUrlCommand({ QueueName: name }));
      const { Attributes } = await sqs.send(
        new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ['All'] }),
      );
      expect(Number(Attributes?.ApproximateNumberOfMessages)).toBe(0);
      expect(Number(Attributes?.ApproximateNumberOfMessagesNotVisible)).toBe(0);
    }
    sqs.destroy();
  }, 300_000);
});
