import { xorshift } from '@darkroom/testdata';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApi, type TestApi } from '../helpers/api.ts';

// The API's request parsing under malformed and random bodies: a 4xx with the stable error shape
// `{error:{code,message}}`, never a 5xx, and the API still answers afterwards.

let t: TestApi;
let token: string;
let multipartId: string;

beforeAll(async () => {
  t = await startTestApi('sqlite', {
    DARKROOM_UPLOADS_PER_MINUTE: '100000',
    DARKROOM_MAX_PENDING_UPLOADS: '100000',
    DARKROOM_MULTIPART_THRESHOLD: String(5 * 2 ** 20),
    DARKROOM_MULTIPART_PART_SIZE: String(5 * 2 ** 20),
  });
  token = await t.token('fuzzer');
  const mp = await t.call('POST', '/v1/uploads', {
    as: 'fuzzer',
    body: { filename: 'big.jpg', contentType: 'image/jpeg', size: 11 * 2 ** 20 },
  });
  multipartId = (mp.json.image as { id: string }).id;
}, 30_000);
afterAll(() => t.stop());

async function send(
  method: string,
  path: string,
  body?: string | Uint8Array,
  contentType = 'application/json',
) {
  const res = await fetch(`${t.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, 'content-type': contentType },
    body: typeof body === 'string' || body === undefined ? body : new Uint8Array(body),
  });
  const text = await res.text();
  return { status: res.status, text };
}

/** A 4xx with the API's error shape. */
function expectRefused(res: { status: number; text: string }) {
  expect(res.status, res.text.slice(0, 300)).toBeGreaterThanOrEqual(400);
  expect(res.status, res.text.slice(0, 300)).toBeLessThan(500);
  const json = JSON.parse(res.text) as { error?: { code?: unknown; message?: unknown } };
  expect(typeof json.error?.code).toBe('string');
  expect(typeof json.error?.message).toBe('string');
}

describe('malformed bodies', () => {
  const valid = { filename: 'a.jpg', contentType: 'image/jpeg', size: 10 };
  it.each<[string, string | Uint8Array, string?]>([
    ['empty', ''],
    ['not JSON', 'filename=a.jpg'],
    ['truncated', '{"filename":"a.jpg",'],
    ['an array', '[]'],
    ['null', 'null'],
    ['deep nesting', `${'['.repeat(100_000)}${']'.repeat(100_000)}`],
    ['invalid UTF-8', new Uint8Array([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x3a, 0x31, 0x7d])],
    ['over the 1 MiB body limit', JSON.stringify({ ...valid, filename: 'a'.repeat(2 ** 21) })],
    ['a size of 1e308', JSON.stringify({ ...valid, size: 1e308 })],
    ['a size past 2^53', '{"filename":"a.jpg","contentType":"image/jpeg","size":9007199254740993}'],
    ['a negative size', JSON.stringify({ ...valid, size: -1 })],
    ['a fractional size', JSON.stringify({ ...valid, size: 1.5 })],
    ['a filename with control characters', JSON.stringify({ ...valid, filename: 'a\u0000b\nc.jpg' })],
    ['a 256-character filename', JSON.stringify({ ...valid, filename: 'a'.repeat(256) })],
    ['an unknown field', JSON.stringify({ ...valid, owner: 'someone-else' })],
    ['__proto__', '{"filename":"a.jpg","contentType":"image/jpeg","size":10,"__proto__":{"isAdmin":true}}'],
    [
      'a content type with parameters',
      JSON.stringify({ ...valid, contentType: 'image/jpeg; charset=utf-8' }),
    ],
    ['a bad sha256', JSON.stringify({ ...valid, sha256: '!'.repeat(64) })],
    ['a bad thumbhash', JSON.stringify({ ...valid, thumbhash: '<script>' })],
    ['an unknown method', JSON.stringify({ ...valid, method: 'ftp' })],
    ['an unknown visibility', JSON.stringify({ ...valid, visibility: 'everyone' })],
    ['form encoding', 'filename=a.jpg&size=10', 'application/x-www-form-urlencoded'],
    ['XML', '<upload/>', 'application/xml'],
  ])('POST /v1/uploads with %s → 4xx', async (_what, body, type) => {
    expectRefused(await send('POST', '/v1/uploads', body, type));
  });

  it.each<[string, unknown]>([
    ['101 part numbers', { partNumbers: Array.from({ length: 101 }, (_, i) => i + 1) }],
    ['part number 0', { partNumbers: [0] }],
    ['a part past the count', { partNumbers: [4] }],
    ['a huge part number', { partNumbers: [2 ** 53] }],
    ['no part numbers', {}],
  ])('POST /v1/uploads/{id}/parts with %s → 4xx', async (_what, body) => {
    expectRefused(await send('POST', `/v1/uploads/${multipartId}/parts`, JSON.stringify(body)));
  });

  it.each<[string, unknown]>([
    [
      '10001 parts',
      { parts: Array.from({ length: 10_001 }, (_, i) => ({ partNumber: i + 1, etag: '"x"' })) },
    ],
    ['a part without an etag', { parts: [{ partNumber: 1 }] }],
    ['an etag of 100 kB', { parts: [{ partNumber: 1, etag: 'e'.repeat(100_000) }] }],
    ['parts that were never uploaded', { parts: [{ partNumber: 1, etag: '"0"' }] }],
  ])('POST /v1/uploads/{id}/complete with %s → 4xx', async (_what, body) => {
    expectRefused(await send('POST', `/v1/uploads/${multipartId}/complete`, JSON.stringify(body)));
  });

  it.each([
    '/v1/images/not-a-uuid',
    '/v1/images/..%2f..%2fetc%2fpasswd',
    '/v1/images/%00',
    `/v1/images/${'a'.repeat(5000)}`,
    '/v1/images/%ff%fe',
    '/v1/uploads/%e0%a4%a/parts',
    `/img/${'a'.repeat(500)}/thumb`,
    '/img/%ff/thumb',
    '/v1/images?limit=-1',
    '/v1/images?limit=1e9',
    '/v1/images?cursor=%ff%fe',
    '/v1/images?cursor=eyJfX3Byb3RvX18iOnt9fQ',
    `/v1/images?cursor=${'A'.repeat(10_000)}`,
  ])('GET %s → 4xx', async (p) => {
    expectRefused(await send('GET', p));
  });
});

describe('seeded random intent bodies', () => {
  it('400 random JSON bodies: never a 5xx, and the API still answers', async () => {
    const r = xorshift(0x0a11_2026).random;
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
    const scalars = [
      null,
      true,
      0,
      -1,
      1,
      10,
      1e308,
      2 ** 53,
      1.5,
      '',
      'a.jpg',
      'image/jpeg',
      'image/svg+xml',
      'put',
      'post',
      'multipart',
      'private',
      '\u0000',
      '../..',
      'x'.repeat(300),
    ];
    const keys = [
      'filename',
      'contentType',
      'size',
      'sha256',
      'thumbhash',
      'visibility',
      'method',
      'partNumbers',
      'parts',
      '__proto__',
      'constructor',
    ];
    const value = (d: number): unknown => {
      const k = r();
      if (d > 2 || k < 0.7) return pick(scalars);
      if (k < 0.85) return Array.from({ length: Math.floor(r() * 4) }, () => value(d + 1));
      return Object.fromEntries(
        Array.from({ length: Math.floor(r() * 4) }, () => [pick(keys), value(d + 1)]),
      );
    };
    const statuses: Record<number, number> = {};
    for (let i = 0; i < 400; i++) {
      const path = pick([
        '/v1/uploads',
        `/v1/uploads/${multipartId}/parts`,
        `/v1/uploads/${multipartId}/complete`,
      ]);
      // Start from a valid body for the route and break one to three fields, so most cases reach the handlers.
      const body: Record<string, unknown> =
        path === '/v1/uploads'
          ? { filename: 'a.jpg', contentType: 'image/jpeg', size: 10 }
          : path.endsWith('/parts')
            ? { partNumbers: [1] }
            : { parts: [{ partNumber: 1, etag: '"x"' }] };
      for (let k = 1 + Math.floor(r() * 3); k > 0; k--) {
        if (r() < 0.2) delete body[pick(Object.keys(body))!];
        else body[pick(keys)] = value(0);
      }
      const res = await send('POST', path, JSON.stringify(body));
      statuses[res.status] = (statuses[res.status] ?? 0) + 1;
      if (res.status >= 500)
        throw new Error(
          `case ${i}: POST ${path} ${JSON.stringify(body).slice(0, 300)} → ${res.status} ${res.text.slice(0, 300)}`,
        );
    }
    console.info(`api random bodies: ${JSON.stringify(statuses)}`);
    expect((await t.call('GET', '/healthz')).status).toBe(200);
  }, 60_000);
});
