import path from 'node:path';
import { xorshift } from '@darkroom/testdata';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signTransformPath } from '../../src/delivery/transform-signature.ts';
import { startTestStack, TESTDATA, type TestStack } from '../helpers/stack.ts';

// The delivery routes (`/img/{id}/{variant}` and signed transforms) under seeded random requests:
// random ids, variant names, transform options, signatures, CloudFront query parameters and
// conditional/range/Accept headers. Never a 5xx; images are only ever served as images.

const SECRET = 'delivery-fuzz-transform-secret-0123';
let stack: TestStack;
let publicId: string;
let privateId: string;

beforeAll(async () => {
  stack = await startTestStack({ DARKROOM_TRANSFORM_SECRET: SECRET });
  const photo = path.join(TESTDATA, 'orientation/Landscape_1.jpg');
  publicId = await stack.upload('dora', photo, 'image/jpeg');
  const { call } = stack;
  const fs = await import('node:fs');
  const bytes = fs.readFileSync(photo);
  const intent = await call('POST', '/v1/uploads', {
    as: 'dora',
    body: { filename: 'p.jpg', contentType: 'image/jpeg', size: bytes.length, visibility: 'private' },
  });
  const { image, upload } = intent.json as {
    image: { id: string };
    upload: { url: string; headers: Record<string, string> };
  };
  await fetch(upload.url, { method: 'PUT', body: new Uint8Array(bytes), headers: upload.headers });
  privateId = image.id;
  for (const id of [publicId, privateId]) expect((await stack.waitSettled('dora', id)).status).toBe('ready');
}, 60_000);
afterAll(() => stack.stop());

describe('delivery under seeded random requests', () => {
  it('600 requests: never a 5xx; every 200/206 is an image; private bytes only with a valid signature', async () => {
    const r = xorshift(0xde11_2026).random;
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
    const ids = () => [
      publicId,
      privateId,
      '00000000-0000-4000-8000-000000000000',
      'not-a-uuid',
      '..',
      '%2e%2e',
      `${publicId}%00`,
      publicId.toUpperCase(),
    ];
    const variants = [
      'thumb',
      'medium',
      'large',
      'original',
      '..%2f..%2fetc%2fpasswd',
      'thumb.webp',
      'THUMB',
      '',
      '%ff',
      'w_100',
      'w_0',
      'w_99999',
      'w_100,h_100,fit_cover',
      'f_avif,q_1',
      'w_4096,h_4096,fit_fill',
      'q_50',
      'fit_x',
      'w_1,w_2',
    ];
    const sigs = () => ['', 'x', 'A'.repeat(43), '%ff', undefined];
    const headerValues = {
      range: ['bytes=0-10', 'bytes=-5', 'bytes=999999999-', 'bytes=abc', 'bytes=0-0,2-3', 'items=1-2'],
      'if-none-match': ['*', '"x"', 'W/"x"', `"${'a'.repeat(1000)}"`],
      'if-modified-since': ['Thu, 01 Jan 1970 00:00:00 GMT', 'garbage', 'Fri, 31 Dec 9999 23:59:59 GMT'],
      accept: [
        'image/avif,image/webp',
        '*/*',
        'text/html',
        'image/*;q=0',
        'image/webp;q=abc',
        'x'.repeat(2000),
      ],
    } as const;
    const statuses: Record<number, number> = {};
    for (let i = 0; i < 600; i++) {
      const id = pick(ids());
      const variant = pick(variants);
      let url = `${stack.api}/img/${id}/${variant}`;
      const q: string[] = [];
      const sig = pick(sigs());
      if (sig !== undefined) q.push(`sig=${sig}`);
      // Sometimes a correctly signed transform, so requests get past the signature into the renderer.
      if (variant.includes('_') && r() < 0.4) url = `${stack.api}${signTransformPath(SECRET, id, variant)}`;
      if (r() < 0.3)
        q.push(
          `Expires=${pick(['0', '-1', '99999999999', 'x', '1e10'])}`,
          `Signature=${pick(['', 'abc~', '%00'])}`,
          `Key-Pair-Id=${pick(['darkroom-dev', '', '../x'])}`,
        );
      if (q.length) url += (url.includes('?') ? '&' : '?') + q.join('&');
      const headers: Record<string, string> = {};
      for (const [name, values] of Object.entries(headerValues)) if (r() < 0.3) headers[name] = pick(values);
      const method = pick(['GET', 'GET', 'HEAD']);
      const res = await fetch(url, { method, headers });
      const body = Buffer.from(await res.arrayBuffer());
      statuses[res.status] = (statuses[res.status] ?? 0) + 1;
      const where = `case ${i}: ${method} ${url.slice(stack.api.length)} ${JSON.stringify(headers).slice(0, 200)} → ${res.status}`;
      if (res.status >= 500) throw new Error(`${where} ${body.toString().slice(0, 300)}`);
      // fetch resolves dot segments (`/img/../x` is `/x`, the web app); only /img answers are checked here.
      const delivered = new URL(res.url).pathname.startsWith('/img/');
      if (delivered && (res.status === 200 || res.status === 206)) {
        expect(res.headers.get('content-type'), where).toMatch(/^image\/(webp|avif|jpeg|png)$/);
        expect(res.headers.get('x-content-type-options'), where).toBe('nosniff');
        // A private image's bytes need a valid CloudFront signature, which this generator never makes.
        expect(id === privateId, where).toBe(false);
      }
    }
    console.info(`delivery random requests: ${JSON.stringify(statuses)}`);
    expect((await fetch(`${stack.api}/img/${publicId}/thumb`)).status).toBe(200);
  }, 90_000);
});
