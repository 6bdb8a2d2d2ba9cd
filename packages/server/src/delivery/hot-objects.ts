import { LRUCache } from 'lru-cache';

/** One immutable object held in memory, with the headers storage gave it. */
export interface HotObject {
  body: Buffer;
  etag: string;
  /** Last-Modified as sent (formatted once, not on every request). */
  lastModifiedText: string;
  contentType: string;
}

/**
 * Keeps recently served small objects (variants, transforms) in memory, least recently used first out,
 * bounded in bytes. Each request served from here skips the storage round trip (SDK request, signing,
 * the storage server), which is most of an origin request's cost. No invalidation is needed: delivery
 * keys never change content once an image is ready, and a deleted image is refused by its database row
 * before this cache is consulted (its bytes then age out).
 */
export type HotObjects = LRUCache<string, HotObject>;

/** A hot-object cache holding `maxBytes` in all; larger objects than `maxObjectBytes` are always streamed. */
export function createHotObjects(maxBytes: number, maxObjectBytes: number): HotObjects {
  return new LRUCache<string, HotObject>({
    maxSize: maxBytes,
    maxEntrySize: maxObjectBytes,
    sizeCalculation: (object) => Math.max(1, object.body.length),
  });
}

/** RFC 9110 weak comparison of an If-None-Match list with an entity tag. */
export function etagMatches(ifNoneMatch: string, etag: string): boolean {
  const opaque = (tag: string) => tag.trim().replace(/^W\//, '');
  const want = opaque(etag);
  return ifNoneMatch.split(',').some((t) => t.trim() === '*' || opaque(t) === want);
}
