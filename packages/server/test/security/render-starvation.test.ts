import crypto from 'node:crypto';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signTransformPath } from '../../src/delivery/transform-signature.ts';
import { imagingSlotUse } from '../../src/pipeline/index.ts';
import { metric, scrape } from '../delivery/support.ts';
import { startTestStack, TESTDATA, type TestStack } from '../helpers/stack.ts';

// Issue 18.5: first renders starved storage. Unbounded first renders (each an AVIF encode holding a thread
// of libuv's pool, which the embedded S3 server's file I/O shares) made a 6 KB presigned PUT wait seconds.
// Renders are now bounded (DARKROOM_RENDER_CONCURRENCY at once, DARKROOM_RENDER_QUEUE waiting, the rest
// 503 render_busy) and libvips work never takes the pool threads kept for file I/O. Timings are in
// bench/render-starvation.ts; this checks the bounds and that everything still completes.

const PHOTO = `${TESTDATA}/photos/canon-eos-5d-mark-iii_22mp.jpg`;
const TRANSFORM_SECRET = 'starvation-test-transform-secret-0123';
const CONCURRENCY = 2;
const QUEUE = 4;

let stack: TestStack;
let id: string;
/** Every transform width asked so far: each request must be a first render. */
let nextWidth = 800;

beforeAll(async () => {
  stack = await startTestStack({
    DARKROOM_TRANSFORM_SECRET: TRANSFORM_SECRET,
    DARKROOM_RENDER_CONCURRENCY: String(CONCURRENCY),
    DARKROOM_RENDER_QUEUE: String(QUEUE),
    // The render source is the largest variant; one variant keeps the develop short.
    DARKROOM_VARIANTS: 'large:2560',
  });
  id = await stack.upload('alice', PHOTO, 'image/jpeg');
  expect((await stack.waitSettled('alice', id, 120_000)).status).toBe('ready');
}, 180_000);
afterAll(async () => {
  await stack?.stop();
});

/** `n` first renders (AVIF, each a width never asked before) requested at once. */
function firstRenders(n: number): Promise<Response>[] {
  return Array.from({ length: n }, () =>
    fetch(`${stack.api}${signTransformPath(TRANSFORM_SECRET, id, `w_${nextWidth++},f_avif`)}`),
  );
}

/**
 * Samples, until `done` settles, the render gauges on /metrics and sharp's own count of libvips tasks
 * queued or running in this process (the test stack runs in it): the largest of each.
 */
async function watch(done: Promise<unknown>) {
  let settled = false;
  void done.finally(() => {
    settled = true;
  });
  const most = { running: 0, waiting: 0, libvips: 0 };
  while (!settled) {
    const text = await scrape(stack);
    const { queue, process } = sharp.counters();
    most.running = Math.max(most.running, metric(text, 'darkroom_transform_renders{state="running"}'));
    most.waiting = Math.max(most.waiting, metric(text, 'darkroom_transform_renders{state="waiting"}'));
    most.libvips = Math.max(most.libvips, queue + process);
    await new Promise((r) => setTimeout(r, 10));
  }
  return most;
}

describe('first renders are bounded (18.5)', () => {
  it(`runs ${CONCURRENCY} at once, the others wait their turn, and all are served`, async () => {
    const before = metric(await scrape(stack), 'darkroom_transform_render_seconds_count');
    const requests = firstRenders(CONCURRENCY + QUEUE);
    const responses = Promise.all(requests);
    const most = await watch(responses);
    for (const res of await responses) {
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe('image/avif');
      expect((await res.arrayBuffer()).byteLength).toBeGreaterThan(0);
    }
    expect(most.running).toBe(CONCURRENCY);
    expect(most.waiting).toBeGreaterThan(0);
    // libvips never holds more of libuv's pool than the image-work slots: the rest stays for file I/O.
    expect(most.libvips).toBeLessThanOrEqual(imagingSlotUse().size);
    expect(imagingSlotUse().size).toBeLessThan(stack.config.threadPoolSize);
    const after = await scrape(stack);
    expect(metric(after, 'darkroom_transform_render_seconds_count') - before).toBe(CONCURRENCY + QUEUE);
    expect(metric(after, 'darkroom_transform_renders{state="running"}')).toBe(0);
    expect(metric(after, 'darkroom_transform_renders{state="waiting"}')).toBe(0);
  }, 180_000);

  it('refuses renders past the queue with 503 render_busy and Retry-After, and serves them when retried', async () => {
    const refusedBefore = metric(await scrape(stack), 'darkroom_transform_renders_refused_total');
    const urls = Array.from(
      { length: CONCURRENCY + QUEUE + 4 },
      () => `${stack.api}${signTransformPath(TRANSFORM_SECRET, id, `w_${nextWidth++},f_avif`)}`,
    );
    const responses = await Promise.all(urls.map((u) => fetch(u)));
    const refused: string[] = [];
    for (const [i, res] of responses.entries()) {
      if (res.status === 200) {
        await res.arrayBuffer();
        continue;
      }
      expect(res.status).toBe(503);
      expect(res.headers.get('retry-after')).toBe('5');
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe('render_busy');
      refused.push(urls[i]!);
    }
    // At least those in slots and in line are served; the ones past the line (all four, unless a render
    // ended before every request arrived) are refused at once.
    expect(responses.length - refused.length).toBeGreaterThanOrEqual(CONCURRENCY + QUEUE);
    expect(refused.length).toBeGreaterThan(0);
    expect(metric(await scrape(stack), 'darkroom_transform_renders_refused_total') - refusedBefore).toBe(
      refused.length,
    );
    for (const url of refused) {
      const again = await fetch(url);
      expect(again.status).toBe(200);
      await again.arrayBuffer();
    }
  }, 180_000);

  it('a presigned PUT completes while renders fill every slot and the queue', async () => {
    const small = await sharp(PHOTO).resize({ width: 180 }).jpeg({ quality: 80 }).toBuffer();
    const requests = firstRenders(CONCURRENCY + QUEUE);
    const responses = Promise.all(requests);
    // Until the queue has filled (or, on a very fast machine, the renders are over).
    let settled = false;
    void responses.finally(() => {
      settled = true;
    });
    while (!settled && metric(await scrape(stack), 'darkroom_transform_renders{state="waiting"}') < QUEUE) {
      await new Promise((r) => setTimeout(r, 10));
    }
    const intent = await stack.call('POST', '/v1/uploads', {
      as: 'bob',
      body: { filename: 'small.jpg', contentType: 'image/jpeg', size: small.length },
    });
    expect(intent.status).toBe(201);
    const { image, upload } = intent.json as {
      image: { id: string };
      upload: { url: string; headers: Record<string, string> };
    };
    const put = await fetch(upload.url, {
      method: 'PUT',
      body: new Uint8Array(small),
      headers: upload.headers,
    });
    expect(put.status).toBe(200);
    // Stored as sent: a single PUT's ETag is the MD5 of what the server wrote.
    expect(put.headers.get('etag')).toBe(`"${crypto.createHash('md5').update(small).digest('hex')}"`);
    for (const res of await responses) {
      expect(res.status).toBe(200);
      await res.arrayBuffer();
    }
    expect((await stack.waitSettled('bob', image.id)).status).toBe('ready');
  }, 180_000);
});
