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
export class HotObjects {
  private readonly entries = new Map<string, HotObject>();
  private bytes = 0;

  constructor(
    /** Total bytes held at most. */
    readonly maxBytes: number,
    /** Larger objects are always streamed from storage. */
    readonly maxObjectBytes: number,
  ) {}

  /** The object at `key`, marked as recently used; undefined when not held. */
  get(key: string): HotObject | undefined {
    const hit = this.entries.get(key);
    if (hit) {
      // Map iteration order is insertion order: re-inserting makes it the most recent.
      this.entries.delete(key);
      this.entries.set(key, hit);
    }
    return hit;
  }

  /** Holds `object` unless it is too large, evicting the least recently used to stay within bounds. */
  set(key: string, object: HotObject): void {
    if (object.body.length > this.maxObjectBytes) return;
    const old = this.entries.get(key);
    if (old) {
      this.entries.delete(key);
      this.bytes -= old.body.length;
    }
    this.entries.set(key, object);
    this.bytes += object.body.length;
    for (const [k, v] of this.entries) {
      if (this.bytes <= this.maxBytes) break;
      this.entries.delete(k);
      this.bytes -= v.body.length;
    }
  }

  /** Bytes held now. */
  get size(): number {
    return this.bytes;
  }
}

/** RFC 9110 weak comparison of an If-None-Match list with an entity tag. */
export function etagMatches(ifNoneMatch: string, etag: string): boolean {
  const opaque = (tag: string) => tag.trim().replace(/^W\//, '');
  const want = opaque(etag);
  return ifNoneMatch.split(',').some((t) => t.trim() === '*' || opaque(t) === want);
}
