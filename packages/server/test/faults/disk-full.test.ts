import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  CreateBucketCommand,
  DeleteObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
} from '@aws-sdk/client-s3';
import { s3ErrorOf, startTestS3, type TestS3 } from '@darkroom/s3-server/test-support';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// The embedded S3 server's data dir on a small tmpfs that fills up: writes fail with an S3 error,
// nothing half-written stays, and writes work again once space returns. Mounting needs root (CI runs
// as root); elsewhere the test says so instead of passing.
const MiB = 1024 * 1024;
let mountPoint: string;
let s3: TestS3;

beforeAll(async () => {
  mountPoint = fs.mkdtempSync(path.join(os.tmpdir(), 'darkroom-full-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=12m', 'tmpfs', mountPoint]);
  } catch (err) {
    throw new Error(`this test mounts a 12 MiB tmpfs and needs root: ${(err as Error).message}`);
  }
  s3 = await startTestS3({ dataDir: mountPoint });
  await s3.client().send(new CreateBucketCommand({ Bucket: 'full' }));
});
afterAll(async () => {
  await s3?.stop();
  execFileSync('umount', [mountPoint]);
  fs.rmSync(mountPoint, { recursive: true, force: true });
});

/** Every file under `dir` (the object store's blobs and temp files). */
function filesUnder(dir: string): string[] {
  return fs
    .readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => path.join(e.parentPath, e.name));
}

describe('disk full on the data dir', () => {
  it('refuses the write with an S3 error, keeps nothing half-written, and recovers when space returns', async () => {
    const client = s3.client({ maxAttempts: 1 });
    await client.send(new PutObjectCommand({ Bucket: 'full', Key: 'first', Body: Buffer.alloc(5 * MiB, 1) }));
    const before = new Set(filesUnder(mountPoint));

    const err = await s3ErrorOf(() =>
      client.send(new PutObjectCommand({ Bucket: 'full', Key: 'too-big', Body: Buffer.alloc(9 * MiB, 2) })),
    );
    expect(err.status).toBe(507);
    expect(err.name).toBe('InsufficientStorage');
    // No object, no leftover temp file.
    expect(
      (await s3ErrorOf(() => client.send(new HeadObjectCommand({ Bucket: 'full', Key: 'too-big' })))).status,
    ).toBe(404);
    const listed = await client.send(new ListObjectsV2Command({ Bucket: 'full' }));
    expect(listed.Contents?.map((o) => o.Key)).toEqual(['first']);
    const leftovers = filesUnder(mountPoint).filter(
      (f) => !before.has(f) && !/\.sqlite(-wal|-shm)?$/.test(f),
    );
    expect(leftovers).toEqual([]);

    // Space returns: the same write now succeeds.
    await client.send(new DeleteObjectCommand({ Bucket: 'full', Key: 'first' }));
    await client.send(
      new PutObjectCommand({ Bucket: 'full', Key: 'too-big', Body: Buffer.alloc(9 * MiB, 2) }),
    );
    const head = await client.send(new HeadObjectCommand({ Bucket: 'full', Key: 'too-big' }));
    expect(head.ContentLength).toBe(9 * MiB);
  });
});
