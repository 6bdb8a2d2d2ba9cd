import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestStack, TESTDATA, type TestStack } from '../helpers/stack.ts';
import { listKeys } from './support.ts';

// One variant stored three ways (JPEG primary, WebP and AVIF beside it) and one in a single format.
let stack: TestStack;
let id: string;
let thumb: string;
let medium: string;

const AVIF_BROWSER = 'image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8';
const WEBP_BROWSER = 'image/webp,*/*';

beforeAll(async () => {
  stack = await startTestStack({ DARKROOM_VARIANTS: 'thumb:320:jpeg+webp+avif,medium:640' });
  id = await stack.upload('nora', path.join(TESTDATA, 'orientation/Landscape_5.jpg'), 'image/jpeg');
  const image = await stack.waitSettled('nora', id);
  expect(image.status).toBe('ready');
  const variants = image.variants as Record<
    string,
    { url: string; contentType: string; contentTypes?: string[] }
  >;
  thumb = variants.thumb!.url;
  medium = variants.medium!.url;
  expect(variants.thumb).toMatchObject({
    contentType: 'image/jpeg',
    contentTypes: ['image/jpeg', 'image/webp', 'image/avif'],
  });
  expect(variants.medium!.contentTypes).toBeUndefined();
}, 90_000);
afterAll(() => stack.stop());

async function get(url: string, headers: Record<string, string> = {}, method = 'GET') {
  const res = await fetch(url, { method, headers });
  const body = Buffer.from(await res.arrayBuffer());
  return { res, body, h: (name: string) => res.headers.get(name) };
}

describe('format negotiation on /img/{id}/{variant}', () => {
  it('stores every format of the variant under variants/{id}/{variant}.{ext}', async () => {
    expect(await listKeys(stack, `variants/${id}/`)).toEqual([
      `variants/${id}/medium.webp`,
      `variants/${id}/thumb.avif`,
      `variants/${id}/thumb.jpg`,
      `variants/${id}/thumb.webp`,
    ]);
  });

  it.each([
    ['an AVIF browser', AVIF_BROWSER, 'image/avif', 'avif', 'heif'],
    ['a WebP browser', WEBP_BROWSER, 'image/webp', 'webp', 'webp'],
    ['AVIF refused with q=0', 'image/avif;q=0, image/webp', 'image/webp', 'webp', 'webp'],
    ['JPEG only', 'image/jpeg', 'image/jpeg', 'original', 'jpeg'],
    ['wildcards only', '*/*', 'image/jpeg', 'original', 'jpeg'],
  ])('picks for %s', async (_who, accept, contentType, choice, decoded) => {
    const { res, body, h } = await get(thumb, { accept });
    expect(res.status).toBe(200);
    expect(h('content-type')).toBe(contentType);
    expect(h('x-darkroom-format')).toBe(choice);
    expect(h('vary')).toMatch(/accept/i);
    expect(h('cache-control')).toBe('public, max-age=31536000, immutable');
    expect(Number(h('content-length'))).toBe(body.length);
    expect(await sharp(body).metadata()).toMatchObject({ format: decoded, width: 320, height: 240 });
  });

  it('falls back to the original format without an Accept header', async () => {
    const { res, h } = await get(thumb);
    expect(res.status).toBe(200);
    expect(h('content-type')).toBe('image/jpeg');
    expect(h('x-darkroom-format')).toBe('original');
    expect(h('vary')).toMatch(/accept/i);
  });

  it('gives each representation its own ETag, honoured by conditional requests and HEAD', async () => {
    const avif = await get(thumb, { accept: AVIF_BROWSER });
    const jpeg = await get(thumb, { accept: 'image/jpeg' });
    const avifTag = avif.h('etag')!;
    expect(avifTag).toMatch(/^"[0-9a-f]{32}"$/);
    expect(avifTag).not.toBe(jpeg.h('etag'));
    const same = await get(thumb, { accept: AVIF_BROWSER, 'if-none-match': avifTag });
    expect(same.res.status).toBe(304);
    expect(same.h('vary')).toMatch(/accept/i);
    expect(same.h('x-darkroom-format')).toBe('avif');
    // The AVIF's tag does not match the JPEG a JPEG-only client gets.
    const other = await get(thumb, { accept: 'image/jpeg', 'if-none-match': avifTag });
    expect(other.res.status).toBe(200);
    const head = await get(thumb, { accept: WEBP_BROWSER }, 'HEAD');
    expect(head.res.status).toBe(200);
    expect(head.h('content-type')).toBe('image/webp');
    expect(head.body.length).toBe(0);
    expect(Number(head.h('content-length'))).toBeGreaterThan(0);
  });

  it('takes an explicit ?f= over the Accept header', async () => {
    const { h } = await get(`${thumb}?f=webp`, { accept: AVIF_BROWSER });
    expect(h('content-type')).toBe('image/webp');
    expect(h('x-darkroom-format')).toBe('webp');
  });

  it('negotiates a WebP-only variant between its WebP and the JPEG fallback', async () => {
    const webp = await get(medium, { accept: AVIF_BROWSER });
    expect(webp.res.status).toBe(200);
    expect(webp.h('content-type')).toBe('image/webp');
    expect(webp.h('vary')).toMatch(/accept/i);
    expect(webp.h('x-darkroom-format')).toBe('webp');
    const jpeg = await get(medium, { accept: 'image/jpeg' });
    expect(jpeg.h('content-type')).toBe('image/jpeg');
    expect(jpeg.h('x-darkroom-format')).toBe('original');
  });
});
