import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import {
  CompleteMultipartUploadCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  S3Client,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { createPresignedPost } from '@aws-sdk/s3-presigned-post';
import { bodyBytes, REGION, s3ErrorOf, TEST_KEY } from '@darkroom/s3-server/test-support';
import { afterEach, describe, expect, it } from 'vitest';
import { freePort, type RunningProcess, runDarkroom } from '../helpers/process.ts';

// SIGKILL of `darkroom s3` in the middle of a CompleteMultipartUpload and of a browser POST upload:
// no partial object is ever visible, temp files are gone after the restart, and the client's retry
// succeeds. (The same for a plain PUT is in test/cli.test.ts.)
const MiB = 1024 * 1024;
const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

interface S3Process {
  proc: RunningProcess;
  client: S3Client;
  port: number;
  dataDir: string;
}

async function startS3(dataDir: string, port?: number): Promise<S3Process> {
  const p = port ?? (await freePort());
  const proc = runDarkroom(['s3'], {
    DARKROOM_S3_PORT: String(p),
    DARKROOM_DATA_DIR: dataDir,
    DARKROOM_S3_ACCESS_KEY_ID: TEST_KEY.accessKeyId,
    DARKROOM_S3_SECRET_ACCESS_KEY: TEST_KEY.secretAccessKey,
    DARKROOM_LOG_LEVEL: 'warn',
  });
  cleanups.push(() => {
    if (proc.child.exitCode === null) proc.child.kill('SIGKILL');
    return proc.exited;
  });
  await proc.waitForOutput('Embedded S3 listening');
  const client = new S3Client({
    endpoint: `http://127.0.0.1:${p}`,
    region: REGION,
    forcePathStyle: true,
    credentials: TEST_KEY,
    maxAttempts: 1,
  });
  cleanups.push(() => client.destroy());
  return { proc, client, port: p, dataDir };
}

function tempDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'darkroom-s3crash-'));
  cleanups.push(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Waits until a temp file in the store holds more than `bytes`, i.e. the write is under way. */
async function waitForTempBytes(dataDir: string, bytes: number): Promise<void> {
  const tmp = path.join(dataDir, 's3', 'tmp');
  const deadline = Date.now() + 20_000;
  for (;;) {
    const sizes = fs.existsSync(tmp)
      ? fs.readdirSync(tmp).map((f) => fs.statSync(path.join(tmp, f), { throwIfNoEntry: false })?.size ?? 0)
      : [];
    if (sizes.some((s) => s > bytes)) return;
    if (Date.now() > deadline) throw new Error('the write never reached the temp folder');
    await new Promise((r) => setTimeout(r, 2));
  }
}

async function killAndRestart(s3: S3Process): Promise<S3Process> {
  s3.proc.child.kill('SIGKILL');
  await s3.proc.exited;
  const again = await startS3(s3.dataDir, s3.port);
  expect(fs.readdirSync(path.join(s3.dataDir, 's3', 'tmp'))).toEqual([]);
  return again;
}

describe('SIGKILL of the embedded S3 server', () => {
  it('during CompleteMultipartUpload: the object is absent or whole, and the retry completes it', async () => {
    const first = await startS3(tempDir());
    await first.client.send(new CreateBucketCommand({ Bucket: 'crash' }));
    const { UploadId } = await first.client.send(
      new CreateMultipartUploadCommand({ Bucket: 'crash', Key: 'big' }),
    );
    const partCount = 6;
    const parts: { PartNumber: number; ETag: string | undefined }[] = [];
    for (let n = 1; n <= partCount; n++) {
      const { ETag } = await first.client.send(
        new UploadPartCommand({
          Bucket: 'crash',
          Key: 'big',
          UploadId,
          PartNumber: n,
          Body: Buffer.alloc(32 * MiB, n),
        }),
      );
      parts.push({ PartNumber: n, ETag });
    }
    const complete = () =>
      new CompleteMultipartUploadCommand({
        Bucket: 'crash',
        Key: 'big',
        UploadId,
        MultipartUpload: { Parts: parts },
      });
    const inFlight = first.client.send(complete()).catch((err: unknown) => err);
    await waitForTempBytes(first.dataDir, 8 * MiB);
    const second = await killAndRestart(first);
    expect(await inFlight).toBeInstanceOf(Error);

    // Never a partial object: either nothing, or all 192 MiB.
    const head = await second.client
      .send(new HeadObjectCommand({ Bucket: 'crash', Key: 'big' }))
      .catch((e: unknown) => (e instanceof Error ? e : new Error(String(e))));
    if (!(head instanceof Error)) expect(head.ContentLength).toBe(partCount * 32 * MiB);
    const retried = await second.client.send(complete()).catch((e: unknown) => e);
    if (retried instanceof Error) {
      // Only acceptable if the first completion had committed before the kill.
      expect(head).not.toBeInstanceOf(Error);
    }
    const got = await second.client.send(
      new GetObjectCommand({ Bucket: 'crash', Key: 'big', Range: `bytes=${33 * MiB}-${33 * MiB + 3}` }),
    );
    expect([...(await bodyBytes(got.Body))]).toEqual([2, 2, 2, 2]);
    const final = await second.client.send(new HeadObjectCommand({ Bucket: 'crash', Key: 'big' }));
    expect(final.ContentLength).toBe(partCount * 32 * MiB);
    expect(final.ETag).toMatch(/-6"$/);
  }, 120_000);

  it('during a browser POST upload: nothing is stored, and the retry succeeds', async () => {
    const first = await startS3(tempDir());
    await first.client.send(new CreateBucketCommand({ Bucket: 'crash' }));
    const size = 48 * MiB;
    const post = await createPresignedPost(first.client, {
      Bucket: 'crash',
      Key: 'posted',
      Conditions: [['content-length-range', 1, size]],
      Expires: 600,
    });

    // A slow multipart/form-data body, written by hand so the server is mid-stream when it dies.
    const boundary = '----darkroom-crash';
    const fields = Object.entries(post.fields)
      .map(([k, v]) => `--${boundary}\r\nContent-Disposition: form-data; name="${k}"\r\n\r\n${v}\r\n`)
      .join('');
    const head = `${fields}--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="x.bin"\r\nContent-Type: application/octet-stream\r\n\r\n`;
    const tail = `\r\n--${boundary}--\r\n`;
    const req = http.request(post.url, {
      method: 'POST',
      headers: {
        'content-type': `multipart/form-data; boundary=${boundary}`,
        'content-length': Buffer.byteLength(head) + size + Buffer.byteLength(tail),
      },
    });
    const outcome = new Promise((resolve) => {
      req.on('error', resolve);
      req.on('response', (res) => resolve(res.statusCode));
    });
    req.write(head);
    const chunk = Buffer.alloc(MiB, 9);
    let sent = 0;
    const timer = setInterval(() => {
      if (sent >= size - MiB) return clearInterval(timer);
      req.write(chunk);
      sent += MiB;
    }, 15);
    cleanups.push(() => clearInterval(timer));
    await waitForTempBytes(first.dataDir, 2 * MiB);
    const second = await killAndRestart(first);
    clearInterval(timer);
    expect(await outcome).toBeInstanceOf(Error);
    req.destroy();

    expect(
      (await s3ErrorOf(() => second.client.send(new HeadObjectCommand({ Bucket: 'crash', Key: 'posted' }))))
        .status,
    ).toBe(404);
    const listed = await second.client.send(new ListObjectsV2Command({ Bucket: 'crash' }));
    expect(listed.KeyCount).toBe(0);

    // The retry (same policy, it has not expired) stores the whole file.
    const form = new FormData();
    for (const [k, v] of Object.entries(post.fields)) form.append(k, v);
    form.append('file', new Blob([new Uint8Array(3 * MiB).fill(9)]), 'x.bin');
    const res = await fetch(post.url, { method: 'POST', body: form });
    expect(res.status).toBe(204);
    const stored = await second.client.send(new HeadObjectCommand({ Bucket: 'crash', Key: 'posted' }));
    expect(stored.ContentLength).toBe(3 * MiB);
  }, 120_000);
});
