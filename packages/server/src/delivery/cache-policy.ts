/** What the CDN may keep forever: variant and transform keys never change content. */
export const IMMUTABLE = 'public, max-age=31536000, immutable';
/**
 * Misses and not-yet-ready images: a browser may keep the answer a minute, shared caches (CDN, proxy)
 * store nothing. A not-yet-ready image becomes ready within seconds, and an edge holding its 404
 * would hide it; CloudFront too skips caching a 404 marked private (docs/DELIVERY.md).
 */
export const SHORT = 'private, max-age=60';
/** Refusals (bad or expired signatures): no cache stores them. */
export const NO_STORE = 'private, no-store';

/** A private image served through a valid signed URL: the browser alone keeps it, while the URL works. */
export function privateFor(seconds: number): string {
  return `private, max-age=${Math.max(0, Math.floor(seconds))}`;
}
