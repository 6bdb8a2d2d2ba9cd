import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { GetQueueAttributesCommand, GetQueueUrlCommand, SQSClient } from '@aws-sdk/client-sqs';
import { TEST_KEY } from '@darkroom/s3-server/test-support';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mintToken } from '../../src/api/auth/jwt.ts';
import { JWT_SECRET } from '../helpers/api.ts';
import { freePort, type RunningProcess, runDarkroom } from '../helpers/process.ts';
import { TESTDATA } from '../helpers/stack.ts';

// Scale-out roles as separate processes; the worker is killed without warning in the middle of a job.
const processes: RunningProcess[] = [];
let env: Record<string, string>;
let api: string;
let token: string;
let dataDir: string;
let s3: RunningProcess;

function role(name: string, extra: Record<string, string> = {}): RunningProcess {
  const proc = runDarkroom([name], { ...env, ...extra });
  processes.push(proc);
  return proc;
}

async function image(id: string): Promise<Record<string, unknown>> {
  const res = await fetch(`${api}/v1/images/${id}`, { headers: { authorization: `Bearer ${token}` } });
  return (await res.json()) as Record<string, unknown>;
}

async function waitFor(id: string, statuses: string[], timeoutMs = 60_000): Promise<Record<string, unknown>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const img = await image(id);
    if (statuses.includes(String(img.status))) return img;
    if (Date.now() > deadline) throw new Error(`image still ${String(img.status)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

beforeAll(async () => {
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'darkroom-crash-'));
  const [port, s3Port, sqsPort] = [await freePort(), await freePort(), await freePort()];
  env = {
    DARKROOM_PORT: String(port),
    DARKROOM_S3_PORT: String(s3Port),
    DARKROOM_SQS_PORT: String(sqsPort),
    DARKROOM_DATA_DIR: dataDir,
    DARKROOM_JWT_SECRET: JWT_SECRET,
    DARKROOM_S3_ACCESS_KEY_ID: TEST_KEY.accessKeyId,
    DARKROOM_S3_SECRET_ACCESS_KEY: TEST_KEY.secretAccessKey,
    // A killed worker's message comes back after this long.
    DARKROOM_VISIBILITY_TIMEOUT_SECONDS: '5',
    // A message that keeps failing moves to the dead-letter queue after its second receive.
    DARKROOM_MAX_RECEIVE_COUNT: '2',
    DARKROOM_LOG_LEVEL: 'warn',
  };
  await role('sqs').waitForOutput('Embedded SQS listening');
  s3 = role('s3');
  await s3.waitForOutput('Embedded S3 listening');
  await role('api').waitForOutput('Darkroom API listening');
  api = `http://127.0.0.1:${port}`;
  token = await mintToken(JWT_SECRET, { sub: 'ivan', ttlSeconds: 600 });
}, 60_000);

afterAll(async () => {
  for (const p of processes)
    if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
  await Promise.all(processes.map((p) => p.exited));
  fs.rmSync(dataDir, { recursive: true, force: true });
});

/** Creates an intent for a test image and PUTs it through the presigned URL; returns the image id. */
const BIG = 'photos/canon-eos-5d-mark-iii_22mp.jpg';

async function uploadFile(relativePath: string): Promise<string> {
  const bytes = fs.readFileSync(path.join(TESTDATA, relativePath));
  const intent = await fetch(`${api}/v1/uploads`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ filename: 'big.jpg', contentType: 'image/jpeg', size: bytes.length }),
  });
  const { image: created, upload } = (await intent.json()) as {
    image: { id: string };
    upload: { url: string; headers: Record<string, string> };
  };
  expect(
    (await fetch(upload.url, { method: 'PUT', body: new Uint8Array(bytes), headers: upload.headers })).status,
  ).toBe(200);
  return created.id;
}

describe('a worker asked to stop (SIGTERM) mid-job', () => {
  it('stops receiving, finishes the image it holds, and exits 0', async () => {
    const id = await uploadFile(BIG);
    const worker = role('worker');
    await waitFor(id, ['processing']);
    worker.child.kill('SIGTERM');
    expect(await worker.exited).toBe(0);
    expect((await image(id)).status).toBe('ready');
  }, 120_000);
});

describe('a worker killed mid-job', () => {
  it('loses nothing: another worker finishes the image, exactly once', async () => {
    const created = { id: await uploadFile(BIG) };

    const first = role('worker');
    await waitFor(created.id, ['processing']);
    first.child.kill('SIGKILL');
    expect(await first.exited).toBe('SIGKILL');
    expect((await image(created.id)).status).toBe('processing');

    role('worker');
    const done = await waitFor(created.id, ['ready', 'failed']);
    expect(done).toMatchObject({ status: 'ready', width: 5760, height: 3840 });
    const s3 = new S3Client({
      endpoint: `http://127.0.0.1:${env.DARKROOM_S3_PORT}`,
      region: 'us-east-1',
      forcePathStyle: true,
      credentials: TEST_KEY,
    });
    const variants = await s3.send(
      new ListObjectsV2Command({ Bucket: 'darkroom', Prefix: `variants/${created.id}/` }),
    );
    s3.destroy();
    expect(variants.Contents?.map((o) => o.Key?.split('/').pop()).sort()).toEqual([
      'large.webp',
      'medium.webp',
      'thumb.webp',
    ]);
    const list = await fetch(`${api}/v1/images`, { headers: { authorization: `Bearer ${token}` } });
    const images = ((await list.json()) as { images: { id: string }[] }).images;
    expect(images.filter((i) => i.id === created.id)).toHaveLength(1);
  }, 120_000);
});

describe('a message that keeps failing', () => {
  it('ends in the dead-letter queue and the image says why', async () => {
    // No worker runs while the upload lands; then storage goes away, so every attempt fails.
    for (const p of processes) {
      if (p.child.exitCode === null && p.child.spawnargs.includes('worker')) p.child.kill('SIGKILL');
    }
    const created = { id: await uploadFile('orientation/Landscape_3.jpg') };
    await new Promise((r) => setTimeout(r, 300));
    s3.child.kill('SIGKILL');
    await s3.exited;
    role('worker');
    const failed = await waitFor(created.id, ['failed', 'ready'], 60_000);
    expect(failed).toMatchObject({ status: 'failed', error: { code: 'processing_failed' } });
    const sqs = new SQSClient({
      endpoint: `http://127.0.0.1:${env.DARKROOM_SQS_PORT}`,
      region: 'us-east-1',
      credentials: TEST_KEY,
    });
    const { QueueUrl } = await sqs.send(new GetQueueUrlCommand({ QueueName: 'darkroom-uploads-dlq' }));
    const deadline = Date.now() + 30_000;
    let inDlq = 0;
    while (inDlq === 0 && Date.now() < deadline) {
      const { Attributes } = await sqs.send(
        new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ['ApproximateNumberOfMessages'] }),
      );
      inDlq = Number(Attributes?.ApproximateNumberOfMessages ?? 0);
      if (inDlq === 0) await new Promise((r) => setTimeout(r, 250));
    }
    sqs.destroy();
    expect(inDlq).toBeGreaterThanOrEqual(1);
  }, 120_000);
});
