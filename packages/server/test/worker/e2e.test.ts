import path from 'node:path';
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { ListQueuesCommand, SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { bodyBytes, TEST_KEY } from '@darkroom/s3-server/test-support';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { syntheticObjectCreated } from '../../src/worker/s3-events.ts';
import { startTestStack, TESTDATA, type TestStack } from '../helpers/stack.ts';

// The whole flow on one machine: intent → presigned PUT → S3 event → SQS → worker → ready.
let stack: TestStack;
let s3: S3Client;

beforeAll(async () => {
  stack = await startTestStack();
  s3 = new S3Client({ endpoint: stack.s3, region: 'us-east-1', forcePathStyle: true, credentials: TEST_KEY });
}, 60_000);
afterAll(async () => {
  s3.destroy();
  await stack.stop();
});

type Variant = { url: string; width: number; height: number; bytes: number; contentType: string };
const variantsOf = (image: Record<string, unknown>) => image.variants as Record<string, Variant>;

async function variantObject(id: string, name: string) {
  const res = await s3.send(
    new GetObjectCommand({ Bucket: stack.config.s3.bucket, Key: `variants/${id}/${name}.webp` }),
  );
  return { res, bytes: await bodyBytes(res.Body) };
}

describe('uploads become ready', () => {
  it('develops a photo into the default variants, immutable, without metadata', async () => {
    const id = await stack.upload(
      'alice',
      path.join(TESTDATA, 'photos/2569067123_aca715a2ee_o.jpg'),
      'image/jpeg',
    );
    const image = await stack.waitSettled('alice', id);
    expect(image).toMatchObject({ status: 'ready', width: 2725, height: 2225, format: 'jpeg' });
    expect(image.thumbhash).toEqual(expect.any(String));
    expect(image.dominantColor).toMatch(/^#[0-9a-f]{6}$/);
    expect(image.transparent).toBe(false);
    const v = variantsOf(image);
    expect(Object.keys(v).sort()).toEqual(['large', 'medium', 'thumb']);
    expect(v.thumb).toMatchObject({ width: 320, height: 261, contentType: 'image/webp' });
    expect(v.medium).toMatchObject({ width: 1280, height: 1045 });
    expect(v.large).toMatchObject({ width: 2560, height: 2090 });
    expect(v.thumb!.url).toBe(`${stack.config.publicBaseUrl}/img/${id}/thumb`);
    const { res, bytes } = await variantObject(id, 'thumb');
    expect(res.ContentType).toBe('image/webp');
    expect(res.CacheControl).toBe('public, max-age=31536000, immutable');
    const meta = await sharp(bytes).metadata();
    expect([meta.width, meta.height, meta.format]).toEqual([320, 261, 'webp']);
  });

  it('publishes nothing of a GPS-tagged photo but pixels', async () => {
    const id = await stack.upload('alice', path.join(TESTDATA, 'photos/DSCN0010.jpg'), 'image/jpeg');
    expect((await stack.waitSettled('alice', id)).status).toBe('ready');
    for (const name of ['thumb', 'medium', 'large']) {
      const { bytes } = await variantObject(id, name);
      const meta = await sharp(bytes).metadata();
      expect(meta.exif).toBeUndefined();
      expect(meta.xmp).toBeUndefined();
      expect(bytes.includes(Buffer.from('GPS'))).toBe(false);
    }
  });

  it('turns an EXIF-rotated photo upright (pixels, not tags)', async () => {
    const id = await stack.upload('alice', path.join(TESTDATA, 'orientation/Landscape_6.jpg'), 'image/jpeg');
    const image = await stack.waitSettled('alice', id);
    expect(image).toMatchObject({ status: 'ready', width: 600, height: 450 });
    expect(variantsOf(image).thumb).toMatchObject({ width: 320, height: 240 });
  });
});

describe('every photo in the test corpus', () => {
  it.each([
    ['photos/2569067123_aca715a2ee_o.jpg', 'image/jpeg', 2725, 2225],
    ['photos/DSCN0010.jpg', 'image/jpeg', 640, 480],
    ['photos/HMD_Nokia_8.3_5G.jpg', 'image/jpeg', 4608, 1976],
    ['photos/canon-eos-5d-mark-iii_22mp.jpg', 'image/jpeg', 5760, 3840],
    ['photos/oppo-r7-plus_13mp_gps.jpg', 'image/jpeg', 3120, 4160],
    ['formats/IMG_5195.HEIC', 'image/heic', 2566, 3313],
    ['orientation/iphone_13_pro_max.HEIC', 'image/heic', 3024, 4032],
  ])(
    '%s becomes ready at its upright size',
    async (file, type, width, height) => {
      const id = await stack.upload('olga', path.join(TESTDATA, file), type);
      const image = await stack.waitSettled('olga', id, 120_000);
      expect(image).toMatchObject({ status: 'ready', width, height });
      const thumb = variantsOf(image).thumb!;
      expect(Math.max(thumb.width, thumb.height)).toBe(320);
    },
    120_000,
  );
});

describe('hostile uploads fail with a reason, and others keep flowing', () => {
  it.each([
    ['hostile/not-an-image.jpg', 'unsupported_type'],
    ['hostile/giant-image.jpg', 'too_many_pixels'],
    ['hostile/png-disguised-as.jpg', null],
    ['hostile/truncated.jpg', 'corrupt_image'],
  ])('%s → %s', async (file, code) => {
    const id = await stack.upload('mallory', path.join(TESTDATA, file), 'image/jpeg');
    const image = await stack.waitSettled('mallory', id);
    if (code === null) {
      // A real PNG under a .jpg name: the bytes decide, and it is developed as the PNG it is.
      expect(image).toMatchObject({ status: 'ready', format: 'png' });
    } else {
      expect(image).toMatchObject({ status: 'failed', error: { code } });
      expect(String((image.error as { message: string }).message).length).toBeGreaterThan(10);
    }
  });
});

describe('exactly-once effects on an at-least-once queue', () => {
  it('ignores duplicate and replayed events for a ready image', async () => {
    const id = await stack.upload('bob', path.join(TESTDATA, 'orientation/Landscape_1.jpg'), 'image/jpeg');
    const first = await stack.waitSettled('bob', id);
    expect(first.status).toBe('ready');
    const sqs = new SQSClient({ endpoint: stack.sqs, region: 'us-east-1', credentials: TEST_KEY });
    const { QueueUrls } = await sqs.send(new ListQueuesCommand({ QueueNamePrefix: 'darkroom-uploads' }));
    const queueUrl = QueueUrls!.find((u) => u.endsWith('/darkroom-uploads'))!;
    const body = syntheticObjectCreated({
      region: 'us-east-1',
      bucket: stack.config.s3.bucket,
      key: `uploads/${id}`,
      size: 1,
      eTag: 'x',
    });
    for (let i = 0; i < 3; i++)
      await sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: body }));
    sqs.destroy();
    await new Promise((r) => setTimeout(r, 1500));
    const after = await stack.call('GET', `/v1/images/${id}`, { as: 'bob' });
    expect(after.json).toEqual(first);
    const list = await stack.call('GET', '/v1/images', { as: 'bob' });
    expect((list.json.images as { id: string }[]).filter((i) => i.id === id)).toHaveLength(1);
  });

  it('removes bytes uploaded through a URL whose intent was cancelled', async () => {
    const bytes = Buffer.from('orphan bytes');
    const intent = await stack.call('POST', '/v1/uploads', {
      as: 'carol',
      body: { filename: 'x.jpg', contentType: 'image/jpeg', size: bytes.length },
    });
    const { image, upload } = intent.json as {
      image: { id: string };
      upload: { url: string; headers: Record<string, string> };
    };
    expect((await stack.call('DELETE', `/v1/uploads/${image.id}`, { as: 'carol' })).status).toBe(204);
    expect((await fetch(upload.url, { method: 'PUT', body: bytes, headers: upload.headers })).status).toBe(
      200,
    );
    const deadline = Date.now() + 10_000;
    let gone = false;
    while (!gone && Date.now() < deadline) {
      gone = await s3
        .send(new GetObjectCommand({ Bucket: stack.config.s3.bucket, Key: `uploads/${image.id}` }))
        .then(
          () => false,
          () => true,
        );
      if (!gone) await new Promise((r) => setTimeout(r, 100));
    }
    expect(gone).toBe(true);
  });
});

describe('/metrics', () => {
  it('reports jobs by outcome, time per stage and the queue depth', async () => {
    const text = await (await fetch(`${stack.api}/metrics`)).text();
    expect(text).toMatch(/darkroom_worker_jobs_total\{outcome="ready"\} [1-9]/);
    expect(text).toMatch(/darkroom_worker_jobs_total\{outcome="failed"\} [1-9]/);
    expect(text).toMatch(/darkroom_worker_stage_seconds_count\{stage="develop"\} [1-9]/);
    expect(text).toMatch(/darkroom_queue_messages\{state="visible"\} \d+/);
    expect(text).toContain('darkroom_http_requests_total');
  });
});
