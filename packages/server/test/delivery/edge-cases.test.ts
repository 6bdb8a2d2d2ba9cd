import crypto from 'node:crypto';
import path from 'node:path';
import { getSignedUrl } from '@aws-sdk/cloudfront-signer';
import { CASE_CONFIG, EDGE_CASES, materialise } from '@darkroom/edge/cases';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestStack, TESTDATA, type TestStack } from '../helpers/stack.ts';
import { headKey } from './support.ts';

// The local delivery route against the same table of cases the CloudFront Function is held to
// (packages/edge, packages/infra): every URL reaches the key the edge would, or the same refusal.

const KEY_PAIR_ID = 'K1EDGECASETABLE';
const privatePem = crypto
  .generateKeyPairSync('rsa', { modulusLength: 2048 })
  .privateKey.export({ type: 'pkcs8', format: 'pem' })
  .toString();
let stack: TestStack;
const ids = { id: '', pid: '' };

beforeAll(async () => {
  stack = await startTestStack({
    DARKROOM_VARIANTS: CASE_CONFIG.variantsText,
    DARKROOM_TRANSFORM_SECRET: CASE_CONFIG.transformSecret,
    DARKROOM_PRIVATE_PATH: CASE_CONFIG.privatePath,
    DARKROOM_CLOUDFRONT_KEY_PAIR_ID: KEY_PAIR_ID,
    DARKROOM_CLOUDFRONT_PRIVATE_KEY: privatePem,
  });
  const photo = path.join(TESTDATA, 'orientation/Landscape_1.jpg');
  ids.id = await stack.upload('eda', photo, 'image/jpeg');
  const intent = await stack.call('POST', '/v1/uploads', {
    as: 'eda',
    body: {
      filename: 'p.jpg',
      contentType: 'image/jpeg',
      size: (await import('node:fs')).statSync(photo).size,
      visibility: 'private',
    },
  });
  const { image, upload } = intent.json as {
    image: { id: string };
    upload: { url: string; headers: Record<string, string> };
  };
  const bytes = (await import('node:fs')).readFileSync(photo);
  expect(
    (await fetch(upload.url, { method: 'PUT', body: new Uint8Array(bytes), headers: upload.headers })).status,
  ).toBe(200);
  ids.pid = image.id;
  for (const id of [ids.id, ids.pid]) expect((await stack.waitSettled('eda', id)).status).toBe('ready');
}, 120_000);
afterAll(() => stack?.stop());

describe('the local delivery route against the edge case table', () => {
  const signCloudFront = (url: string, expires: number) =>
    getSignedUrl({
      url,
      keyPairId: KEY_PAIR_ID,
      privateKey: privatePem,
      dateLessThan: new Date(expires * 1000).toISOString(),
    });

  it.each(EDGE_CASES.map((c) => [c.name, c] as const))('%s', async (_name, c) => {
    const { url, accept, expect: want } = materialise(c, { ids, base: stack.api, signCloudFront });
    const res = await fetch(url, { headers: accept === undefined ? {} : { accept } });
    const body = Buffer.from(await res.arrayBuffer());
    // Asked again, a served object is now held in memory, which the lean path answers without the
    // router: every case must get the very same answer, headers and bytes, whichever path answers it.
    const again = await fetch(url, { headers: accept === undefined ? {} : { accept } });
    // A signed URL's answer may be kept while the URL lasts: max-age counts down between the two requests.
    const headers = (r: Response) =>
      [...r.headers]
        .filter(([name]) => name !== 'date')
        .map(([name, value]) => [name, value.replace(/^private, max-age=\d+$/, 'private, max-age=…')]);
    expect({ status: again.status, headers: headers(again) }).toEqual({
      status: res.status,
      headers: headers(res),
    });
    expect(Buffer.from(await again.arrayBuffer()).equals(body)).toBe(true);
    const refusal = 'key' in want ? want.origin : want;
    if (refusal) {
      expect({ status: res.status, code: JSON.parse(body.toString()).error.code }).toEqual({
        status: refusal.status,
        code: refusal.code,
      });
      expect(res.headers.get('cache-control')).toBe(
        refusal.status === 403 ? 'private, no-store' : 'private, max-age=60',
      );
      return;
    }
    if (!('key' in want)) throw new Error('unreachable');
    expect(res.status, body.toString().slice(0, 200)).toBe(200);
    // The bytes are that key's object: made on the first request when storage lacked it, stored, served.
    const stored = await headKey(stack, want.key);
    expect(stored, want.key).toBeDefined();
    expect(res.headers.get('etag')).toBe(stored!.etag);
    expect(res.headers.get('content-type')).toBe(stored!.contentType);
    expect(Number(res.headers.get('content-length'))).toBe(body.length);
  });
});
