import crypto from 'node:crypto';
import { getSignedUrl } from '@aws-sdk/cloudfront-signer';
import type { CloudFrontKeys } from '../config.ts';
import type { UrlSigner, UrlSigning } from '../domain/ports.ts';

/**
 * Private images are delivered only through URLs signed in CloudFront's canned-policy format:
 * `?Expires=<epoch s>&Key-Pair-Id=<id>&Signature=<RSA-SHA1 of the policy, CloudFront base64>`.
 * The API signs with `@aws-sdk/cloudfront-signer`; the delivery routes verify the same format here,
 * so one URL works against this origin directly and behind CloudFront with a trusted key group.
 */

/** Query parameters that carry the signature; everything else is part of the signed Resource. */
const SIGNING_PARAMS = new Set(['Expires', 'Signature', 'Key-Pair-Id', 'Hash-Algorithm']);
/** How many signed URLs of the current expiry window are remembered (a page of a gallery reuses them). */
const MEMO_LIMIT = 20_000;

/** Why a signed URL was refused (the stable `error.code` of the 403). */
export type SignatureFailure = 'bad_signature' | 'url_expired';

/** The outcome of verify(); `expires` is when a valid URL stops working (epoch seconds). */
export type Verification =
  | { ok: true; expires: number }
  | { ok: false; code: SignatureFailure; message: string };

/** The canned policy CloudFront signs: one statement, the exact Resource, a DateLessThan. */
export function cannedPolicy(resource: string, expires: number): string {
  return JSON.stringify({
    Statement: [{ Resource: resource, Condition: { DateLessThan: { 'AWS:EpochTime': expires } } }],
  });
}

/** CloudFront's URL-safe base64 (`-_~` for `+=/`) back to bytes; undefined when it is not that alphabet. */
export function decodeCloudFrontBase64(value: string): Buffer | undefined {
  if (!/^[A-Za-z0-9\-_~]+$/.test(value)) return undefined;
  const std = value.replace(/[-_~]/g, (c) => (c === '-' ? '+' : c === '_' ? '=' : '/'));
  return Buffer.from(std, 'base64');
}

/**
 * Expiry of a URL signed at `nowMs`: at least `ttlSeconds` away, rounded up to a tenth of the TTL so
 * the same image gets the same URL for a while (browsers reuse their cached copy, and the signature
 * is computed once per window instead of on every API call).
 */
export function windowedExpiry(nowMs: number, ttlSeconds: number): number {
  const step = Math.max(1, Math.floor(ttlSeconds / 10));
  return Math.ceil((Math.floor(nowMs / 1000) + ttlSeconds) / step) * step;
}

/** Signs and verifies canned-policy URLs for one key pair under one delivery base URL. */
export class SignedUrls implements UrlSigner, UrlSigning {
  readonly keyPairId: string;
  readonly #privateKeyPem: string | undefined;
  readonly #publicKey: crypto.KeyObject;
  readonly #base: string;
  readonly #ttlSeconds: number;
  readonly #now: () => number;
  #memoExpires = 0;
  readonly #memo = new Map<string, string>();

  /**
   * `deliveryBaseUrl` is where clients fetch variants (config.cdnBaseUrl ?? config.publicBaseUrl,
   * no trailing slash): the signed Resource is rebuilt from it, never from the Host header, because
   * behind a CDN the origin sees the CDN's request, not the URL the client was given.
   */
  constructor(
    keys: CloudFrontKeys,
    deliveryBaseUrl: string,
    ttlSeconds: number,
    now: () => number = Date.now,
  ) {
    this.keyPairId = keys.keyPairId;
    this.#privateKeyPem = keys.privateKeyPem;
    this.#publicKey = crypto.createPublicKey(keys.publicKeyPem);
    this.#base = deliveryBaseUrl.replace(/\/+$/, '');
    this.#ttlSeconds = ttlSeconds;
    this.#now = now;
  }

  /** True when this process holds the private key (a verify-only origin does not). */
  get canSign(): boolean {
    return this.#privateKeyPem !== undefined;
  }

  /** This object as a signer for toImageView, or undefined on a verify-only origin. */
  get signer(): UrlSigner | undefined {
    return this.canSign ? this : undefined;
  }

  /** Signs `url` to expire in the configured TTL (rounded up to the current window). */
  sign(url: string): string {
    const expires = windowedExpiry(this.#now(), this.#ttlSeconds);
    if (expires !== this.#memoExpires || this.#memo.size >= MEMO_LIMIT) {
      this.#memo.clear();
      this.#memoExpires = expires;
    }
    let signed = this.#memo.get(url);
    if (signed === undefined) {
      signed = this.signUntil(url, expires);
      this.#memo.set(url, signed);
    }
    return signed;
  }

  /** Signs `url` to expire at `expires` (epoch seconds), exactly as CloudFront expects. */
  signUntil(url: string, expires: number): string {
    if (this.#privateKeyPem === undefined) {
      throw new Error('no CloudFront private key configured: this process can verify but not sign URLs');
    }
    return getSignedUrl({
      url,
      keyPairId: this.keyPairId,
      privateKey: this.#privateKeyPem,
      dateLessThan: new Date(expires * 1000).toISOString(),
    });
  }

  /**
   * Checks a request target (path and query exactly as received, e.g. Fastify's `request.url`)
   * against the canned policy for `{deliveryBaseUrl}{path}{other query params}`.
   */
  verify(requestTarget: string): Verification {
    const q = requestTarget.indexOf('?');
    const path = q === -1 ? requestTarget : requestTarget.slice(0, q);
    const kept: string[] = [];
    const params = new Map<string, string>();
    for (const pair of q === -1 ? [] : requestTarget.slice(q + 1).split('&')) {
      if (pair === '') continue;
      const eq = pair.indexOf('=');
      const name = eq === -1 ? pair : pair.slice(0, eq);
      if (name === 'Policy') return fail('bad_signature', 'custom-policy URLs are not accepted here');
      if (!SIGNING_PARAMS.has(name)) {
        kept.push(pair);
        continue;
      }
      if (params.has(name)) return fail('bad_signature', `${name} appears more than once`);
      const value = safeDecode(eq === -1 ? '' : pair.slice(eq + 1));
      if (value === undefined) return fail('bad_signature', `${name} is not URL-encoded correctly`);
      params.set(name, value);
    }
    const expiresText = params.get('Expires');
    const signatureText = params.get('Signature');
    const keyPairId = params.get('Key-Pair-Id');
    if (expiresText === undefined || signatureText === undefined || keyPairId === undefined) {
      return fail(
        'bad_signature',
        'this image is private: use the signed URL the API returned (Expires, Signature, Key-Pair-Id)',
      );
    }
    if (keyPairId !== this.keyPairId)
      return fail('bad_signature', 'the URL is signed with an unknown key pair');
    const algorithm = params.get('Hash-Algorithm') ?? 'SHA1';
    if (algorithm !== 'SHA1' && algorithm !== 'SHA256') {
      return fail('bad_signature', 'Hash-Algorithm must be SHA1 or SHA256');
    }
    if (!/^\d{1,12}$/.test(expiresText)) return fail('bad_signature', 'Expires must be epoch seconds');
    const expires = Number(expiresText);
    const signature = decodeCloudFrontBase64(signatureText);
    if (signature === undefined) return fail('bad_signature', 'Signature is not CloudFront base64');

    const resource = `${this.#base}${path}${kept.length > 0 ? `?${kept.join('&')}` : ''}`;
    const valid = crypto.verify(
      `RSA-${algorithm}`,
      Buffer.from(cannedPolicy(resource, expires)),
      this.#publicKey,
      signature,
    );
    // The signature is checked first, so a URL whose Expires was pushed forward reads as tampered.
    if (!valid) return fail('bad_signature', 'the signature does not match this URL');
    if (Math.floor(this.#now() / 1000) >= expires) return fail('url_expired', 'this signed URL has expired');
    return { ok: true, expires };
  }

  /** Seconds until a verified URL stops working (never negative), for `Cache-Control: private, max-age`. */
  remainingSeconds(expires: number): number {
    return Math.max(0, expires - Math.floor(this.#now() / 1000));
  }
}

function fail(code: SignatureFailure, message: string): Verification {
  return { ok: false, code, message };
}

function safeDecode(value: string): string | undefined {
  try {
    return decodeURIComponent(value);
  } catch {
    return undefined;
  }
}
