import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signTransformPath, transformSignature } from '../../src/delivery/transform-signature.ts';
import { startTestStack, TESTDATA, type TestStack } from '../helpers/stack.ts';
import { listKeys, metric, scrape } from './support.ts';

const SECRET = 'transform-secret-for-tests-0123456789';
let stack: TestStack;
let id: string;
let otherId: string;

/** The absolute URL of a signed transform of `image`. */
const signed = (options: string, image = id) => `${stack.api}${signTransformPath(SECRET, image, options)}`;

async function get(url: string, headers: Record<string, string> = {}, method = 'GET') {
  const res = await fetch(url, { method, headers });
  const body = Buffer.from(await res.arrayBuffer());
  return { res, body, h: (name: string) => res.headers.get(name), json: () => JSON.parse(body.toString()) };
}

async function counters() {
  const text = await scrape(stack);
  return {
    hits: metric(text, 'darkroom_transform_cache_total{result="hit"}'),
    misses: metric(text, 'darkroom_transform_cache_total{result="miss"}'),
    renders: metric(text, 'darkroom_transform_render_seconds_count'),
  };
}

beforeAll(async () => {
  stack = await startTestStack({
    DARKROOM_TRANSFORM_SECRET: SECRET,
    DARKROOM_TRANSFORM_MAX_WIDTH: '2000',
    DARKROOM_TRANSFORM_MAX_HEIGHT: '1500',
    DARKROOM_TRANSFORM_MAX_PIXELS: '1000000',
  });
  // 2725x2225 upright (its large variant, the transform source, is 2560x2090).
  [id, otherId] = await Promise.all([
    stack.upload('tess', path.join(TESTDATA, 'photos/2569067123_aca715a2ee_o.jpg'), 'image/jpeg'),
    stack.upload('tess', path.join(TESTDATA, 'orientation/Landscape_5.jpg'), 'image/jpeg'),
  ]);
  for (const image of [id, otherId]) expect((await stack.waitSettled('tess', image)).status).toBe('ready');
}, 120_000);
afterAll(() => stack.stop());

describe('signed on-the-fly transforms', () => {
  it('renders on first request, then serves the stored result (a cache hit)', async () => {
    const before = await counters();
    const url = signed('w_400,h_300,fit_cover,f_webp,q_75');
    const first = await get(url);
    expect(first.res.status).toBe(200);
    expect(first.h('content-type')).toBe('image/webp');
    expect(first.h('cache-control')).toBe('public, max-age=31536000, immutable');
    expect(first.h('etag')).toMatch(/^"[0-9a-f]{32}"$/);
    expect(first.h('vary')).toBeNull();
    expect(await sharp(first.body).metadata()).toMatchObject({ format: 'webp', width: 400, height: 300 });
    const afterFirst = await counters();
    expect(afterFirst.misses - before.misses).toBe(1);
    expect(afterFirst.renders - before.renders).toBe(1);

    const repeat = await get(url);
    expect(repeat.res.status).toBe(200);
    expect(repeat.h('etag')).toBe(first.h('etag'));
    expect(repeat.body.equals(first.body)).toBe(true);
    const afterRepeat = await counters();
    expect(afterRepeat.hits - afterFirst.hits).toBe(1);
    expect(afterRepeat.renders).toBe(afterFirst.renders);
    expect((await listKeys(stack, `variants/${id}/t/`)).some((k) => /\/t\/[0-9a-f]{64}\.webp$/.test(k))).toBe(
      true,
    );
  });

  it('shares one stored result between spellings of the same options (order, defaults)', async () => {
    const first = await get(signed('w_300,f_jpeg'));
    expect(first.res.status).toBe(200);
    const before = await counters();
    const again = await get(signed('fit_inside,f_jpeg,w_300'));
    expect(again.res.status).toBe(200);
    expect(again.h('etag')).toBe(first.h('etag'));
    const after = await counters();
    expect(after.hits - before.hits).toBe(1);
    expect(after.renders).toBe(before.renders);
    // fit inside keeps the aspect ratio of the 2560x2090 source.
    expect(await sharp(again.body).metadata()).toMatchObject({ format: 'jpeg', width: 300, height: 245 });
  });

  it('renders once for 10 concurrent identical requests', async () => {
    const before = await counters();
    const url = signed('w_640,h_480,fit_contain,f_png');
    const all = await Promise.all(Array.from({ length: 10 }, () => get(url)));
    for (const r of all) {
      expect(r.res.status).toBe(200);
      expect(r.body.equals(all[0]!.body)).toBe(true);
    }
    expect(await sharp(all[0]!.body).metadata()).toMatchObject({ format: 'png', width: 640, height: 480 });
    const after = await counters();
    expect(after.renders - before.renders).toBe(1);
    expect(after.misses - before.misses + (after.hits - before.hits)).toBe(10);
  });

  it('negotiates f_auto from the Accept header, with Vary', async () => {
    const avif = await get(signed('w_200'), { accept: 'image/avif,image/webp,*/*' });
    expect(avif.res.status).toBe(200);
    expect(avif.h('content-type')).toBe('image/avif');
    expect(avif.h('x-darkroom-format')).toBe('avif');
    expect(avif.h('vary')).toMatch(/accept/i);
    const plain = await get(signed('w_200'));
    expect(plain.h('content-type')).toBe('image/jpeg');
    expect(plain.h('x-darkroom-format')).toBe('original');
    expect(await sharp(plain.body).metadata()).toMatchObject({ format: 'jpeg', width: 200 });
  });

  it('answers HEAD, conditional and range requests on a transform', async () => {
    const url = signed('w_120,h_120,fit_fill,f_webp');
    const head = await get(url, {}, 'HEAD'); // a HEAD may be the first request: it renders too
    expect(head.res.status).toBe(200);
    expect(head.body.length).toBe(0);
    const full = await get(url);
    expect(Number(head.h('content-length'))).toBe(full.body.length);
    expect(head.h('etag')).toBe(full.h('etag'));
    const notModified = await get(url, { 'if-none-match': full.h('etag')! });
    expect(notModified.res.status).toBe(304);
    expect(notModified.h('cache-control')).toContain('immutable');
    const part = await get(url, { range: 'bytes=0-9' });
    expect(part.res.status).toBe(206);
    expect(part.body.length).toBe(10);
    const beyond = await get(url, { range: `bytes=${full.body.length}-` });
    expect(beyond.res.status).toBe(416);
    expect(beyond.h('content-range')).toBe(`bytes */${full.body.length}`);
  });
});

describe('transform signatures', () => {
  const options = 'w_100,h_100,fit_cover,f_webp';
  it.each([
    ['missing', () => `${stack.api}/img/${id}/${options}`],
    ['empty', () => `${stack.api}/img/${id}/${options}?sig=`],
    ['wrong', () => `${stack.api}/img/${id}/${options}?sig=${'A'.repeat(43)}`],
    [
      'made with another secret',
      () =>
        `${stack.api}/img/${id}/${options}?sig=${transformSignature('another-secret-0123456789', id, options)}`,
    ],
    [
      'of another option string',
      () =>
        `${stack.api}/img/${id}/w_101,h_100,fit_cover,f_webp?sig=${transformSignature(SECRET, id, options)}`,
    ],
    [
      'of another image',
      () => `${stack.api}/img/${id}/${options}?sig=${transformSignature(SECRET, otherId, options)}`,
    ],
    ['padded', () => `${stack.api}${signTransformPath(SECRET, id, options)}=`],
    ['given twice', () => `${stack.api}${signTransformPath(SECRET, id, options)}&sig=x`],
  ])('refuses a signature that is %s with 403 bad_signature', async (_what, url) => {
    const before = await counters();
    const res = await get(url());
    expect(res.res.status).toBe(403);
    expect(res.json()).toMatchObject({ error: { code: 'bad_signature' } });
    expect(res.h('cache-control')).not.toContain('immutable');
    expect((await counters()).renders).toBe(before.renders);
  });

  it('answers 403 for a forged URL before looking the image up', async () => {
    const res = await get(`${stack.api}/img/00000000-0000-4000-8000-000000000000/w_100`);
    expect(res.res.status).toBe(403);
  });

  it('serves the signed URL of the other image', async () => {
    expect((await get(signed(options, otherId))).res.status).toBe(200);
  });

  it('answers 404 for a well-signed transform of an unknown image', async () => {
    const res = await get(signed('w_100', '00000000-0000-4000-8000-000000000000'));
    expect(res.res.status).toBe(404);
    expect(res.h('cache-control')).not.toContain('immutable');
  });
});

describe('transform grammar and limits', () => {
  it.each([
    ['unknown key', 'w_100,x_1'],
    ['unknown fit', 'w_100,fit_stretch'],
    ['unknown format', 'w_100,f_gif'],
    ['duplicate key', 'w_100,w_200'],
    ['leading zero', 'w_0100'],
    ['zero width', 'w_0'],
    ['quality 0', 'w_100,q_0'],
    ['quality over 100', 'w_100,q_101'],
    ['empty token', 'w_100,,h_100'],
    ['missing value', 'w_'],
    ['width over the limit', 'w_2001'],
    ['height over the limit', 'h_1501'],
    ['pixels over the limit', 'w_1200,h_1000'],
    ['derived height over the limit', 'w_1999,fit_outside'],
    ['whole source over the pixel limit', 'f_webp'],
  ])('refuses %s with 400 invalid_transform', async (_what, options) => {
    const res = await get(signed(options));
    expect(res.res.status).toBe(400);
    expect(res.json()).toMatchObject({ error: { code: 'invalid_transform' } });
    expect(res.h('cache-control')).not.toContain('immutable');
  });
});

describe('deleting the image', () => {
  it('removes its transforms from storage too', async () => {
    expect((await get(signed('w_50', otherId))).res.status).toBe(200);
    expect((await listKeys(stack, `variants/${otherId}/t/`)).length).toBeGreaterThan(0);
    expect((await stack.call('DELETE', `/v1/images/${otherId}`, { as: 'tess' })).status).toBe(204);
    expect(await listKeys(stack, `variants/${otherId}/`)).toEqual([]);
    expect((await get(signed('w_50', otherId))).res.status).toBe(404);
  });
});
