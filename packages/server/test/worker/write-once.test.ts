import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import {
  CreateBucketCommand,
  GetObjectCommand,
  HeadObjectCommand,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { originalKey, parseVariants } from '@darkroom/contract';
import { bodyBytes, TEST_KEY } from '@darkroom/s3-server/test-support';
import pino from 'pino';
import { Gauge, Histogram } from 'prom-client';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase } from '../../src/db/connect.ts';
import { ImageRepository, newImageRow } from '../../src/db/images.ts';
import type { DeliveryMetrics } from '../../src/delivery/metrics.ts';
import { Renderer } from '../../src/delivery/renderer.ts';
import { type CreateOnceResult, StorageGateway } from '../../src/storage/gateway.ts';
import { type ProcessDeps, processRecord } from '../../src/worker/process-image.ts';
import type { ObjectCreatedRecord } from '../../src/worker/s3-events.ts';
import { startTestStack, TESTDATA, type TestStack } from '../helpers/stack.ts';

// Variants and stored renderings are written create-once (If-None-Match: *) on the stack's own S3: a
// redelivered job after a crash, a job under another pipeline version, a worker that runs late after
// another finished, and two API processes rendering the same key. The jobs below run processRecord on a
// bucket of their own (no notifications, so the stack's worker leaves it alone) with a database of their
// own; the last test goes through the whole stack.

const PHOTO = path.join(TESTDATA, 'photos/DSCN0010.jpg'); // 640×480
const BUCKET = 'write-once';
const SPEC = 'thumb:64:webp:80,small:160:webp:80,medium:320:webp:80';
const OTHER_VERSION = 'thumb:64:webp:40,small:160:webp:40,medium:320:webp:40';

let stack: TestStack;
let s3: S3Client;
let images: ImageRepository;
let closeDb: () => Promise<void>;
let workRoot: string;
const logged: { msg: string; key?: string }[] = [];
const log = pino(
  { level: 'info' },
  new Writable({
    write(chunk: Buffer, _enc, done) {
      logged.push(JSON.parse(chunk.toString()) as { msg: string; key?: string });
      done();
    },
  }),
);

beforeAll(async () => {
  stack = await startTestStack({}, { log });
  s3 = new S3Client({ endpoint: stack.s3, region: 'us-east-1', forcePathStyle: true, credentials: TEST_KEY });
  await s3.send(new CreateBucketCommand({ Bucket: BUCKET }));
  workRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'darkroom-write-once-'));
  const { db, dialect } = await openDatabase(`sqlite:${path.join(workRoot, 'db.sqlite')}`);
  images = new ImageRepository(db, dialect);
  closeDb = () => db.destroy();
}, 60_000);
afterAll(async () => {
  await closeDb?.();
  s3?.destroy();
  await stack?.stop();
  fs.rmSync(workRoot, { recursive: true, force: true });
});

/** A PUT upload recorded and stored in the test bucket: its id and the event naming it. */
async function uploaded(): Promise<{ id: string; record: ObjectCreatedRecord }> {
  const id = randomUUID();
  const bytes = fs.readFileSync(PHOTO);
  await images.insert(
    newImageRow({
      id,
      owner: 'write-once',
      filename: 'photo.jpg',
      content_type: 'image/jpeg',
      declared_bytes: bytes.length,
      upload_method: 'put',
    }),
  );
  const put = await s3.send(
    new PutObjectCommand({ Bucket: BUCKET, Key: originalKey(id), Body: bytes, ContentType: 'image/jpeg' }),
  );
  const eTag = (put.ETag ?? '').replace(/"/g, '');
  return {
    id,
    record: {
      eventName: 'ObjectCreated:Put',
      bucket: BUCKET,
      key: originalKey(id),
      size: bytes.length,
      eTag,
      sequencer: '1',
    },
  };
}

/** What putFileOnce answered, per key, for the jobs run with `deps` (and, with `crashAfter`, a job that dies). */
function jobDeps(
  variants: string,
  opts: { crashAfter?: number; images?: ImageRepository } = {},
): { deps: ProcessDeps; answers: Map<string, CreateOnceResult> } {
  const storage = new StorageGateway(s3, s3, BUCKET, { log });
  const answers = new Map<string, CreateOnceResult>();
  let writes = 0;
  const putFileOnce = storage.putFileOnce.bind(storage);
  storage.putFileOnce = async (key, ...rest) => {
    if (opts.crashAfter !== undefined && writes >= opts.crashAfter) throw new Error('the worker died here');
    writes++;
    const answer = await putFileOnce(key, ...rest);
    answers.set(key.split('/').pop()!, answer);
    return answer;
  };
  return {
    deps: {
      bucket: BUCKET,
      images: opts.images ?? images,
      storage,
      variants: parseVariants(variants),
      limits: { maxPixels: 100_000_000, maxInputBytes: 50 * 1024 * 1024, allowedFormats: ['jpeg'] },
      workRoot,
      log,
    },
    answers,
  };
}

async function etagOf(key: string): Promise<string> {
  return ((await s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: key }))).ETag ?? '').replace(/"/g, '');
}

async function variantEtags(id: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const name of ['thumb', 'small', 'medium']) out[name] = await etagOf(`variants/${id}/${name}.webp`);
  return out;
}

describe('variants are written create-once', () => {
  it('a job redelivered after it died mid-publication finds its own bytes and finishes', async () => {
    const { id, record } = await uploaded();
    const crashed = jobDeps(SPEC, { crashAfter: 2 });
    await expect(processRecord(crashed.deps, record, 'message-1')).rejects.toThrow('the worker died here');
    expect((await images.findById(id))?.status).toBe('processing');
    const before = {
      thumb: await etagOf(`variants/${id}/thumb.webp`),
      small: await etagOf(`variants/${id}/small.webp`),
    };

    // The same message again (its claim is its own): the pipeline makes the same bytes.
    const again = jobDeps(SPEC);
    expect(await processRecord(again.deps, record, 'message-1')).toBe('ready');
    expect(again.answers.get('thumb.webp')).toEqual({ written: false, etag: before.thumb, sameBytes: true });
    expect(again.answers.get('small.webp')).toEqual({ written: false, etag: before.small, sameBytes: true });
    expect(again.answers.get('medium.webp')).toEqual({ written: true });
    expect(await variantEtags(id)).toMatchObject(before);
  });

  it('the claim holder replaces what an earlier attempt under another pipeline version left, before ready', async () => {
    const { id, record } = await uploaded();
    await expect(
      processRecord(jobDeps(OTHER_VERSION, { crashAfter: 1 }).deps, record, 'message-2'),
    ).rejects.toThrow('the worker died here');
    const left = await etagOf(`variants/${id}/thumb.webp`);

    const again = jobDeps(SPEC);
    expect(await processRecord(again.deps, record, 'message-2')).toBe('ready');
    expect(again.answers.get('thumb.webp')).toMatchObject({ written: false, etag: left, sameBytes: false });
    const row = await images.findById(id);
    const thumb = JSON.parse(row!.variants).thumb as { bytes: number };
    const stored = await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: `variants/${id}/thumb.webp` }));
    // The record describes what storage holds: the holder's bytes, not the lapsed attempt's.
    expect(stored.ContentLength).toBe(thumb.bytes);
    expect(await etagOf(`variants/${id}/thumb.webp`)).not.toBe(left);
    expect(
      logged.some((l) => l.msg.startsWith('replaced a variant') && l.key === `variants/${id}/thumb.webp`),
    ).toBe(true);
  });

  it.each([
    ['other bytes (another pipeline version)', OTHER_VERSION],
    ['the same bytes', SPEC],
  ])(
    'a worker that runs late, after another finished the image, changes nothing: %s',
    async (_, lateSpec) => {
      const { id, record } = await uploaded();
      expect(await processRecord(jobDeps(SPEC).deps, record, 'finisher')).toBe('ready');
      const published = await variantEtags(id);
      const ready = await images.findById(id);

      // The late worker saw the image uploaded, claimed it and passed its last claim check before it stalled;
      // its claim lapsed and the other worker finished meanwhile. Its view of the database is that one.
      const stale = { ...ready!, status: 'uploaded' as const };
      let renewals = 0;
      const lateView = Object.create(images) as ImageRepository;
      lateView.findById = async () => stale;
      lateView.claim = async () => true;
      lateView.renewClaim = async () => ++renewals === 1;
      const late = jobDeps(lateSpec, { images: lateView });
      expect(await processRecord(late.deps, record, 'late')).toBe('duplicate');
      expect(await variantEtags(id)).toEqual(published);
      expect((await images.findById(id))?.variants).toBe(ready!.variants);
    },
  );
});

describe('stored renderings are written create-once', () => {
  it('a rendering another API process stored first is kept, not overwritten', async () => {
    const id = randomUUID();
    const source = `variants/${id}/large.jpeg`;
    await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: source, Body: fs.readFileSync(PHOTO) }));
    const key = `variants/${id}/t/w_100.webp`;
    const first = Buffer.from('the rendering the other process stored');
    await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: first, ContentType: 'image/webp' }));
    // Both processes looked before either stored: this one saw the key missing.
    const storage = new StorageGateway(s3, s3, BUCKET);
    const head = storage.head.bind(storage);
    let looked = false;
    storage.head = async (k) => {
      if (looked) return head(k);
      looked = true;
      return undefined;
    };
    const renderer = new Renderer({
      storage,
      // Only the render-time histogram and the render gauges are touched; registry-less ones stand in for
      // the API's metrics.
      metrics: {
        transformRenderSeconds: new Histogram({ name: 'render_seconds', help: 'test', registers: [] }),
        renders: new Gauge({ name: 'renders', help: 'test', labelNames: ['state'], registers: [] }),
      } as unknown as DeliveryMetrics,
      workRoot,
      maxSourcePixels: 100_000_000,
      concurrency: 1,
      maxWaiting: 0,
    });
    await renderer.ensure({
      source: { key: source, width: 640, height: 480 },
      resize: { width: 100, fit: 'inside' },
      format: 'webp',
      lossless: false,
      key,
      cacheControl: undefined,
    });
    const stored = await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }));
    expect(Buffer.compare(await bodyBytes(stored.Body), first)).toBe(0);
  });
});

describe('through the whole stack', () => {
  it('a variant key holding other bytes before the image is ready ends up with the developed variant', async () => {
    const bytes = fs.readFileSync(PHOTO);
    const intent = await stack.call('POST', '/v1/uploads', {
      as: 'write-once',
      body: { filename: 'photo.jpg', contentType: 'image/jpeg', size: bytes.length },
    });
    expect(intent.status).toBe(201);
    const { image, upload } = intent.json as {
      image: { id: string };
      upload: { url: string; headers: Record<string, string> };
    };
    const key = `variants/${image.id}/thumb.webp`;
    await s3.send(
      new PutObjectCommand({
        Bucket: stack.config.s3.bucket,
        Key: key,
        Body: Buffer.from('left by a lapsed attempt'),
      }),
    );
    expect(
      (await fetch(upload.url, { method: 'PUT', body: new Uint8Array(bytes), headers: upload.headers }))
        .status,
    ).toBe(200);
    const done = await stack.waitSettled('write-once', image.id);
    expect(done.status).toBe('ready');
    const thumb = (done.variants as Record<string, { width: number }>).thumb!;
    const stored = await s3.send(new GetObjectCommand({ Bucket: stack.config.s3.bucket, Key: key }));
    expect((await sharp(await bodyBytes(stored.Body)).metadata()).width).toBe(thumb.width);
  });
});
