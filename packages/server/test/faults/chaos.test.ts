import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { REGION, TEST_KEY } from '@darkroom/s3-server/test-support';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mintToken } from '../../src/api/auth/jwt.ts';
import { JWT_SECRET } from '../helpers/api.ts';
import { numberedPhoto } from '../helpers/photos.ts';
import { freePort, type RunningProcess, runDarkroom } from '../helpers/process.ts';
import { TESTDATA } from '../helpers/stack.ts';

// A few hundred uploads while the embedded SQS server and the workers are SIGKILLed again and again
// (during receives, deletes and jobs) and restarted: every photo ends `ready` exactly once, every
// hostile file `failed`, none is lost. Each role runs in its own process over SQLite in one data dir.
const PHOTOS = 200;
const HOSTILE = ['hostile/not-an-image.jpg', 'hostile/corrupt-header.jpg', 'hostile/decompression_bomb.gif'];
const KILL_EVERY_MS = 1500;

let dataDir: string;
let env: Record<string, string>;
let api: string;
const live = new Map<string, RunningProcess>();
const all: RunningProcess[] = [];

async function start(name: string, args: string[], ready: RegExp, extra: Record<string, string> = {}) {
  const p = runDarkroom(args, { ...env, ...extra });
  all.push(p);
  live.set(name, p);
  await p.waitForOutput(ready, 30_000);
  return p;
}

const roles = {
  sqs: () => start('sqs', ['sqs'], /Embedded SQS listening/),
  'worker-1': () => start('worker-1', ['worker'], /worker running/),
  'worker-2': () => start('worker-2', ['worker'], /worker running/),
};

beforeAll(async () => {
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'darkroom-chaos-'));
  env = {
    DARKROOM_DATA_DIR: dataDir,
    DARKROOM_S3_PORT: String(await freePort()),
    DARKROOM_SQS_PORT: String(await freePort()),
    DARKROOM_JWT_SECRET: JWT_SECRET,
    DARKROOM_S3_ACCESS_KEY_ID: TEST_KEY.accessKeyId,
    DARKROOM_S3_SECRET_ACCESS_KEY: TEST_KEY.secretAccessKey,
    DARKROOM_LOG_LEVEL: 'error',
    DARKROOM_WORKER_CONCURRENCY: '2',
    DARKROOM_VISIBILITY_TIMEOUT_SECONDS: '5',
    // Kills make messages come back; they must not reach the dead-letter queue for that alone.
    DARKROOM_MAX_RECEIVE_COUNT: '50',
    DARKROOM_UPLOADS_PER_MINUTE: '100000',
    DARKROOM_MAX_PENDING_UPLOADS: '100000',
    DARKROOM_VARIANTS: 'thumb:160,medium:320',
  };
  await roles.sqs();
  await start('s3', ['s3'], /Embedded S3 listening/);
  const p = await start('api', ['api'], /API listening on \S+/, { DARKROOM_PORT: String(await freePort()) });
  api = /API listening on (\S+)/.exec(p.output())![1]!;
  await roles['worker-1']();
  await roles['worker-2']();
}, 120_000);

afterAll(async () => {
  for (const p of all) if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
  await Promise.all(all.map((p) => p.exited));
  fs.rmSync(dataDir, { recursive: true, force: true });
});

describe('SIGKILL of SQS and workers, repeatedly, during a run of uploads', () => {
  it('every photo ready exactly once, every hostile file failed, none lost', async () => {
    const token = await mintToken(JWT_SECRET, { sub: 'chaos', ttlSeconds: 3600 });
    const auth = { authorization: `Bearer ${token}` };
    const call = async (method: string, route: string, body?: unknown) => {
      const res = await fetch(`${api}${route}`, {
        method,
        headers: { ...auth, ...(body ? { 'content-type': 'application/json' } : {}) },
        ...(body ? { body: JSON.stringify(body) } : {}),
      });
      return { status: res.status, json: (await res.json()) as Record<string, unknown> };
    };
    const upload = async (bytes: Buffer, filename: string, contentType: string) => {
      const intent = await call('POST', '/v1/uploads', { filename, contentType, size: bytes.length });
      expect(intent.status).toBe(201);
      const { image, upload: u } = intent.json as {
        image: { id: string };
        upload: { url: string; headers: Record<string, string> };
      };
      const put = await fetch(u.url, { method: 'PUT', headers: u.headers, body: new Uint8Array(bytes) });
      expect(put.status).toBe(200);
      return image.id;
    };

    // The chaos: every KILL_EVERY_MS one of SQS or a worker dies without warning and is restarted.
    let kills = 0;
    let chaosOn = true;
    const victims = Object.keys(roles) as (keyof typeof roles)[];
    const chaos = (async () => {
      while (chaosOn) {
        await new Promise((r) => setTimeout(r, KILL_EVERY_MS));
        if (!chaosOn) break;
        const name = victims[kills % victims.length]!;
        const victim = live.get(name)!;
        victim.child.kill('SIGKILL');
        await victim.exited;
        kills++;
        await new Promise((r) => setTimeout(r, 200));
        await roles[name]();
      }
    })();

    const photoIds: string[] = [];
    let next = 0;
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        while (next < PHOTOS) {
          const i = next++;
          photoIds.push(await upload(await numberedPhoto(i), `p${i}.jpg`, 'image/jpeg'));
        }
      }),
    );
    const hostileIds = await Promise.all(
      HOSTILE.map((f) =>
        upload(
          fs.readFileSync(path.join(TESTDATA, f)),
          path.basename(f),
          f.endsWith('.gif') ? 'image/gif' : 'image/jpeg',
        ),
      ),
    );
    // Keep killing while the backlog drains, until each victim has died at least three times.
    while (kills < 3 * victims.length) await new Promise((r) => setTimeout(r, 100));
    chaosOn = false;
    await chaos;

    const statusOf = async (id: string) =>
      (await call('GET', `/v1/images/${id}`)).json as { status: string; error?: { code: string } };
    const deadline = Date.now() + 180_000;
    let unsettled: string[] = [];
    do {
      unsettled = [];
      for (const id of [...photoIds, ...hostileIds]) {
        const { status } = await statusOf(id);
        if (!['ready', 'failed'].includes(status)) unsettled.push(`${id}:${status}`);
      }
      if (unsettled.length > 0) await new Promise((r) => setTimeout(r, 1000));
    } while (unsettled.length > 0 && Date.now() < deadline);
    expect(unsettled).toEqual([]);

    for (const id of photoIds) {
      const image = await statusOf(id);
      expect(image.status, `${id} ${JSON.stringify(image.error)}`).toBe('ready');
    }
    for (const id of hostileIds) {
      const image = await statusOf(id);
      expect(image.status, id).toBe('failed');
      expect(image.error?.code).not.toBe('processing_failed');
    }

    // Exactly once: each image reached its final state once in its own event history.
    const s3 = new S3Client({
      endpoint: `http://127.0.0.1:${env.DARKROOM_S3_PORT}`,
      region: REGION,
      forcePathStyle: true,
      credentials: TEST_KEY,
    });
    const keys: string[] = [];
    let token2: string | undefined;
    do {
      const page = await s3.send(
        new ListObjectsV2Command({ Bucket: 'darkroom', Prefix: 'variants/', ContinuationToken: token2 }),
      );
      keys.push(...(page.Contents ?? []).map((o) => o.Key!));
      token2 = page.NextContinuationToken;
    } while (token2);
    s3.destroy();
    expect(keys).toHaveLength(PHOTOS * 2);
    const terminalEvents = countTerminalEvents(path.join(dataDir, 'darkroom.sqlite'));
    expect(terminalEvents.filter((e) => e.n !== 1)).toEqual([]);
    expect(terminalEvents).toHaveLength(PHOTOS + HOSTILE.length);
  }, 300_000);
});

/** Per image, how many times it became ready or failed, read from the event log in SQLite. */
function countTerminalEvents(file: string): { image_id: string; n: number }[] {
  // Read-only, so the running roles are not disturbed.
  const db = new Database(file, { readonly: true });
  try {
    return db
      .prepare(
        "SELECT image_id, count(*) AS n FROM image_events WHERE status IN ('ready', 'failed') GROUP BY image_id",
      )
      .all() as { image_id: string; n: number }[];
  } finally {
    db.close();
  }
}
