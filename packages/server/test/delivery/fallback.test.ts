import path from 'node:path';
import { EDGE_ORIGIN_PATH, EDGE_REQUEST_HEADER } from '@darkroom/edge';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestStack, TESTDATA, type TestStack } from '../helpers/stack.ts';
import { headKey, metric, scrape } from './support.ts';

// `darkroom start` with default settings (every variant WebP only): a client that takes neither WebP nor
// AVIF gets a JPEG (PNG for transparent images), rendered once from the largest variant and stored.

let stack: TestStack;
let photo: string;
let transparent: string;

beforeAll(async () => {
  stack = await startTestStack();
  photo = await stack.upload('fay', path.join(TESTDATA, 'orientation/Landscape_2.jpg'), 'image/jpeg');
  transparent = await stack.upload('fay', path.join(TESTDATA, 'formats/5_webp_a.webp'), 'image/webp');
  for (const id of [photo, transparent]) expect((await stack.waitSettled('fay', id)).status).toBe('ready');
}, 90_000);
afterAll(() => stack?.stop());

const renders = async () => metric(await scrape(stack), 'darkroom_transform_render_seconds_count');

describe('the JPEG/PNG fallback with default settings', () => {
  it('answers a JPEG-only Accept with a JPEG, rendered once, stored, immutable', async () => {
    const url = `${stack.api}/img/${photo}/medium`;
    const before = await renders();
    const [a, b] = await Promise.all([1, 2].map(() => fetch(url, { headers: { accept: 'image/jpeg' } })));
    const bodies = await Promise.all([a!, b!].map(async (r) => Buffer.from(await r.arrayBuffer())));
    for (const res of [a!, b!]) {
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe('image/jpeg');
      expect(res.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
      expect(res.headers.get('vary')).toBe('Accept');
      expect(res.headers.get('x-darkroom-format')).toBe('original');
    }
    expect(await renders()).toBe(before + 1);
    const { variants } = await stack.waitSettled('fay', photo);
    const medium = (variants as Record<string, { width: number; height: number }>).medium!;
    // Same pixels as the stored WebP variant, drawn from the largest one.
    const meta = await sharp(bodies[0]).metadata();
    expect(meta).toMatchObject({ format: 'jpeg', width: medium.width, height: medium.height });
    const stored = await headKey(stack, `variants/${photo}/medium.fallback`);
    expect(stored).toMatchObject({
      contentType: 'image/jpeg',
      cacheControl: 'public, max-age=31536000, immutable',
    });
    expect(a!.headers.get('etag')).toBe(stored!.etag);
    // The next client is served from storage, and a WebP browser still gets the WebP.
    expect((await fetch(url, { headers: { accept: '*/*' } })).headers.get('etag')).toBe(stored!.etag);
    expect(await renders()).toBe(before + 1);
    const webp = await fetch(url, { headers: { accept: 'image/webp,*/*' } });
    expect(webp.headers.get('content-type')).toBe('image/webp');
  });

  it('answers with a PNG when the image has transparency', async () => {
    // The image JSON says so too, for the app's backdrop (issue 17).
    expect((await stack.waitSettled('fay', transparent)).transparent).toBe(true);
    const res = await fetch(`${stack.api}/img/${transparent}/thumb`, { headers: { accept: 'image/jpeg' } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('image/png');
    const meta = await sharp(Buffer.from(await res.arrayBuffer())).metadata();
    expect(meta).toMatchObject({ format: 'png', hasAlpha: true });
  });
});

describe('the failover origin CloudFront asks for what S3 lacks', () => {
  const edge = (key: string, viewer: string | undefined, accept = '*/*') =>
    fetch(`${stack.api}${EDGE_ORIGIN_PATH}/${key}`, {
      headers: { accept, ...(viewer === undefined ? {} : { [EDGE_REQUEST_HEADER]: viewer }) },
    });

  it('renders and stores the key the function computed from the viewer request', async () => {
    const key = `variants/${photo}/large.fallback`;
    expect(await headKey(stack, key)).toBeUndefined();
    const res = await edge(key, `/img/${photo}/large`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('image/jpeg');
    expect(await headKey(stack, key)).toMatchObject({ contentType: 'image/jpeg' });
  });

  it('refuses a key the viewer request does not lead to, and a request without one', async () => {
    const mismatch = await edge(`variants/${photo}/large.webp`, `/img/${photo}/large`);
    expect(mismatch.status).toBe(404);
    expect(((await mismatch.json()) as { error: { message: string } }).error.message).toMatch(
      /DARKROOM_VARIANTS/,
    );
    expect((await edge(`variants/${photo}/large.webp`, undefined)).status).toBe(404);
    // A forged viewer request gets the checks a direct one would: a transform without its signature.
    const forged = await edge(`variants/${photo}/t/${'0'.repeat(64)}.jpg`, `/img/${photo}/w_10`);
    expect(forged.status).toBe(403);
  });
});
