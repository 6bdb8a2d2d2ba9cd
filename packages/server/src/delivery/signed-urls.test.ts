import crypto from 'node:crypto';
import { getSignedUrl } from '@aws-sdk/cloudfront-signer';
import { describe, expect, it } from 'vitest';
import type { CloudFrontKeys } from '../config.ts';
import { cannedPolicy, decodeCloudFrontBase64, SignedUrls, windowedExpiry } from './signed-urls.ts';

const { privateKey, publicKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
const keys: CloudFrontKeys = {
  keyPairId: 'K2JCJMDEHXQW5F',
  privateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
  publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
};
const BASE = 'https://cdn.example.com';
const PATH = '/img/0b6f3c1e-8f5a-4c1b-9d2e-3a4b5c6d7e8f/thumb';
const T0 = Date.UTC(2026, 10, 26, 8, 0, 0);

/** The request target (path + query) of an absolute URL, as the origin receives it. */
const target = (url: string) => url.slice(BASE.length);

describe('signed URLs (CloudFront canned policy)', () => {
  it('signs in CloudFront format: the signature verifies over the canned policy of the bare URL', () => {
    const urls = new SignedUrls(keys, BASE, 3600, () => T0);
    const signed = new URL(urls.sign(`${BASE}${PATH}`));
    expect([...signed.searchParams.keys()]).toEqual(['Expires', 'Key-Pair-Id', 'Signature']);
    expect(signed.searchParams.get('Key-Pair-Id')).toBe(keys.keyPairId);
    const sig = signed.searchParams.get('Signature')!;
    expect(sig).toMatch(/^[A-Za-z0-9\-_~]+$/);
    // Checked independently of verify(): RSA-SHA1 over the exact policy JSON CloudFront documents.
    const expires = Number(signed.searchParams.get('Expires'));
    const policy = `{"Statement":[{"Resource":"${BASE}${PATH}","Condition":{"DateLessThan":{"AWS:EpochTime":${expires}}}}]}`;
    expect(cannedPolicy(`${BASE}${PATH}`, expires)).toBe(policy);
    expect(crypto.verify('RSA-SHA1', Buffer.from(policy), publicKey, decodeCloudFrontBase64(sig)!)).toBe(
      true,
    );
  });

  it('accepts its own URLs and reports when they expire', () => {
    const urls = new SignedUrls(keys, BASE, 3600, () => T0);
    const result = urls.verify(target(urls.sign(`${BASE}${PATH}`)));
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(urls.remainingSeconds(result.expires)).toBeGreaterThanOrEqual(3600);
    expect(urls.remainingSeconds(result.expires)).toBeLessThan(3600 + 360);
  });

  it('accepts URLs made by @aws-sdk/cloudfront-signer directly, SHA1 and SHA256', () => {
    const urls = new SignedUrls(keys, BASE, 3600, () => T0);
    for (const algorithm of ['SHA1', 'SHA256'] as const) {
      const url = getSignedUrl({
        url: `${BASE}${PATH}`,
        keyPairId: keys.keyPairId,
        privateKey: keys.privateKeyPem!,
        dateLessThan: new Date(T0 + 60_000).toISOString(),
        algorithm,
      });
      expect(urls.verify(target(url))).toMatchObject({ ok: true });
    }
  });

  it('refuses missing, altered or foreign signatures with bad_signature', () => {
    const urls = new SignedUrls(keys, BASE, 3600, () => T0);
    const good = target(urls.sign(`${BASE}${PATH}`));
    const expires = /Expires=(\d+)/.exec(good)![1]!;
    const sig = /Signature=([^&]+)/.exec(good)![1]!;
    const flipped = sig[10] === 'A' ? 'B' : 'A';
    const other = new SignedUrls(
      { ...keys, ...pemPair(crypto.generateKeyPairSync('rsa', { modulusLength: 2048 })) },
      BASE,
      3600,
      () => T0,
    );
    const cases = {
      unsigned: PATH,
      'other path': good.replace('/thumb', '/large'),
      'later Expires': good.replace(`Expires=${expires}`, `Expires=${Number(expires) + 3600}`),
      'altered Signature': good.replace(sig, `${sig.slice(0, 10)}${flipped}${sig.slice(11)}`),
      'other Key-Pair-Id': good.replace(keys.keyPairId, 'KOTHER'),
      'missing Signature': good.replace(/&Signature=[^&]+/, ''),
      'extra param': `${good}&w=5000`,
      'another key': target(other.sign(`${BASE}${PATH}`)),
      'custom policy': `${PATH}?Policy=e30_&Signature=${sig}&Key-Pair-Id=${keys.keyPairId}`,
      'duplicate param': `${good}&Expires=${expires}`,
    };
    for (const [name, requestTarget] of Object.entries(cases)) {
      expect({ name, result: urls.verify(requestTarget) }).toMatchObject({
        name,
        result: { ok: false, code: 'bad_signature' },
      });
    }
  });

  it('refuses an expired URL with url_expired, at the exact second CloudFront would', () => {
    let now = T0;
    const urls = new SignedUrls(keys, BASE, 60, () => now);
    const url = urls.signUntil(`${BASE}${PATH}`, T0 / 1000 + 60);
    now = T0 + 59_999;
    expect(urls.verify(target(url)).ok).toBe(true);
    now = T0 + 60_000;
    expect(urls.verify(target(url))).toMatchObject({ ok: false, code: 'url_expired' });
  });

  it('signs other query parameters into the Resource, in the order given', () => {
    const urls = new SignedUrls(keys, BASE, 3600, () => T0);
    const signed = target(urls.sign(`${BASE}${PATH}?f=auto&q=75`));
    expect(signed).toMatch(/\?f=auto&q=75&Expires=/);
    expect(urls.verify(signed).ok).toBe(true);
    expect(urls.verify(signed.replace('f=auto&', '')).ok).toBe(false);
    expect(urls.verify(signed.replace('q=75', 'q=90')).ok).toBe(false);
  });

  it('rebuilds the Resource from the configured base, so a URL for another host does not verify', () => {
    const origin = new SignedUrls(keys, 'http://127.0.0.1:3000', 3600, () => T0);
    const cdn = new SignedUrls(keys, BASE, 3600, () => T0);
    const forCdn = target(cdn.sign(`${BASE}${PATH}`));
    expect(cdn.verify(forCdn).ok).toBe(true);
    expect(origin.verify(forCdn)).toMatchObject({ ok: false, code: 'bad_signature' });
  });

  it('gives the same URL within an expiry window and a fresh one after it', () => {
    // T0 sits on a window boundary (windows are 360 s for a 3600 s TTL); start inside one.
    let now = T0 + 100_000;
    const urls = new SignedUrls(keys, BASE, 3600, () => now);
    const first = urls.sign(`${BASE}${PATH}`);
    now += 1000;
    expect(urls.sign(`${BASE}${PATH}`)).toBe(first);
    now += 300_000;
    expect(urls.sign(`${BASE}${PATH}`)).not.toBe(first);
    expect(windowedExpiry(T0, 3600) - T0 / 1000).toBeGreaterThanOrEqual(3600);
    expect(windowedExpiry(T0 + 1, 1)).toBe(Math.floor(T0 / 1000) + 1);
  });

  it('verifies without a private key (a verify-only origin) but cannot sign', () => {
    const signer = new SignedUrls(keys, BASE, 3600, () => T0);
    const verifier = new SignedUrls({ ...keys, privateKeyPem: undefined }, BASE, 3600, () => T0);
    expect(verifier.canSign).toBe(false);
    expect(() => verifier.sign(`${BASE}${PATH}`)).toThrow(/private key/);
    expect(verifier.verify(target(signer.sign(`${BASE}${PATH}`))).ok).toBe(true);
  });
});

function pemPair(
  pair: crypto.KeyPairKeyObjectResult,
): Pick<CloudFrontKeys, 'privateKeyPem' | 'publicKeyPem'> {
  return {
    privateKeyPem: pair.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    publicKeyPem: pair.publicKey.export({ type: 'spki', format: 'pem' }).toString(),
  };
}
