/**
 * @module One table of delivery cases, the single truth the CloudFront Function (run from the synthesized
 * template, packages/infra) and the local delivery route (over HTTP, packages/server) are both held to:
 * URL + Accept + signatures → the storage key served, or the refusal.
 */
import crypto from 'node:crypto';
import { parseVariants } from '@darkroom/contract';

/** The configuration every case assumes: DARKROOM_VARIANTS, the transform secret, the private path. */
export const CASE_CONFIG = {
  variantsText: 'thumb:320:jpeg+webp+avif,medium:640,hero:480:avif,icon:64:png',
  transformSecret: 'edge-case-table-transform-secret',
  privatePath: '/private',
} as const;
export const CASE_VARIANTS = parseVariants(CASE_CONFIG.variantsText);

/** A refusal as the table states it; `by` says who answers: the function, CloudFront's key group, or the API. */
export interface CaseRefusal {
  status: 400 | 403 | 404;
  code: 'not_found' | 'bad_signature' | 'url_expired' | 'invalid_transform';
}

export interface EdgeCase {
  name: string;
  /** The viewer path; `{id}` is a ready public image, `{pid}` a ready private one (same photo, opaque JPEG). */
  path: string;
  /** Extra query parameters after any `sig` (e.g. `f=webp`). */
  query?: string;
  accept?: string;
  /** Transforms: `valid` appends the right `?sig=`, `wrong` the signature of other options. */
  transformSig?: 'valid' | 'wrong';
  /** The private path's canned-policy signature (CloudFront's key group checks it before the function runs). */
  cloudfront?: 'valid' | 'expired' | 'tampered';
  expect: { key: string; origin?: CaseRefusal } | (CaseRefusal & { by: 'function' | 'key-group' });
}

/** The digest part of a transform key: sha256 of the canonical options, format resolved. */
const t = (canonical: string) => crypto.createHash('sha256').update(canonical).digest('hex');

const CHROME = 'image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8';
const FIREFOX = 'image/webp,*/*';
const JPEG_ONLY = 'image/jpeg';

export const EDGE_CASES: readonly EdgeCase[] = [
  // A variant stored as JPEG, WebP and AVIF: one key per Accept class.
  {
    name: 'AVIF browser',
    path: '/img/{id}/thumb',
    accept: CHROME,
    expect: { key: 'variants/{id}/thumb.avif' },
  },
  {
    name: 'WebP browser',
    path: '/img/{id}/thumb',
    accept: FIREFOX,
    expect: { key: 'variants/{id}/thumb.webp' },
  },
  {
    name: 'AVIF refused with q=0',
    path: '/img/{id}/thumb',
    accept: 'image/avif;q=0, image/webp',
    expect: { key: 'variants/{id}/thumb.webp' },
  },
  {
    name: 'JPEG only',
    path: '/img/{id}/thumb',
    accept: JPEG_ONLY,
    expect: { key: 'variants/{id}/thumb.jpg' },
  },
  {
    name: 'wildcards only',
    path: '/img/{id}/thumb',
    accept: '*/*',
    expect: { key: 'variants/{id}/thumb.jpg' },
  },
  { name: 'no Accept', path: '/img/{id}/thumb', expect: { key: 'variants/{id}/thumb.jpg' } },
  {
    name: '?f=webp over an AVIF Accept',
    path: '/img/{id}/thumb',
    query: 'f=webp',
    accept: CHROME,
    expect: { key: 'variants/{id}/thumb.webp' },
  },
  {
    name: '?f=original over an AVIF Accept',
    path: '/img/{id}/thumb',
    query: 'f=original',
    accept: CHROME,
    expect: { key: 'variants/{id}/thumb.jpg' },
  },
  // WebP only (the default grammar's shape): clients without WebP get the rendered JPEG/PNG fallback.
  {
    name: 'WebP-only variant, AVIF browser',
    path: '/img/{id}/medium',
    accept: CHROME,
    expect: { key: 'variants/{id}/medium.webp' },
  },
  {
    name: 'WebP-only variant, JPEG only',
    path: '/img/{id}/medium',
    accept: JPEG_ONLY,
    expect: { key: 'variants/{id}/medium.fallback' },
  },
  {
    name: 'WebP-only variant, no Accept',
    path: '/img/{id}/medium',
    expect: { key: 'variants/{id}/medium.fallback' },
  },
  // AVIF only: a WebP browser cannot decode it, so it gets the fallback too.
  {
    name: 'AVIF-only variant, AVIF browser',
    path: '/img/{id}/hero',
    accept: CHROME,
    expect: { key: 'variants/{id}/hero.avif' },
  },
  {
    name: 'AVIF-only variant, WebP browser',
    path: '/img/{id}/hero',
    accept: FIREFOX,
    expect: { key: 'variants/{id}/hero.fallback' },
  },
  // PNG only: every class gets the PNG.
  {
    name: 'PNG-only variant, AVIF browser',
    path: '/img/{id}/icon',
    accept: CHROME,
    expect: { key: 'variants/{id}/icon.png' },
  },
  {
    name: 'PNG-only variant, JPEG only',
    path: '/img/{id}/icon',
    accept: JPEG_ONLY,
    expect: { key: 'variants/{id}/icon.png' },
  },
  // Refused at the edge: nothing is asked of an origin.
  {
    name: 'unknown variant',
    path: '/img/{id}/poster',
    expect: { status: 404, code: 'not_found', by: 'function' },
  },
  {
    name: 'a variant named like an Object.prototype property',
    path: '/img/{id}/constructor',
    expect: { status: 404, code: 'not_found', by: 'function' },
  },
  {
    name: 'not an image id',
    path: '/img/not-an-id/thumb',
    expect: { status: 404, code: 'not_found', by: 'function' },
  },
  {
    name: 'extra path segment',
    path: '/img/{id}/thumb/x',
    expect: { status: 404, code: 'not_found', by: 'function' },
  },
  // Transforms: the HMAC is checked at the edge; the key is the digest of the canonical options.
  {
    name: 'signed transform, AVIF browser',
    path: '/img/{id}/w_100',
    transformSig: 'valid',
    accept: CHROME,
    expect: { key: `variants/{id}/t/${t('w_100,fit_inside,f_avif')}.avif` },
  },
  {
    name: 'signed transform, JPEG only',
    path: '/img/{id}/w_100',
    transformSig: 'valid',
    accept: JPEG_ONLY,
    expect: { key: `variants/{id}/t/${t('w_100,fit_inside,f_fallback')}.fallback` },
  },
  {
    name: 'signed transform with an explicit format, options in any order',
    path: '/img/{id}/h_80,w_120,fit_cover,f_png',
    transformSig: 'valid',
    accept: CHROME,
    expect: { key: `variants/{id}/t/${t('w_120,h_80,fit_cover,f_png')}.png` },
  },
  {
    name: 'unsigned transform',
    path: '/img/{id}/w_100',
    expect: { status: 403, code: 'bad_signature', by: 'function' },
  },
  {
    name: 'transform signed for other options',
    path: '/img/{id}/w_100',
    transformSig: 'wrong',
    expect: { status: 403, code: 'bad_signature', by: 'function' },
  },
  {
    name: 'signed transform with a leading zero',
    path: '/img/{id}/w_0100',
    transformSig: 'valid',
    expect: { status: 400, code: 'invalid_transform', by: 'function' },
  },
  {
    name: 'signed transform with a key twice',
    path: '/img/{id}/w_100,w_200',
    transformSig: 'valid',
    expect: { status: 400, code: 'invalid_transform', by: 'function' },
  },
  {
    name: 'signed transform beyond the origin limits (checked by the API, which knows them)',
    path: '/img/{id}/w_5000,h_5000',
    transformSig: 'valid',
    accept: CHROME,
    expect: {
      key: `variants/{id}/t/${t('w_5000,h_5000,fit_inside,f_avif')}.avif`,
      origin: { status: 400, code: 'invalid_transform' },
    },
  },
  // Private images: only the signed path reaches them; their public key does not exist.
  {
    name: "a private image's public URL",
    path: '/img/{pid}/thumb',
    accept: CHROME,
    expect: { key: 'variants/{pid}/thumb.avif', origin: { status: 403, code: 'bad_signature' } },
  },
  {
    name: 'private, signed',
    path: '/private/{pid}/thumb',
    cloudfront: 'valid',
    accept: FIREFOX,
    expect: { key: 'private/{pid}/thumb.webp' },
  },
  {
    name: 'private, signed, JPEG only',
    path: '/private/{pid}/medium',
    cloudfront: 'valid',
    accept: JPEG_ONLY,
    expect: { key: 'private/{pid}/medium.fallback' },
  },
  {
    name: 'private, unsigned',
    path: '/private/{pid}/thumb',
    expect: { status: 403, code: 'bad_signature', by: 'key-group' },
  },
  {
    name: 'private, expired',
    path: '/private/{pid}/thumb',
    cloudfront: 'expired',
    expect: { status: 403, code: 'url_expired', by: 'key-group' },
  },
  {
    name: 'private, Expires altered',
    path: '/private/{pid}/thumb',
    cloudfront: 'tampered',
    expect: { status: 403, code: 'bad_signature', by: 'key-group' },
  },
  {
    name: 'private transform, both signatures',
    path: '/private/{pid}/w_100',
    transformSig: 'valid',
    cloudfront: 'valid',
    accept: FIREFOX,
    expect: { key: `private/{pid}/t/${t('w_100,fit_inside,f_webp')}.webp` },
  },
  {
    name: 'a public image on the private path',
    path: '/private/{id}/thumb',
    cloudfront: 'valid',
    accept: FIREFOX,
    expect: { key: 'private/{id}/thumb.webp', origin: { status: 404, code: 'not_found' } },
  },
];

/** How a harness turns a case into a request. */
export interface MaterialiseOptions {
  /** The image ids standing for `{id}` and `{pid}`. */
  ids: { id: string; pid: string };
  /** Scheme, host and port the viewer uses (the canned policy's Resource starts with it). */
  base: string;
  /** Signs `url` in CloudFront's canned-policy format to expire at `expires` (epoch seconds). */
  signCloudFront(url: string, expires: number): string;
}

/** The URL (base, path, query, signatures) and headers of one case, and its expectation with ids filled in. */
export function materialise(
  c: EdgeCase,
  o: MaterialiseOptions,
): { url: string; accept?: string; expect: EdgeCase['expect'] } {
  const fill = (s: string) => s.replaceAll('{pid}', o.ids.pid).replaceAll('{id}', o.ids.id);
  const path = fill(c.path);
  const params: string[] = [];
  if (c.transformSig) {
    const [, , id, segment] = path.split('/');
    const signed = c.transformSig === 'valid' ? segment : `${segment},q_1`;
    const sig = crypto
      .createHmac('sha256', CASE_CONFIG.transformSecret)
      .update(`/img/${id}/${signed}`)
      .digest('base64url');
    params.push(`sig=${sig}`);
  }
  if (c.query) params.push(c.query);
  let url = `${o.base}${path}${params.length ? `?${params.join('&')}` : ''}`;
  if (c.cloudfront) {
    const now = Math.floor(Date.now() / 1000);
    url = o.signCloudFront(url, c.cloudfront === 'expired' ? now - 60 : now + 600);
    if (c.cloudfront === 'tampered')
      url = url.replace(/Expires=(\d+)/, (_m, n: string) => `Expires=${Number(n) + 1}`);
  }
  const expect = 'key' in c.expect ? { ...c.expect, key: fill(c.expect.key) } : c.expect;
  return { url, ...(c.accept === undefined ? {} : { accept: c.accept }), expect };
}
