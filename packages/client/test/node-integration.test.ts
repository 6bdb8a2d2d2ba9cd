// The SDK in Node against a real stack (`darkroom start` in-process): processing through sharp, PUT and
// multipart uploads, live status, cancel, and resume after a crash.
import fs from 'node:fs';
import path from 'node:path';
import { GetObjectCommand, ListMultipartUploadsCommand, S3Client } from '@aws-sdk/client-s3';
import { REGION, TEST_KEY } from '@darkroom/s3-server/test-support';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mintToken } from '../../server/src/api/auth/jwt.ts';
import { JWT_SECRET } from '../../server/test/helpers/api.ts';
import { noisePng } from '../../server/test/helpers/photos.ts';
import { startTestStack, TESTDATA, type TestStack } from '../../server/test/helpers/stack.ts';
import {
  createMemoryResumeStore,
  createUploader,
  type SendRequest,
  type StatusChange,
  type Transport,
  UploadError,
  type UploadProgress,
} from '../src/index.ts';
import { nodeTransport } from '../src/transport-node.ts';

const MiB = 1024 * 1024;
const PART = 5 * MiB;
const PHOTO = path.join(TESTDATA, 'photos/canon-eos-5d-mark-iii_22mp.jpg');

let stack: TestStack;
let s3: S3Client;
let bigPng: Buffer;

beforeAll(async () => {
  stack = await startTestStack({
    DARKROOM_MULTIPART_THRESHOLD: String(PART),
    DARKROOM_MULTIPART_PART_SIZE: String(PART),
  });
  s3 = new S3Client({ endpoint: stack.s3, region: REGION, forcePathStyle: true, credentials: TEST_KEY });
  // A real image that stays above 10 MiB: noise does not compress.
  bigPng = await noisePng();
});

afterAll(async () => {
  await stack?.stop();
});

const token = (sub: string) => () => mintToken(JWT_SECRET, { sub, ttlSeconds: 3600 });

async function stored(id: string): Promise<Buffer> {
  const res = await s3.send(new GetObjectCommand({ Bucket: stack.config.s3.bucket, Key: `uploads/${id}` }));
  return Buffer.from(await res.Body!.transformToByteArray());
}

/** Counts bytes sent to storage and the parts in flight. */
function countingTransport(inner: Transport = nodeTransport) {
  const stats = { bytes: 0, requests: [] as SendRequest[], inFlight: 0, maxInFlight: 0 };
  const transport: Transport = async (req) => {
    stats.requests.push(req);
    stats.inFlight++;
    stats.maxInFlight = Math.max(stats.maxInFlight, stats.inFlight);
    try {
      const res = await inner(req);
      if (res.status < 300) stats.bytes += req.body.size;
      return res;
    } finally {
      stats.inFlight--;
    }
  };
  return { transport, stats };
}

describe('the SDK in Node', () => {
  it('processes a photo with sharp, PUTs it with progress, and follows it to ready', async () => {
    const uploader = createUploader({ endpoint: stack.api, token: token('alice') });
    const states: string[] = [];
    const progress: UploadProgress[] = [];
    const handle = uploader.upload(PHOTO);
    handle.on('status', (s: StatusChange) => states.push(s.state));
    handle.on('progress', (p) => progress.push(p));
    const image = await handle.result;
    uploader.close();

    const original = fs.statSync(PHOTO).size;
    expect(handle.prepared).toMatchObject({
      originalBytes: original,
      processed: true,
      contentType: 'image/webp',
    });
    expect(handle.prepared!.bytes).toBeLessThan(original);
    expect(Math.max(handle.prepared!.width!, handle.prepared!.height!)).toBe(2560);
    expect(handle.prepared!.thumbhash).toMatch(/^[A-Za-z0-9+/=]+$/);
    expect(image).toMatchObject({
      status: 'ready',
      contentType: 'image/webp',
      bytes: handle.prepared!.bytes,
    });
    expect(image.filename).toBe('canon-eos-5d-mark-iii_22mp.webp');
    expect(image.thumbhash).toBe(handle.prepared!.thumbhash);
    expect(progress.at(-1)).toMatchObject({
      sent: handle.prepared!.bytes,
      total: handle.prepared!.bytes,
      fraction: 1,
    });
    expect(states).toEqual(
      expect.arrayContaining(['preparing', 'pending', 'uploading', 'uploaded', 'ready']),
    );
    expect(states.indexOf('uploading')).toBeLessThan(states.indexOf('ready'));

    const bytes = await stored(image.id);
    expect(bytes.length).toBe(handle.prepared!.bytes);
    const meta = await sharp(bytes).metadata();
    expect(meta.format).toBe('webp');
    expect(meta.exif).toBeUndefined();
    expect(meta.xmp).toBeUndefined();
  });

  it('sends a large image as a multipart upload, parts in parallel up to the cap, presigned lazily', async () => {
    const { transport, stats } = countingTransport();
    const presigned: number[][] = [];
    const uploader = createUploader({
      endpoint: stack.api,
      token: token('bob'),
      transport,
      parallel: 2,
      fetch: async (input, init) => {
        if (String(input).endsWith('/parts') && init?.method === 'POST') {
          presigned.push((JSON.parse(String(init.body)) as { partNumbers: number[] }).partNumbers);
        }
        return fetch(input, init);
      },
    });
    const file = new File([new Uint8Array(bigPng)], 'noise.png', { type: 'image/png' });
    const handle = uploader.upload(file, { process: false });
    const image = await handle.result;
    uploader.close();
    const partCount = Math.ceil(bigPng.length / PART);
    expect(partCount).toBeGreaterThanOrEqual(3);
    expect(image).toMatchObject({ status: 'ready', bytes: bigPng.length });
    expect(stats.requests).toHaveLength(partCount);
    expect(stats.maxInFlight).toBe(2);
    expect(stats.bytes).toBe(bigPng.length);
    // Batches of at most `parallel` parts, never everything up front.
    expect(presigned.flat().sort((a, b) => a - b)).toEqual(
      Array.from({ length: partCount }, (_, i) => i + 1),
    );
    for (const batch of presigned) expect(batch.length).toBeLessThanOrEqual(2);
    expect(Buffer.compare(await stored(image.id), bigPng)).toBe(0);
    expect(handle.progress).toMatchObject({ sent: bigPng.length, fraction: 1 });
  });

  it('cancels mid-upload: the intent is aborted and nothing stays pending', async () => {
    const slow: Transport = (req) =>
      new Promise((resolve, reject) => {
        // Part 1 goes through; the next parts stall until cancelled.
        if (req.url.includes('partNumber=1&') || req.url.endsWith('partNumber=1')) {
          nodeTransport(req).then(resolve, reject);
          return;
        }
        req.signal?.addEventListener('abort', () => reject(new UploadError('cancelled', 'cancelled')));
      });
    const uploader = createUploader({
      endpoint: stack.api,
      token: token('carol'),
      transport: slow,
      parallel: 1,
    });
    const handle = uploader.upload(new File([new Uint8Array(bigPng)], 'noise.png', { type: 'image/png' }), {
      process: false,
    });
    await new Promise<void>((resolve) => handle.on('progress', (p) => p.parts[0]?.done && resolve()));
    const id = handle.imageId!;
    await handle.cancel();
    await expect(handle.result).rejects.toMatchObject({ code: 'cancelled' });
    expect(handle.state).toBe('cancelled');
    expect((await stack.call('GET', `/v1/images/${id}`, { as: 'carol' })).status).toBe(404);
    const uploads = await s3.send(
      new ListMultipartUploadsCommand({ Bucket: stack.config.s3.bucket, Prefix: `uploads/${id}` }),
    );
    expect(uploads.Uploads ?? []).toEqual([]);
    expect(await uploader.pendingResumes()).toEqual([]);
    uploader.close();
  });

  it('resumes after a crash without sending finished parts again, and asks for the file when the bytes are lost', async () => {
    const store = createMemoryResumeStore();
    let release: (() => void) | undefined;
    // The "crashed" uploader: part 1 is stored, then every other request hangs forever.
    const crashing: Transport = (req) =>
      req.url.includes('partNumber=1&') || req.url.endsWith('partNumber=1')
        ? nodeTransport(req)
        : new Promise((_, reject) => {
            release = () => reject(new Error('process gone'));
          });
    const first = createUploader({
      endpoint: stack.api,
      token: token('dave'),
      transport: crashing,
      parallel: 1,
      resumeStore: store,
      retry: { attempts: 1 },
    });
    const file = new File([new Uint8Array(bigPng)], 'noise.png', {
      type: 'image/png',
      lastModified: 1_700_000_000_000,
    });
    const dropped = first.upload(file, { process: false });
    await new Promise<void>((resolve) => dropped.on('progress', (p) => p.parts[0]?.done && resolve()));
    await new Promise((r) => setTimeout(r, 100)); // the record write after part 1
    first.close();

    // A new uploader (a reloaded page) finds the interrupted upload.
    const { transport, stats } = countingTransport();
    const second = createUploader({
      endpoint: stack.api,
      token: token('dave'),
      transport,
      resumeStore: store,
    });
    const [record] = await second.pendingResumes();
    expect(record).toMatchObject({ imageId: dropped.imageId, partSize: PART, size: bigPng.length });
    expect(record!.parts.map((p) => p.partNumber)).toEqual([1]);

    // The browser lost the bytes: the handle asks for the file; a different file is refused.
    delete record!.blob;
    await store.put(record!);
    const handle = second.resume(record!);
    const states: StatusChange[] = [];
    handle.on('status', (s) => states.push(s));
    await waitFor(() => handle.state === 'needs-file');
    handle.provideFile(new File([new Uint8Array(bigPng.subarray(1))], 'other.png', { type: 'image/png' }));
    await waitFor(() => states.some((s) => s.error?.code === 'file_mismatch'));
    expect(handle.state).toBe('needs-file');
    handle.provideFile(file);
    const image = await handle.result;
    expect(image).toMatchObject({ id: dropped.imageId, status: 'ready', bytes: bigPng.length });
    // Only the parts storage lacked crossed the wire again.
    expect(stats.bytes).toBe(bigPng.length - PART);
    expect(stats.requests.some((r) => /partNumber=1(&|$)/.test(r.url))).toBe(false);
    expect(Buffer.compare(await stored(image.id), bigPng)).toBe(0);
    expect(await second.pendingResumes()).toEqual([]);
    release?.();
    second.close();
  });

  it('resumes a processed upload from the original file picked again: processed again, same bytes, only missing parts sent', async () => {
    const original = await sharp({
      create: {
        width: 2400,
        height: 2000,
        channels: 3,
        background: '#808080',
        noise: { type: 'gaussian', mean: 128, sigma: 60 },
      },
    })
      .png({ compressionLevel: 1 })
      .toBuffer();
    const file = new File([new Uint8Array(original)], 'noise.png', {
      type: 'image/png',
      lastModified: 1_700_000_000_000,
    });
    const store = createMemoryResumeStore();
    const crashing: Transport = (req) =>
      /partNumber=1(&|$)/.test(req.url) ? nodeTransport(req) : new Promise(() => {});
    const first = createUploader({
      endpoint: stack.api,
      token: token('hana'),
      transport: crashing,
      parallel: 1,
      resumeStore: store,
      process: { format: 'jpeg', quality: 1 },
    });
    const dropped = first.upload(file);
    await new Promise<void>((resolve) => dropped.on('progress', (p) => p.parts[0]?.done && resolve()));
    first.close();
    const prepared = dropped.prepared!;
    expect(prepared).toMatchObject({ processed: true, contentType: 'image/jpeg' });
    expect(prepared.bytes).toBeGreaterThan(PART);

    await new Promise((r) => setTimeout(r, 100)); // the record write after part 1
    const [record] = await store.list();
    expect(record).toMatchObject({ processed: true, size: prepared.bytes, sha256: prepared.sha256 });
    delete record!.blob; // the bytes are lost; the original is picked again
    const { transport, stats } = countingTransport();
    const second = createUploader({
      endpoint: stack.api,
      token: token('hana'),
      transport,
      resumeStore: store,
    });
    const handle = second.resume(record!);
    await waitFor(() => handle.state === 'needs-file');
    handle.provideFile(file);
    const image = await handle.result;
    expect(image).toMatchObject({ status: 'ready', contentType: 'image/jpeg', bytes: prepared.bytes });
    expect(handle.prepared?.sha256).toBe(prepared.sha256);
    expect(stats.bytes).toBe(prepared.bytes - PART);
    second.close();
  });

  it('sends a POST form when asked for method post, with progress to the total', async () => {
    const uploader = createUploader({ endpoint: stack.api, token: token('frank'), liveStatus: false });
    const handle = uploader.upload(path.join(TESTDATA, 'orientation/Landscape_6.jpg'), {
      method: 'post',
      visibility: 'private',
      process: { maxEdge: 300, format: 'jpeg' },
    });
    const image = await handle.result;
    expect(image).toMatchObject({ status: 'ready', visibility: 'private', contentType: 'image/jpeg' });
    expect(handle.prepared).toMatchObject({ processed: true, width: 300, height: 225 });
    expect(handle.progress).toMatchObject({ sent: handle.prepared!.bytes, fraction: 1 });
    const meta = await sharp(await stored(image.id)).metadata();
    expect(meta).toMatchObject({ format: 'jpeg', width: 300, height: 225 });
    expect(meta.exif).toBeUndefined();
  });

  it('cancelled while preparing: no intent is left behind', async () => {
    const uploader = createUploader({ endpoint: stack.api, token: token('gina'), liveStatus: false });
    const controller = new AbortController();
    const handle = uploader.upload(PHOTO, { signal: controller.signal });
    handle.on('status', (s) => s.state === 'preparing' && controller.abort());
    await expect(handle.result).rejects.toMatchObject({ code: 'cancelled' });
    expect(handle.state).toBe('cancelled');
    const list = await stack.call('GET', '/v1/images', { as: 'gina' });
    expect(list.json.images).toEqual([]);
  });

  it('converts TIFF, which the server does not take, even when the conversion is larger (issue 17)', async () => {
    const uploader = createUploader({ endpoint: stack.api, token: token('tess'), liveStatus: false });
    for (const file of ['formats/uncompressed_tiff.tiff', 'formats/G31D_MULTI.TIF']) {
      const handle = uploader.upload(path.join(TESTDATA, file));
      const image = await handle.result;
      expect(image, file).toMatchObject({ status: 'ready', contentType: 'image/webp' });
      expect(handle.prepared, file).toMatchObject({ processed: true, contentType: 'image/webp' });
    }
  });

  it('refuses TIFF it cannot convert before any intent, in plain words, never with the API validation string', async () => {
    const uploader = createUploader({ endpoint: stack.api, token: token('tina'), liveStatus: false });
    const handle = uploader.upload(path.join(TESTDATA, 'formats/uncompressed_tiff.tiff'), { process: false });
    const err = (await handle.result.catch((e: unknown) => e)) as UploadError;
    expect(err).toBeInstanceOf(UploadError);
    expect(err.code).toBe('unsupported_type');
    expect(err.message).toBe(
      '“uncompressed_tiff.tiff” is a TIFF image, which is uploaded only once converted, and it could not be converted (processing is turned off); convert it to JPEG, PNG, WEBP, AVIF, GIF, HEIC or HEIF first.',
    );
    expect(handle.imageId).toBeUndefined();
    expect((await stack.call('GET', '/v1/images', { as: 'tina' })).json.images).toEqual([]);
    // An uploader that processes nothing refuses TIFF already when checking the files.
    const plain = createUploader({ endpoint: stack.api, token: token('tina'), process: false });
    const tiff = new File(
      [fs.readFileSync(path.join(TESTDATA, 'formats/uncompressed_tiff.tiff'))],
      'scan.tiff',
      {
        type: 'image/tiff',
      },
    );
    expect(plain.checkFiles([tiff]).rejected.map((r) => r.message)).toEqual([
      '“scan.tiff” is a TIFF image, which cannot be uploaded here; you can upload JPEG, PNG, WEBP, AVIF, GIF, HEIC or HEIF images.',
    ]);
    plain.close();
  });

  it('refuses a file before sending anything, with a message a person understands', async () => {
    const uploader = createUploader({
      endpoint: stack.api,
      token: token('erin'),
      restrictions: { maxFileBytes: 1000 },
      liveStatus: false,
    });
    const handle = uploader.upload(PHOTO);
    await expect(handle.result).rejects.toMatchObject({ code: 'too_large' });
    const err = (await handle.result.catch((e: unknown) => e)) as UploadError;
    expect(err.message).toMatch(/canon-eos-5d-mark-iii_22mp\.jpg.*is 2\.\d MB; the limit is 1 KB/);
    expect(handle.imageId).toBeUndefined();
    expect(handle.state).toBe('failed');
  });
});

async function waitFor(check: () => boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('the SDK in Node, with part URLs that expire in a second', () => {
  let shortStack: TestStack;
  beforeAll(async () => {
    shortStack = await startTestStack({
      DARKROOM_MULTIPART_THRESHOLD: String(PART),
      DARKROOM_MULTIPART_PART_SIZE: String(PART),
      DARKROOM_PRESIGN_TTL_SECONDS: '1',
    });
  });
  afterAll(async () => {
    await shortStack?.stop();
  });

  it('presigns a part again when storage answers 403 "Request has expired"', async () => {
    const answers: number[] = [];
    const delayed = new Set<string>();
    // The first attempt at each part waits until its URL has expired, as a stalled connection would.
    const slowFirst: Transport = async (req) => {
      const part = /partNumber=(\d+)/.exec(req.url)![1]!;
      if (!delayed.has(part)) {
        delayed.add(part);
        await new Promise((r) => setTimeout(r, 1500));
      }
      const res = await nodeTransport(req);
      answers.push(res.status);
      return res;
    };
    const uploader = createUploader({
      endpoint: shortStack.api,
      token: token('ivan'),
      transport: slowFirst,
      parallel: 2,
      liveStatus: false,
    });
    const handle = uploader.upload(new File([new Uint8Array(bigPng)], 'noise.png', { type: 'image/png' }), {
      process: false,
      wait: false,
    });
    const image = await handle.result;
    const partCount = Math.ceil(bigPng.length / PART);
    // Stored; the worker may already have started on it (notifications race /complete).
    expect(image.bytes).toBe(bigPng.length);
    expect(['uploaded', 'processing', 'ready']).toContain(image.status);
    // Each part's stalled first try expired; on a loaded machine a fresh URL (1 s) can expire again.
    expect(answers.filter((s) => s === 403).length).toBeGreaterThanOrEqual(partCount);
    expect(answers.filter((s) => s === 200)).toHaveLength(partCount);
  });
});
