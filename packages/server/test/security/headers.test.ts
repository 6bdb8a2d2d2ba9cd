import { GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { API_CSP, DOCS_CSP } from '../../src/api/security-headers.ts';
import { startTestApi, type TestApi } from '../helpers/api.ts';

// Security headers on everything the API process serves, CORS only for DARKROOM_CORS_ORIGINS.

const APP = 'https://app.example.com';
const EVIL = 'https://evil.example.net';
let t: TestApi;

beforeAll(async () => {
  t = await startTestApi('sqlite', { DARKROOM_CORS_ORIGINS: `${APP},https://admin.example.com` });
}, 30_000);
afterAll(() => t.stop());

const get = (p: string, headers: Record<string, string> = {}, method = 'GET') =>
  fetch(`${t.url}${p}`, { method, headers, redirect: 'manual' });

describe('every API response', () => {
  it.each([
    ['health', '/healthz', 200],
    ['OpenAPI document', '/openapi.json', 200],
    ['unauthenticated', '/v1/images', 401],
    ['unknown route', '/v1/nope', 404],
    ['unknown image (delivery)', '/img/00000000-0000-4000-8000-000000000000/thumb', 404],
  ])('%s: nosniff, no referrer, a CSP that loads nothing and cannot be framed', async (_what, p, status) => {
    const res = await get(p);
    expect(res.status).toBe(status);
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(res.headers.get('referrer-policy')).toBe('no-referrer');
    expect(res.headers.get('content-security-policy')).toBe(API_CSP);
    expect(API_CSP).toContain("default-src 'none'");
    expect(API_CSP).toContain("frame-ancestors 'none'");
  });

  it('the web app at /: nosniff and its own CSP (self-only scripts, cannot be framed)', async () => {
    const res = await get('/');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/html');
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    const csp = res.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toMatch(/script-src[^;]*'unsafe-(inline|eval)'/);
    expect(csp).toContain("frame-ancestors 'none'");
  });

  it('/docs: scripts and styles from this origin only, and every script it loads is same-origin', async () => {
    let res = await get('/docs');
    if (res.status >= 300 && res.status < 400)
      res = await get(new URL(res.headers.get('location')!, t.url).pathname);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/html');
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    const csp = res.headers.get('content-security-policy');
    expect(csp).toBe(DOCS_CSP);
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toMatch(/script-src[^;]*'unsafe-(inline|eval)'/);
    const html = await res.text();
    const scripts = [...html.matchAll(/<script([^>]*)>([\s\S]*?)<\/script>/g)];
    expect(scripts.length).toBeGreaterThan(0);
    for (const [, attrs, body] of scripts) {
      expect(body!.trim()).toBe(''); // no inline script the CSP would have to allow
      const src = /src="([^"]+)"/.exec(attrs!)?.[1];
      expect(src).toBeDefined();
      expect(new URL(src!, `${t.url}/docs/`).origin).toBe(new URL(t.url).origin);
      const asset = await fetch(new URL(src!, `${t.url}/docs/`));
      expect(asset.status).toBe(200);
      expect(asset.headers.get('x-content-type-options')).toBe('nosniff');
    }
  });
});

describe('CORS', () => {
  const preflight = (origin: string, method = 'POST') =>
    get(
      '/v1/uploads',
      {
        origin,
        'access-control-request-method': method,
        'access-control-request-headers': 'authorization, content-type, x-evil',
      },
      'OPTIONS',
    );

  it('answers a preflight from a configured origin with that origin and only the headers the API reads', async () => {
    const res = await preflight(APP);
    expect(res.status).toBe(204);
    expect(res.headers.get('access-control-allow-origin')).toBe(APP);
    expect(res.headers.get('access-control-allow-headers')).toBe('authorization, content-type');
    expect(res.headers.get('access-control-allow-methods')).toContain('POST');
    expect(res.headers.get('access-control-allow-credentials')).toBeNull();
    expect(res.headers.get('vary')).toContain('origin');
  });

  it.each([
    ['an unlisted origin', EVIL],
    ['a look-alike of a listed one', `${APP}.evil.example.net`],
    ['the listed host over http', 'http://app.example.com'],
    ['null (sandboxed frames, file:)', 'null'],
  ])(
    'gives %s no Access-Control-Allow-Origin, on preflight or on the request itself',
    async (_what, origin) => {
      const pre = await preflight(origin);
      expect(pre.headers.get('access-control-allow-origin')).toBeNull();
      expect(pre.headers.get('access-control-allow-methods')).toBeNull();
      const res = await t.call('GET', '/v1/images', { as: 'ana', headers: { origin } });
      expect(res.status).toBe(200);
      expect(res.headers.get('access-control-allow-origin')).toBeNull();
    },
  );

  it('lets the configured origin read API responses, Retry-After included, and never with a wildcard', async () => {
    const res = await t.call('GET', '/v1/images', { as: 'ana', headers: { origin: APP } });
    expect(res.headers.get('access-control-allow-origin')).toBe(APP);
    expect(res.headers.get('access-control-expose-headers')).toContain('retry-after');
    const other = await t.call('GET', '/healthz', { headers: { origin: 'https://admin.example.com' } });
    expect(other.headers.get('access-control-allow-origin')).toBe('https://admin.example.com');
  });

  it('lets the configured origin read the event stream (written past the hooks), and no other', async () => {
    const open = async (origin: string) => {
      const abort = new AbortController();
      const res = await fetch(`${t.url}/v1/events`, {
        headers: { authorization: `Bearer ${await t.token('ana')}`, origin },
        signal: abort.signal,
      });
      abort.abort();
      return res;
    };
    const res = await open(APP);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/event-stream');
    expect(res.headers.get('access-control-allow-origin')).toBe(APP);
    expect(res.headers.get('vary')).toContain('origin');
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(res.headers.get('content-security-policy')).toBe(API_CSP);
    expect((await open(EVIL)).headers.get('access-control-allow-origin')).toBeNull();
  });

  it('by default allows only the origin of DARKROOM_PUBLIC_BASE_URL', async () => {
    const d = await startTestApi('sqlite');
    try {
      const own = new URL(d.config.publicBaseUrl).origin;
      const ok = await fetch(`${d.url}/healthz`, { headers: { origin: own } });
      expect(ok.headers.get('access-control-allow-origin')).toBe(own);
      const no = await fetch(`${d.url}/healthz`, { headers: { origin: EVIL } });
      expect(no.headers.get('access-control-allow-origin')).toBeNull();
    } finally {
      await d.stop();
    }
  });
});

describe('embedded S3', () => {
  it('sends nosniff on objects (whatever type the uploader chose) and on errors', async () => {
    const s3 = t.s3.client();
    const Bucket = t.config.s3.bucket;
    await s3.send(
      new PutObjectCommand({
        Bucket,
        Key: 'nosniff/x',
        Body: '<script>alert(1)</script>',
        ContentType: 'text/plain',
      }),
    );
    const res = await fetch(await getSignedUrl(s3, new GetObjectCommand({ Bucket, Key: 'nosniff/x' })));
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/plain');
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    const refused = await fetch(`${t.s3.endpoint}/${Bucket}/nosniff/x`);
    expect(refused.status).toBe(403);
    expect(refused.headers.get('x-content-type-options')).toBe('nosniff');
  });
});
