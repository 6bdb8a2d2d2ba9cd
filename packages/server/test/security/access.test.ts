import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { HeadObjectCommand } from '@aws-sdk/client-s3';
import { TEST_KEY } from '@darkroom/s3-server/test-support';
import { exportJWK, exportSPKI, generateKeyPair, SignJWT } from 'jose';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mintToken } from '../../src/api/auth/jwt.ts';
import { signTransformPath, transformSignature } from '../../src/delivery/transform-signature.ts';
import { runApiRole } from '../../src/roles/api.ts';
import { JWT_SECRET, startTestApi, type TestApi } from '../helpers/api.ts';
import { startTestStack, TESTDATA, type TestStack } from '../helpers/stack.ts';

// The abuse and access matrix: who may do what to whose image, which tokens are refused, what a presigned
// URL still allows once issued, and whether limits and signatures hold when someone pushes on them.

const PHOTO = path.join(TESTDATA, 'orientation/Landscape_1.jpg');
const TRANSFORM_SECRET = 'access-matrix-transform-secret-0123';
const QUOTA = 20_000_000;

type Json = Record<string, unknown>;
const code = (json: Json) => (json.error as { code?: string } | undefined)?.code;

let stack: TestStack;
/** Bob's images: a ready private one, and a pending multipart one. */
let bobReady: string;
let bobPending: string;
let bobUploadId: string;
let aliceReady: string;
/** A public image, for transforms (a private one needs a CloudFront signature on top). */
let alicePublic: string;

async function intent(as: string, body: Json) {
  return stack.call('POST', '/v1/uploads', { as, body });
}

beforeAll(async () => {
  stack = await startTestStack({
    DARKROOM_TRANSFORM_SECRET: TRANSFORM_SECRET,
    DARKROOM_UPLOADS_PER_MINUTE: '10',
    DARKROOM_QUOTA_BYTES: String(QUOTA),
    DARKROOM_MULTIPART_THRESHOLD: String(5 * 2 ** 20),
    DARKROOM_MULTIPART_PART_SIZE: String(5 * 2 ** 20),
  });
  const bytes = fs.readFileSync(PHOTO);
  const up = async (as: string, visibility = 'private') => {
    const res = await intent(as, {
      filename: 'secret-name.jpg',
      contentType: 'image/jpeg',
      size: bytes.length,
      visibility,
    });
    const { image, upload } = res.json as {
      image: { id: string };
      upload: { url: string; headers: Record<string, string> };
    };
    expect(
      (await fetch(upload.url, { method: 'PUT', body: new Uint8Array(bytes), headers: upload.headers }))
        .status,
    ).toBe(200);
    return image.id;
  };
  [bobReady, aliceReady, alicePublic] = await Promise.all([up('bob'), up('alice'), up('alice', 'public')]);
  const mp = await intent('bob', { filename: 'big.jpg', contentType: 'image/jpeg', size: 11 * 2 ** 20 });
  expect(mp.status).toBe(201);
  bobPending = (mp.json.image as { id: string }).id;
  bobUploadId = (mp.json.upload as { uploadId: string }).uploadId;
  for (const [as, id] of [
    ['bob', bobReady],
    ['alice', aliceReady],
    ['alice', alicePublic],
  ] as const) {
    expect((await stack.waitSettled(as, id)).status).toBe('ready');
  }
}, 90_000);
afterAll(() => stack.stop());

describe("owner A against owner B's images: 404, never 403, never data", () => {
  const routes: [string, string, (id: string) => string, Json | undefined][] = [
    ['read', 'GET', (id) => `/v1/images/${id}`, undefined],
    ['delete', 'DELETE', (id) => `/v1/images/${id}`, undefined],
    ['presign parts for', 'POST', (id) => `/v1/uploads/${id}/parts`, { partNumbers: [1, 2] }],
    ['complete', 'POST', (id) => `/v1/uploads/${id}/complete`, { parts: [{ partNumber: 1, etag: '"x"' }] }],
    ['abort', 'DELETE', (id) => `/v1/uploads/${id}`, undefined],
  ];
  const targets = [
    ['ready', () => bobReady],
    ['pending multipart', () => bobPending],
  ] as const;
  for (const [verb, method, url, body] of routes) {
    for (const [state, target] of targets) {
      it(`cannot ${verb} a ${state} image of another owner`, async () => {
        const res = await stack.call(method, url(target()), { as: 'alice', ...(body ? { body } : {}) });
        // The same answer as for an id that never existed, so ids cannot even be probed.
        const unknown = await stack.call(method, url(crypto.randomUUID()), {
          as: 'alice',
          ...(body ? { body } : {}),
        });
        expect([res.status, code(res.json)]).toEqual([404, 'not_found']);
        expect([unknown.status, code(unknown.json)]).toEqual([404, 'not_found']);
        const text = JSON.stringify(res.json);
        for (const secret of ['secret-name', 'bob', bobUploadId, 'variants', 'X-Amz-Signature']) {
          expect(text).not.toContain(secret);
        }
      });
    }
  }

  it('cannot list them, under any cursor or limit', async () => {
    const mine = await stack.call('GET', '/v1/images?limit=100', { as: 'alice' });
    expect((mine.json.images as { id: string }[]).map((i) => i.id).sort()).toEqual(
      [aliceReady, alicePublic].sort(),
    );
    // Bob's cursor handed to Alice pages over Alice's images only.
    const bobs = await stack.call('GET', '/v1/images?limit=1', { as: 'bob' });
    const cursor = bobs.json.nextCursor as string;
    expect(cursor).toBeTruthy();
    const borrowed = await stack.call('GET', `/v1/images?limit=100&cursor=${encodeURIComponent(cursor)}`, {
      as: 'alice',
    });
    expect(
      (borrowed.json.images as { id: string }[] | undefined)?.some(
        (i) => i.id !== aliceReady && i.id !== alicePublic,
      ) ?? false,
    ).toBe(false);
  });

  it('cannot see them in the event stream, even resuming from the first event', async () => {
    const token = await mintToken(JWT_SECRET, { sub: 'alice', ttlSeconds: 600 });
    const abort = new AbortController();
    const res = await fetch(`${stack.api}/v1/events?lastEventId=0`, {
      headers: { authorization: `Bearer ${token}` },
      signal: abort.signal,
    });
    expect(res.status).toBe(200);
    const reader = res.body!.getReader();
    let text = '';
    // Alice's history ends with her images' `ready`; read until both are there (or give up after 5 s).
    const timer = setTimeout(() => abort.abort(), 5000);
    try {
      while (!(text.includes(aliceReady) && text.includes(alicePublic) && text.includes('"ready"'))) {
        const { value, done } = await reader.read();
        if (done) break;
        text += Buffer.from(value).toString();
      }
    } catch {
      // Aborted by the timer: the assertions below say what was missing.
    } finally {
      clearTimeout(timer);
    }
    abort.abort();
    expect(text).toContain(aliceReady);
    expect(text).not.toContain(bobReady);
    expect(text).not.toContain(bobPending);
  });

  it('a token in the query string works for the event stream only', async () => {
    const token = await mintToken(JWT_SECRET, { sub: 'alice', ttlSeconds: 600 });
    for (const p of ['/v1/images', `/v1/images/${aliceReady}`]) {
      const res = await fetch(`${stack.api}${p}?access_token=${token}`);
      expect([res.status, code((await res.json()) as Json)]).toEqual([401, 'unauthorized']);
    }
  });

  it("left Bob's images exactly as they were", async () => {
    expect((await stack.call('GET', `/v1/images/${bobReady}`, { as: 'bob' })).json.status).toBe('ready');
    expect((await stack.call('GET', `/v1/images/${bobPending}`, { as: 'bob' })).json.status).toBe('pending');
    const parts = await stack.call('POST', `/v1/uploads/${bobPending}/parts`, {
      as: 'bob',
      body: { partNumbers: [1] },
    });
    expect(parts.status).toBe(200);
  });
});

describe('private images need a valid signed URL', () => {
  const signedThumb = async (as: string, id: string) => {
    const img = await stack.call('GET', `/v1/images/${id}`, { as });
    const url = new URL((img.json.variants as Record<string, { url: string }>).thumb!.url);
    return `${stack.api}${url.pathname}${url.search}`;
  };

  it.each([
    ['no signature', async () => `${stack.api}/img/${bobReady}/thumb`],
    [
      "Alice's signature on Bob's path",
      async () => (await signedThumb('alice', aliceReady)).replace(aliceReady, bobReady),
    ],
    [
      'a signature for another variant',
      async () => (await signedThumb('bob', bobReady)).replace('/thumb?', '/large?'),
    ],
    [
      'a later Expires than signed',
      async () => (await signedThumb('bob', bobReady)).replace(/Expires=\d+/, 'Expires=4102444800'),
    ],
  ])('refuses %s with 403 bad_signature, never cacheable', async (_what, make) => {
    const res = await fetch(await make());
    expect(res.status).toBe(403);
    expect(((await res.json()) as Json).error).toMatchObject({ code: 'bad_signature' });
    expect(res.headers.get('cache-control')).toBe('private, no-store');
  });

  it("serves Bob's own signed URL", async () => {
    const res = await fetch(await signedThumb('bob', bobReady));
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^image\//);
  });
});

describe('transform signatures cannot be forged into unbounded renders', () => {
  it.each([
    ['unsigned', () => `${stack.api}/img/${alicePublic}/w_4000`],
    [
      'signed with the development secret',
      () =>
        `${stack.api}/img/${alicePublic}/w_4000?sig=${transformSignature('darkroom-development-transform-secret-change-me', alicePublic, 'w_4000')}`,
    ],
    [
      'a small signed size reused for a big one',
      () =>
        `${stack.api}/img/${alicePublic}/w_4000?sig=${transformSignature(TRANSFORM_SECRET, alicePublic, 'w_40')}`,
    ],
  ])('%s → 403 bad_signature', async (_what, make) => {
    const res = await fetch(make());
    expect(res.status).toBe(403);
    expect(((await res.json()) as Json).error).toMatchObject({ code: 'bad_signature' });
  });

  it('a correctly signed transform within the limits renders', async () => {
    const res = await fetch(`${stack.api}${signTransformPath(TRANSFORM_SECRET, alicePublic, 'w_40')}`);
    expect(res.status).toBe(200);
  });

  it.each([
    'w_99999',
    'w_4097',
    'h_100000',
    'w_4096,h_4096,fit_fill,q_100x',
    'w_1e9',
    'w_-1',
    'w_4096,h_4097',
  ])(
    'even correctly signed, %s is refused 400 invalid_transform (bounded by DARKROOM_TRANSFORM_MAX_*)',
    async (options) => {
      const res = await fetch(`${stack.api}${signTransformPath(TRANSFORM_SECRET, alicePublic, options)}`);
      expect(res.status).toBe(400);
      expect(((await res.json()) as Json).error).toMatchObject({ code: 'invalid_transform' });
    },
  );
});

describe('a presigned PUT URL is good for its key, method, type and length only', () => {
  let url: string;
  let headers: Record<string, string>;
  let body: Buffer;

  beforeAll(async () => {
    body = crypto.randomBytes(1000);
    const res = await intent('carol', { filename: 'a.png', contentType: 'image/png', size: body.length });
    ({ url, headers } = res.json.upload as { url: string; headers: Record<string, string> });
  });

  const s3Code = async (res: Response) => /<Code>([^<]+)<\/Code>/.exec(await res.text())?.[1];
  const otherKey = () => url.replace(/uploads\/[0-9a-f-]{36}/, `uploads/${crypto.randomUUID()}`);

  it.each<[string, () => Promise<Response>, number, string]>([
    [
      'another key',
      () => fetch(otherKey(), { method: 'PUT', body: new Uint8Array(body), headers }),
      403,
      'SignatureDoesNotMatch',
    ],
    [
      'another key by traversal',
      () =>
        fetch(url.replace(/uploads\/[0-9a-f-]{36}/, 'uploads/x/../../evil'), {
          method: 'PUT',
          body: new Uint8Array(body),
          headers,
        }),
      403,
      'SignatureDoesNotMatch',
    ],
    ['GET', () => fetch(url, { headers }), 403, 'SignatureDoesNotMatch'],
    ['DELETE', () => fetch(url, { method: 'DELETE', headers }), 403, 'SignatureDoesNotMatch'],
    [
      'POST',
      () => fetch(url, { method: 'POST', body: new Uint8Array(body), headers }),
      403,
      'SignatureDoesNotMatch',
    ],
    [
      'another content type',
      () =>
        fetch(url, {
          method: 'PUT',
          body: new Uint8Array(body),
          headers: { ...headers, 'content-type': 'text/html' },
        }),
      403,
      'SignatureDoesNotMatch',
    ],
    [
      'a shorter body',
      () => fetch(url, { method: 'PUT', body: new Uint8Array(body.subarray(1)), headers }),
      403,
      'SignatureDoesNotMatch',
    ],
    [
      'a longer body',
      () => fetch(url, { method: 'PUT', body: new Uint8Array(Buffer.concat([body, body])), headers }),
      403,
      'SignatureDoesNotMatch',
    ],
    [
      'a longer expiry',
      () =>
        fetch(url.replace(/X-Amz-Expires=\d+/, 'X-Amz-Expires=604800'), {
          method: 'PUT',
          body: new Uint8Array(body),
          headers,
        }),
      403,
      'SignatureDoesNotMatch',
    ],
  ])('refuses %s', async (_what, send, status, s3) => {
    const res = await send();
    expect([res.status, await s3Code(res)]).toEqual([status, s3]);
  });

  it('stored nothing for the refused requests, and still works as issued', async () => {
    const { S3Client } = await import('@aws-sdk/client-s3');
    const s3 = new S3Client({
      endpoint: stack.s3,
      region: 'us-east-1',
      forcePathStyle: true,
      credentials: TEST_KEY,
    });
    try {
      const key = new URL(url).pathname.split('/').slice(2).join('/');
      await expect(
        s3.send(new HeadObjectCommand({ Bucket: stack.config.s3.bucket, Key: key })),
      ).rejects.toMatchObject({
        name: 'NotFound',
      });
      const ok = await fetch(url, { method: 'PUT', body: new Uint8Array(body), headers });
      expect(ok.status).toBe(200);
      const head = await s3.send(new HeadObjectCommand({ Bucket: stack.config.s3.bucket, Key: key }));
      expect([head.ContentLength, head.ContentType]).toEqual([body.length, 'image/png']);
    } finally {
      s3.destroy();
    }
  });
});

describe('a presigned part URL is good for its upload, part number and length only', () => {
  const PART = 5 * 2 ** 20;
  let url: string;
  let part: Buffer;

  beforeAll(async () => {
    const res = await stack.call('POST', `/v1/uploads/${bobPending}/parts`, {
      as: 'bob',
      body: { partNumbers: [1] },
    });
    url = (res.json.parts as { url: string }[])[0]!.url;
    part = Buffer.alloc(PART, 1);
  });

  const put = (u: string, body: Buffer) => fetch(u, { method: 'PUT', body: new Uint8Array(body) });
  const s3Code = async (res: Response) => /<Code>([^<]+)<\/Code>/.exec(await res.text())?.[1];

  it.each<[string, () => Promise<Response>]>([
    ['another part number', () => put(url.replace(/partNumber=1(?!\d)/, 'partNumber=2'), part)],
    ['another upload id', () => put(url.replace(/uploadId=[^&]+/, 'uploadId=forged'), part)],
    ['another key', () => put(url.replace(/uploads\/[0-9a-f-]{36}/, `uploads/${aliceReady}`), part)],
    ['a shorter part', () => put(url, part.subarray(1))],
  ])('refuses %s with 403', async (_what, send) => {
    const res = await send();
    expect([res.status, await s3Code(res)]).toEqual([403, 'SignatureDoesNotMatch']);
  });

  it('accepts the part as signed', async () => {
    expect((await put(url, part)).status).toBe(200);
  });
});

describe('per-owner limits hold under concurrency', () => {
  it('50 parallel intents at DARKROOM_UPLOADS_PER_MINUTE=10: exactly 10 × 201, 40 × 429 rate_limited', async () => {
    const all = await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        intent('dave', { filename: `${i}.jpg`, contentType: 'image/jpeg', size: 10 }),
      ),
    );
    const byStatus = all.reduce<Record<string, number>>((acc, r) => {
      const k = `${r.status} ${code(r.json) ?? ''}`.trim();
      acc[k] = (acc[k] ?? 0) + 1;
      return acc;
    }, {});
    expect(byStatus).toEqual({ '201': 10, '429 rate_limited': 40 });
  });

  it(`50 parallel intents of 3 MB against a ${QUOTA}-byte quota: exactly 6 × 201, the rest quota_exceeded`, async () => {
    const all = await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        intent('erin', { filename: `${i}.jpg`, contentType: 'image/jpeg', size: 3_000_000 }),
      ),
    );
    expect(all.filter((r) => r.status === 201)).toHaveLength(6);
    expect(all.filter((r) => r.status === 429).map((r) => code(r.json))).toEqual(
      Array(44).fill('quota_exceeded'),
    );
  });

  it.each(['sqlite', 'postgres'] as const)(
    'across two API instances (own connections) sharing one %s database: still exactly 10 × 201',
    async (kind) => {
      const first = await startTestApi(kind, { DARKROOM_UPLOADS_PER_MINUTE: '10' });
      // A second API instance over the same database and storage, as when scaled out behind a balancer.
      const second = await runApiRole(first.config, pino({ level: 'silent' }));
      try {
        const token = await first.token('frank');
        const all = await Promise.all(
          Array.from({ length: 50 }, (_, i) =>
            fetch(`${i % 2 ? first.url : second.url}/v1/uploads`, {
              method: 'POST',
              headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
              body: JSON.stringify({ filename: `${i}.jpg`, contentType: 'image/jpeg', size: 10 }),
            }),
          ),
        );
        const statuses = all.map((r) => r.status).sort();
        expect(statuses.filter((st) => st === 201)).toHaveLength(10);
        expect(statuses.filter((st) => st === 429)).toHaveLength(40);
      } finally {
        await second.close(500);
        await first.stop();
      }
    },
    30_000,
  );
});

describe('tokens: a JWKS-configured API with issuer and audience', () => {
  const ISS = 'https://idp.example.com/';
  const AUD = 'darkroom-api';
  let api: TestApi;
  let jwks: http.Server;
  let privateKey: CryptoKey;
  let publicPem: string;
  let publicJwk: Json;

  beforeAll(async () => {
    const pair = await generateKeyPair('RS256', { extractable: true });
    privateKey = pair.privateKey as CryptoKey;
    publicPem = await exportSPKI(pair.publicKey);
    publicJwk = { ...(await exportJWK(pair.publicKey)), kid: 'k1', alg: 'RS256', use: 'sig' };
    jwks = http.createServer((_req, res) => {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ keys: [publicJwk] }));
    });
    await new Promise<void>((resolve) => jwks.listen(0, '127.0.0.1', resolve));
    api = await startTestApi('sqlite', {
      // undefined removes the helper's HS256 secret, so only the JWKS verifies (cast: the env type is string-only).
      DARKROOM_JWT_SECRET: undefined as unknown as string,
      DARKROOM_JWT_JWKS_URL: `http://127.0.0.1:${(jwks.address() as AddressInfo).port}/jwks.json`,
      DARKROOM_JWT_ISSUER: ISS,
      DARKROOM_JWT_AUDIENCE: AUD,
    });
    expect(api.config.jwt.secret).toBeUndefined();
  }, 30_000);
  afterAll(async () => {
    await api.stop();
    await new Promise((r) => jwks.close(r));
  });

  const now = () => Math.floor(Date.now() / 1000);
  const claims = (over: Json = {}) => ({
    sub: 'gina',
    iss: ISS,
    aud: AUD,
    iat: now(),
    exp: now() + 600,
    ...over,
  });
  const rs = (over: Json = {}, header: Json = {}) =>
    new SignJWT(claims(over)).setProtectedHeader({ alg: 'RS256', kid: 'k1', ...header }).sign(privateKey);
  const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
  const hs = (secret: Uint8Array | string) =>
    new SignJWT(claims())
      .setProtectedHeader({ alg: 'HS256', kid: 'k1' })
      .sign(typeof secret === 'string' ? new TextEncoder().encode(secret) : secret);

  it('accepts a well-formed RS256 token', async () => {
    const res = await api.call('GET', '/v1/images', { headers: { authorization: `Bearer ${await rs()}` } });
    expect(res.status).toBe(200);
  });

  it.each<[string, string, () => Promise<string>]>([
    ['alg none', 'invalid_token', async () => `${b64({ alg: 'none', typ: 'JWT' })}.${b64(claims())}.`],
    [
      'alg none with a signature',
      'invalid_token',
      async () => `${b64({ alg: 'none' })}.${b64(claims())}.${(await rs()).split('.')[2]}`,
    ],
    ['HS256 keyed with the RS public key (PEM)', 'invalid_token', () => hs(publicPem)],
    ['HS256 keyed with the RS public key (JWK JSON)', 'invalid_token', () => hs(JSON.stringify(publicJwk))],
    [
      'HS256 keyed with the RS modulus',
      'invalid_token',
      () => hs(Buffer.from(String(publicJwk.n), 'base64url')),
    ],
    [
      'HS256 with the dev secret',
      'invalid_token',
      () => mintToken(JWT_SECRET, { sub: 'gina', ttlSeconds: 600, issuer: ISS, audience: AUD }),
    ],
    ['a wrong audience', 'invalid_token', () => rs({ aud: 'another-api' })],
    ['no audience', 'invalid_token', () => rs({ aud: undefined })],
    ['a wrong issuer', 'invalid_token', () => rs({ iss: 'https://evil.example.com/' })],
    ['an unknown kid', 'invalid_token', () => rs({}, { kid: 'k2' })],
    [
      'a payload changed after signing',
      'invalid_token',
      async () => {
        const [h, , s] = (await rs()).split('.');
        return `${h}.${b64(claims({ sub: 'root' }))}.${s}`;
      },
    ],
    ['an expired token', 'token_expired', () => rs({ exp: now() - 3600, iat: now() - 7200 })],
    ['a token without exp', 'invalid_token', () => rs({ exp: undefined })],
  ])('refuses %s with 401 %s', async (_what, expected, make) => {
    const res = await api.call('GET', '/v1/images', { headers: { authorization: `Bearer ${await make()}` } });
    expect([res.status, code(res.json)]).toEqual([401, expected]);
  });
});
