import { randomUUID } from 'node:crypto';
import path from 'node:path';
import {
  CreateMultipartUploadCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  PutBucketNotificationConfigurationCommand,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { TEST_KEY } from '@darkroom/s3-server/test-support';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Db, openDatabase } from '../../src/db/connect.ts';
import { startTestStack, TESTDATA, type TestStack } from '../helpers/stack.ts';

// This stack's bucket sends no notifications, as some S3s cannot: only the sweep can find uploads.
let stack: TestStack;
let s3: S3Client;
/** The stack's own database, to age a record as if time had passed. */
let db: Db;
const MINUTE = 60_000;

beforeAll(async () => {
  stack = await startTestStack();
  s3 = new S3Client({ endpoint: stack.s3, region: 'us-east-1', forcePathStyle: true, credentials: TEST_KEY });
  db = (await openDatabase(stack.config.databaseUrl)).db;
  await s3.send(
    new PutBucketNotificationConfigurationCommand({
      Bucket: stack.config.s3.bucket,
      NotificationConfiguration: {},
    }),
  );
}, 60_000);
afterAll(async () => {
  s3.destroy();
  await db.destroy();
  await stack.stop();
});

const exists = (Key: string) =>
  s3.send(new HeadObjectCommand({ Bucket: stack.config.s3.bucket, Key })).then(
    () => true,
    () => false,
  );

describe('the sweep', () => {
  it('finds an upload whose notification never came and gets it processed', async () => {
    const id = await stack.upload('gina', path.join(TESTDATA, 'orientation/Landscape_2.jpg'), 'image/jpeg');
    await new Promise((r) => setTimeout(r, 500));
    expect((await stack.call('GET', `/v1/images/${id}`, { as: 'gina' })).json.status).toBe('pending');
    const report = await stack.sweeper.runOnce(Date.now() + 2 * MINUTE);
    expect(report.reconciled).toBe(1);
    expect(await stack.waitSettled('gina', id)).toMatchObject({ status: 'ready', width: 600, height: 450 });
  });

  it('removes pending uploads that never got their bytes, once past the TTL', async () => {
    const intent = await stack.call('POST', '/v1/uploads', {
      as: 'hank',
      body: { filename: 'never.jpg', contentType: 'image/jpeg', size: 100 },
    });
    const id = (intent.json.image as { id: string }).id;
    await stack.sweeper.runOnce(Date.now() + 2 * MINUTE);
    expect((await stack.call('GET', `/v1/images/${id}`, { as: 'hank' })).status).toBe(200);
    const report = await stack.sweeper.runOnce(
      Date.now() + (stack.config.worker.pendingTtlSeconds + 60) * 1000,
    );
    expect(report.abandoned).toBeGreaterThanOrEqual(1);
    expect((await stack.call('GET', `/v1/images/${id}`, { as: 'hank' })).status).toBe(404);
  });

  it('deletes originals and aborts multipart uploads that belong to no image', async () => {
    const Bucket = stack.config.s3.bucket;
    const orphan = `uploads/${randomUUID()}`;
    await s3.send(new PutObjectCommand({ Bucket, Key: orphan, Body: 'nobody’s' }));
    const stray = `uploads/${randomUUID()}`;
    await s3.send(new CreateMultipartUploadCommand({ Bucket, Key: stray }));
    // Within the grace period nothing is touched: an intent may be a moment away from its record.
    await stack.sweeper.runOnce(Date.now());
    expect(await exists(orphan)).toBe(true);
    const report = await stack.sweeper.runOnce(Date.now() + 2 * MINUTE);
    expect(report.orphansDeleted).toBeGreaterThanOrEqual(1);
    expect(report.multipartAborted).toBeGreaterThanOrEqual(1);
    expect(await exists(orphan)).toBe(false);
    const uploads = await s3.send(new ListMultipartUploadsCommand({ Bucket, Prefix: stray }));
    expect(uploads.Uploads ?? []).toEqual([]);
  });

  it('removes variant folders that belong to no image, and keeps those of live images (18.3)', async () => {
    const Bucket = stack.config.s3.bucket;
    const id = await stack.upload('ivan', path.join(TESTDATA, 'orientation/Landscape_4.jpg'), 'image/jpeg');
    await stack.sweeper.runOnce(Date.now() + 2 * MINUTE);
    expect((await stack.waitSettled('ivan', id)).status).toBe('ready');
    const gone = randomUUID();
    const leftovers = [
      `variants/${gone}/thumb.webp`,
      `variants/${gone}/t/abc.avif`,
      `private/${gone}/large.webp`,
    ];
    for (const Key of leftovers) await s3.send(new PutObjectCommand({ Bucket, Key, Body: 'left behind' }));
    const report = await stack.sweeper.runOnce(Date.now());
    expect(report.variantsDeleted).toBe(2);
    for (const key of leftovers) expect(await exists(key)).toBe(false);
    expect(await exists(`variants/${id}/thumb.webp`)).toBe(true);
  });

  it('keeps a multipart upload whose parts keep coming past DARKROOM_PENDING_TTL_SECONDS (18.6)', async () => {
    const ttl = stack.config.worker.pendingTtlSeconds * 1000;
    const part = 8 * 1024 * 1024;
    const intent = await stack.call('POST', '/v1/uploads', {
      as: 'jill',
      body: { filename: 'big.png', contentType: 'image/png', size: 3 * part, method: 'multipart' },
    });
    const id = (intent.json.image as { id: string }).id;
    const age = () =>
      db
        .updateTable('images')
        .set({ updated_at: Date.now() - ttl - MINUTE })
        .where('id', '=', id)
        .execute();
    const alive = async () => (await stack.call('GET', `/v1/images/${id}`, { as: 'jill' })).status === 200;

    // Started longer ago than the TTL, and fresh part URLs were just issued: kept.
    await age();
    const urls = await stack.call('POST', `/v1/uploads/${id}/parts`, {
      as: 'jill',
      body: { partNumbers: [1] },
    });
    expect(urls.status).toBe(200);
    await stack.sweeper.runOnce(Date.now() + 2 * MINUTE);
    expect(await alive()).toBe(true);

    // Its URLs issued longer ago than the TTL, and a part just stored: kept.
    const { url } = (urls.json.parts as { url: string }[])[0]!;
    expect((await fetch(url, { method: 'PUT', body: new Uint8Array(part) })).status).toBe(200);
    await age();
    await stack.sweeper.runOnce(Date.now() + 2 * MINUTE);
    expect(await alive()).toBe(true);

    // No URL and no part for longer than the TTL: abandoned, its parts aborted.
    await age();
    await stack.sweeper.runOnce(Date.now() + ttl + 2 * MINUTE);
    expect(await alive()).toBe(false);
  });
});
