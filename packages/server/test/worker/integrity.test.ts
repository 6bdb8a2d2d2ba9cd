import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import {
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  S3Client,
  S3ServiceException,
} from '@aws-sdk/client-s3';
import { bodyBytes, TEST_KEY } from '@darkroom/s3-server/test-support';
import { xorshift } from '@darkroom/testdata';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { signTransformPath } from '../../src/delivery/transform-signature.ts';
import { startTestStack, TESTDATA, type TestStack } from '../helpers/stack.ts';

// Issue 18.1-18.3 and 16.4 through the whole stack (intent → storage → event → queue → worker): what
// was approved is what is stored and served, whatever is replayed to the presigned URLs and when.

const BIG = path.join(TESTDATA, 'photos/canon-eos-5d-mark-iii_22mp.jpg'); // 5760×3840
const SMALL = path.join(TESTDATA, 'photos/DSCN0010.jpg'); // 640×480
const TRANSFORM_SECRET = 'integrity-transform-secret-0123456789';

type Json = Record<string, unknown>;
type Upload = { url: string; headers?: Record<string, string>; fields?: Record<string, string> };
let stack: TestStack;
let s3: S3Client;

beforeAll(async () => {
  stack = await startTestStack({
    DARKROOM_WORKER_CONCURRENCY: '2',
    DARKROOM_MULTIPART_THRESHOLD: String(5 * 1024 * 1024),
    DARKROOM_MULTIPART_PART_SIZE: String(5 * 1024 * 1024),
    DARKROOM_TRANSFORM_SECRET: TRANSFORM_SECRET,
  });
  s3 = new S3Client({ endpoint: stack.s3, region: 'us-east-1', forcePathStyle: true, credentials: TEST_KEY });
}, 60_000);
afterAll(async () => {
  s3?.destroy();
  await stack?.stop();
});

const bucket = () => stack.config.s3.bucket;

async function intent(owner: string, body: Json): Promise<{ id: string; upload: Upload }> {
  const res = await stack.call('POST', '/v1/uploads', { as: owner, body });
  expect(res.status, JSON.stringify(res.json)).toBe(201);
  const { image, upload } = res.json as { image: { id: string }; upload: Upload };
  return { id: image.id, upload };
}

function put(upload: Upload, bytes: Buffer): Promise<Response> {
  return fetch(upload.url, { method: 'PUT', body: new Uint8Array(bytes), headers: upload.headers });
}

function post(upload: Upload, bytes: Buffer): Promise<Response> {
  const form = new FormData();
  for (const [k, v] of Object.entries(upload.fields ?? {})) form.append(k, v);
  form.append('file', new Blob([new Uint8Array(bytes)]), 'photo.jpg');
  return fetch(upload.url, { method: 'POST', body: form });
}

/** `bytes` with zeros after the JPEG's end, to `length` (decoders stop at EOI). */
function padTo(bytes: Buffer, length: number): Buffer {
  return Buffer.concat([bytes, Buffer.alloc(length - bytes.length)]);
}

async function head(key: string): Promise<{ etag: string; size: number } | undefined> {
  try {
    const res = await s3.send(new HeadObjectCommand({ Bucket: bucket(), Key: key }));
    return { etag: (res.ETag ?? '').replace(/"/g, ''), size: res.ContentLength ?? 0 };
  } catch (err) {
    if (err instanceof S3ServiceException && err.$metadata.httpStatusCode === 404) return undefined;
    throw err;
  }
}

async function keysUnder(prefix: string): Promise<string[]> {
  const res = await s3.send(new ListObjectsV2Command({ Bucket: bucket(), Prefix: prefix }));
  return (res.Contents ?? []).map((o) => o.Key!);
}

async function widthOf(key: string): Promise<number | undefined> {
  const res = await s3.send(new GetObjectCommand({ Bucket: bucket(), Key: key }));
  return (await sharp(await bodyBytes(res.Body)).metadata()).width;
}

/** The worker's metrics (jobs by outcome, develop runs) and whether the queue holds any message. */
async function workerCounts(): Promise<{ jobs: Map<string, number>; develops: number; queued: number }> {
  const text = await (await fetch(`${stack.api}/metrics`)).text();
  let queued = 0;
  for (const m of text.matchAll(/^darkroom_queue_messages\{state="(visible|in_flight|delayed)"\} (\S+)$/gm)) {
    queued += Number(m[2]);
  }
  const jobs = new Map<string, number>();
  for (const m of text.matchAll(/^darkroom_worker_jobs_total\{outcome="(\w+)"\} (\S+)$/gm)) {
    jobs.set(m[1]!, Number(m[2]));
  }
  const develops = Number(
    /^darkroom_worker_stage_seconds_count\{stage="develop"\} (\S+)$/m.exec(text)?.[1] ?? 0,
  );
  return { jobs, develops, queued };
}
const totalJobs = (jobs: Map<string, number>) => [...jobs.values()].reduce((a, b) => a + b, 0);

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function statusOf(owner: string, id: string): Promise<Json> {
  return (await stack.call('GET', `/v1/images/${id}`, { as: owner })).json;
}

/** The record and storage agree: every variant the record names exists at the width it says. */
async function expectRecordMatchesStorage(image: Json): Promise<void> {
  const variants = image.variants as Record<string, { width: number }>;
  for (const [name, v] of Object.entries(variants)) {
    const [key] = (await keysUnder(`variants/${String(image.id)}/${name}.`)).filter(
      (k) => !k.includes('/t/'),
    );
    expect(key, `variant ${name} in storage`).toBeDefined();
    expect(await widthOf(key!)).toBe(v.width);
  }
}

describe('a presigned PUT replayed while the image is processing (18.1)', () => {
  it('never swaps the image: the record, the variants and storage describe the approved photo', async () => {
    const owner = 'replay-put';
    const big = fs.readFileSync(BIG);
    const other = padTo(fs.readFileSync(SMALL), big.length);
    const { id, upload } = await intent(owner, {
      filename: 'a.jpg',
      contentType: 'image/jpeg',
      size: big.length,
    });
    expect((await put(upload, big)).status).toBe(200);
    const approved = (await head(`uploads/${id}`))!.etag;
    await until('processing', async () =>
      (await statusOf(owner, id)).status === 'processing' ? true : undefined,
    );
    const before = await workerCounts();

    const replay = await put(upload, other);
    expect(replay.status).toBe(200);
    const image = await until(
      'settled',
      async () => {
        const s = await statusOf(owner, id);
        return ['ready', 'failed'].includes(String(s.status)) ? s : undefined;
      },
      60_000,
    );
    // Both events handled (the replay's rejected, not developed).
    const after = await until('both jobs', async () => {
      const c = await workerCounts();
      return totalJobs(c.jobs) - totalJobs(before.jobs) >= 2 ? c : undefined;
    });
    expect((after.jobs.get('rejected') ?? 0) - (before.jobs.get('rejected') ?? 0)).toBe(1);

    // Either the approved photo was developed (downloaded before the replay landed) or, when the replay
    // destroyed it first, the image failed; never the replayed photo.
    if (image.status === 'ready') {
      expect(image).toMatchObject({ width: 5760, height: 3840 });
      await expectRecordMatchesStorage(image);
    } else {
      expect(image).toMatchObject({ error: { code: 'upload_replaced' } });
      expect(await keysUnder(`variants/${id}/`)).toEqual([]);
    }
    // The replayed bytes are not kept; whatever remains at the key is the approved original.
    const left = await head(`uploads/${id}`);
    if (left) expect(left.etag).toBe(approved);
  }, 90_000);

  it('two PUTs before any worker claims: the record describes the bytes storage holds', async () => {
    const owner = 'double-put';
    const small = fs.readFileSync(SMALL);
    const other = await sharp(small).rotate(90).jpeg().toBuffer();
    const { id, upload } = await intent(owner, {
      filename: 'a.jpg',
      contentType: 'image/jpeg',
      size: small.length,
    });
    const same = padTo(other, small.length);
    await Promise.all([put(upload, small), put(upload, same)]);
    const image = await until('settled', async () => {
      const s = await statusOf(owner, id);
      return ['ready', 'failed'].includes(String(s.status)) ? s : undefined;
    });
    if (image.status === 'ready') {
      await expectRecordMatchesStorage(image);
      // Whichever write won, the record's dimensions are that photo's.
      const stored = (await head(`uploads/${id}`))?.etag;
      if (stored !== undefined) expect(image.width).toBe(stored === etagOf(small) ? 640 : 480);
    } else {
      expect(image).toMatchObject({ error: { code: 'upload_replaced' } });
    }
  }, 60_000);
});

function etagOf(bytes: Buffer): string {
  return createHash('md5').update(bytes).digest('hex');
}

describe('a POST form replayed after ready (18.2)', () => {
  it('does not park unchecked bytes: the replayed object is removed, counted, and the image unchanged', async () => {
    const owner = 'replay-post';
    const declared = 45 * 1024 * 1024;
    const { id, upload } = await intent(owner, {
      filename: 'a.jpg',
      contentType: 'image/jpeg',
      size: declared,
      method: 'post',
    });
    const small = fs.readFileSync(SMALL);
    expect((await post(upload, small)).status).toBe(204);
    const ready = await stack.waitSettled(owner, id);
    expect(ready).toMatchObject({ status: 'ready', bytes: small.length, width: 640 });
    const before = await workerCounts();

    const junk = xorshift(18).bytes(declared);
    expect((await post(upload, junk)).status).toBe(204);
    await until('the replayed object removed', async () =>
      (await head(`uploads/${id}`)) ? undefined : true,
    );
    const after = await until('rejection counted', async () => {
      const c = await workerCounts();
      return (c.jobs.get('rejected') ?? 0) > (before.jobs.get('rejected') ?? 0) ? c : undefined;
    });
    expect(after.develops).toBe(before.develops);
    const now = await statusOf(owner, id);
    expect(now).toMatchObject({ status: 'ready', bytes: small.length, width: 640 });
    expect(now.variants).toEqual(ready.variants);
    await expectRecordMatchesStorage(now);
  }, 60_000);
});

describe('multipart after complete', () => {
  it('a replayed part URL stores nothing and a replayed complete changes nothing', async () => {
    const owner = 'replay-multipart';
    const part = 5 * 1024 * 1024;
    const photo = fs.readFileSync(SMALL);
    const file = padTo(photo, part + 1000);
    const res = await stack.call('POST', '/v1/uploads', {
      as: owner,
      body: { filename: 'a.jpg', contentType: 'image/jpeg', size: file.length, method: 'multipart' },
    });
    expect(res.status).toBe(201);
    const { image, upload } = res.json as { image: { id: string }; upload: { partSize: number } };
    const id = image.id;
    const urls = (
      await stack.call('POST', `/v1/uploads/${id}/parts`, { as: owner, body: { partNumbers: [1, 2] } })
    ).json as { parts: { partNumber: number; url: string }[] };
    const parts = [];
    for (const p of urls.parts) {
      const slice = file.subarray((p.partNumber - 1) * upload.partSize, p.partNumber * upload.partSize);
      const r = await fetch(p.url, { method: 'PUT', body: new Uint8Array(slice) });
      expect(r.status).toBe(200);
      parts.push({ partNumber: p.partNumber, etag: r.headers.get('etag')! });
    }
    expect(
      (await stack.call('POST', `/v1/uploads/${id}/complete`, { as: owner, body: { parts } })).status,
    ).toBe(200);
    const ready = await stack.waitSettled(owner, id);
    expect(ready.status).toBe('ready');
    const approved = (await head(`uploads/${id}`))!.etag;

    const replay = await fetch(urls.parts[0]!.url, { method: 'PUT', body: new Uint8Array(part).fill(7) });
    expect(replay.status).toBe(404);
    const again = await stack.call('POST', `/v1/uploads/${id}/complete`, { as: owner, body: { parts } });
    expect(again.status).toBe(200);
    expect(again.json).toMatchObject({ status: 'ready', variants: ready.variants });
    expect((await head(`uploads/${id}`))!.etag).toBe(approved);
  }, 60_000);
});

describe('each image developed once (16.4)', () => {
  it('the notification and the client’s complete both arrive, and each image is developed once', async () => {
    const owner = 'develop-once';
    const before = await workerCounts();
    const ids: string[] = [];
    for (const [i, file] of [
      'orientation/Landscape_1.jpg',
      'orientation/Landscape_3.jpg',
      'photos/DSCN0010.jpg',
      'orientation/Portrait_1.jpg',
    ].entries()) {
      const bytes = fs.readFileSync(path.join(TESTDATA, file));
      const { id, upload } = await intent(owner, {
        filename: `${i}.jpg`,
        contentType: 'image/jpeg',
        size: bytes.length,
      });
      expect((await put(upload, bytes)).status).toBe(200);
      // What the SDK does after the bytes are stored, racing the bucket's own notification.
      expect((await stack.call('POST', `/v1/uploads/${id}/complete`, { as: owner })).status).toBe(200);
      ids.push(id);
    }
    for (const id of ids) expect((await stack.waitSettled(owner, id)).status).toBe('ready');
    // Every message handled (the queue empty), then count the develop runs.
    const after = await until('the queue empty', async () => {
      const c = await workerCounts();
      return c.queued === 0 ? c : undefined;
    });
    expect(after.develops - before.develops).toBe(ids.length);
  }, 90_000);
});

describe('deleting while the image is developed or first rendered (18.3)', () => {
  it('a delete during processing leaves nothing in storage once the job ends', async () => {
    const owner = 'delete-processing';
    const big = fs.readFileSync(BIG);
    const { id, upload } = await intent(owner, {
      filename: 'a.jpg',
      contentType: 'image/jpeg',
      size: big.length,
    });
    expect((await put(upload, big)).status).toBe(200);
    await until('processing', async () =>
      (await statusOf(owner, id)).status === 'processing' ? true : undefined,
    );
    expect((await stack.call('DELETE', `/v1/images/${id}`, { as: owner })).status).toBe(204);
    await until(
      'the job ended',
      async () => ((await workerCounts()).queued === 0 ? true : undefined),
      60_000,
    );
    expect(await keysUnder(`variants/${id}/`)).toEqual([]);
    expect(await head(`uploads/${id}`)).toBeUndefined();
    expect((await statusOf(owner, id)).error).toMatchObject({ code: 'not_found' });
  }, 90_000);

  it('a delete during a first render: the render is not served, nor kept', async () => {
    const owner = 'delete-rendering';
    const id = await stack.upload(owner, BIG, 'image/jpeg');
    expect((await stack.waitSettled(owner, id, 60_000)).status).toBe('ready');
    // AVIF at 1200 px takes the renderer a while: long enough to delete the image in the middle.
    const rendering = fetch(`${stack.api}${signTransformPath(TRANSFORM_SECRET, id, 'w_1200,f_avif')}`);
    const work = path.join(stack.config.dataDir, 'transforms');
    await until('the render started', async () => {
      const dirs = fs.existsSync(work) ? fs.readdirSync(work) : [];
      return dirs.some((d) => fs.existsSync(path.join(work, d, 'source'))) ? true : undefined;
    });
    expect((await stack.call('DELETE', `/v1/images/${id}`, { as: owner })).status).toBe(204);
    const res = await rendering;
    await res.arrayBuffer();
    expect(res.status).toBe(404);
    expect(res.headers.get('cache-control')).not.toContain('immutable');
    expect(await keysUnder(`variants/${id}/`)).toEqual([]);
  }, 90_000);
});
