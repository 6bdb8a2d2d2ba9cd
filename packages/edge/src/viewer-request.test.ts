import crypto from 'node:crypto';
import { getSignedUrl } from '@aws-sdk/cloudfront-signer';
import * as acorn from 'acorn';
import { describe, expect, it } from 'vitest';
import { CASE_CONFIG, CASE_VARIANTS, EDGE_CASES, materialise } from './cases.ts';
import {
  type CloudFrontRequest,
  type CloudFrontResponse,
  EDGE_REQUEST_HEADER,
  functionSource,
  loadViewerRequest,
  MAX_FUNCTION_BYTES,
  viewerEvent,
} from './index.ts';

// The function alone, run in node:vm with the cloudfront-js-2.0 crypto subset, against the shared case table.
// Rows CloudFront's key group refuses never reach the function; packages/infra runs those against the
// synthesized template, where the key group sits in front of this same code.

const config = {
  variants: CASE_VARIANTS,
  privatePath: CASE_CONFIG.privatePath,
  transformSecret: CASE_CONFIG.transformSecret,
};
const fn = loadViewerRequest(config);
const { privateKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
const ids = { id: crypto.randomUUID(), pid: crypto.randomUUID() };

describe('the viewer-request function against the case table', () => {
  const signCloudFront = (url: string, expires: number) =>
    getSignedUrl({
      url,
      keyPairId: 'K2JCJMDEHXQW5F',
      privateKey: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
      dateLessThan: new Date(expires * 1000).toISOString(),
    });
  const cases = EDGE_CASES.filter((c) => !('by' in c.expect && c.expect.by === 'key-group'));

  it.each(cases.map((c) => [c.name, c] as const))('%s', (_name, c) => {
    const {
      url,
      accept,
      expect: want,
    } = materialise(c, { ids, base: 'https://d1.cloudfront.net', signCloudFront });
    const out = fn.handler(viewerEvent(url, accept));
    if ('key' in want) {
      const request = out as CloudFrontRequest;
      expect(request.uri).toBe(`/${want.key}`);
      expect(request.querystring).toEqual({});
      // The API, asked on a miss, gets the viewer request back (with a private URL's signature).
      const forwarded = request.headers[EDGE_REQUEST_HEADER]!.value;
      expect(forwarded.startsWith(new URL(url).pathname)).toBe(true);
      if (c.cloudfront) expect(forwarded).toMatch(/Expires=\d+&Signature=[^&]+&Key-Pair-Id=K2JCJMDEHXQW5F$/);
    } else {
      const response = out as CloudFrontResponse;
      expect(response.statusCode).toBe(want.status);
      expect(JSON.parse(response.body.data)).toMatchObject({ error: { code: want.code } });
      expect(response.headers['cache-control']!.value).toBe(
        want.status === 403 ? 'private, no-store' : 'private, max-age=60',
      );
    }
  });

  it('normalises Accept for the origin to one value per class', () => {
    const accepts = new Set(
      ['image/avif,image/webp,*/*', 'image/avif', 'image/webp,image/png', 'text/html', undefined].map(
        (a) =>
          (fn.handler(viewerEvent(`https://x/img/${ids.id}/thumb`, a)) as CloudFrontRequest).headers.accept!
            .value,
      ),
    );
    expect(accepts.size).toBe(3);
  });

  it('maps a URI under /img/ only to a public key, and one under the private path only to a private key', () => {
    const segments = ['thumb', 'medium', '..', '%2e%2e', 'thumb%2f..', 'w_1', '', 'THUMB', '__proto__'];
    const prefixes = [
      '/img/',
      '/img//',
      '/private/',
      '/private//',
      '/img/../private/',
      '/imgs/',
      '/private-x/',
    ];
    for (const prefix of prefixes) {
      for (const id of [ids.id, ids.pid, '..', '']) {
        for (const segment of segments) {
          const event = viewerEvent(`https://x${prefix}${id}/${segment}?sig=x`, 'image/avif');
          const uri = event.request.uri;
          const out = fn.handler(event) as CloudFrontRequest;
          if (!('uri' in out)) continue;
          const key = out.uri.slice(1);
          const expected = uri.startsWith('/private/') ? 'private/' : 'variants/';
          expect(key.startsWith(`${expected}${id}/`), `${uri} → ${key}`).toBe(true);
          expect(key).toMatch(/^(variants|private)\/[0-9a-f-]{36}\/(t\/[0-9a-f]{64}|[a-z0-9_-]+)\.[a-z]+$/);
        }
      }
    }
  });

  it('refuses transforms when the stack has no transform secret', () => {
    const bare = loadViewerRequest({ variants: CASE_VARIANTS, privatePath: '/private' });
    const out = bare.handler(viewerEvent(`https://x/img/${ids.id}/w_100?sig=anything`, '*/*'));
    expect((out as CloudFrontResponse).statusCode).toBe(403);
  });
});

describe('the function within CloudFront Functions limits', () => {
  const source = functionSource(config);

  it('is under 10 KB', () => {
    expect(Buffer.byteLength(source)).toBeLessThanOrEqual(MAX_FUNCTION_BYTES);
  });

  it('is ECMAScript 5.1 (the subset every CloudFront JavaScript runtime supports)', () => {
    expect(() => acorn.parse(source, { ecmaVersion: 5 })).not.toThrow();
  });

  it('uses no module but crypto, and no network', () => {
    expect([...source.matchAll(/require\('([^']+)'\)/g)].map((m) => m[1])).toEqual(['crypto']);
    expect(source).not.toMatch(/fetch|XMLHttpRequest|import\s/);
  });
});
