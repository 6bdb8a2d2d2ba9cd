import type { FastifyReply, FastifyRequest } from 'fastify';
import { ApiError } from '../api/errors.ts';
import type { StorageGateway } from '../storage/gateway.ts';
import { IMMUTABLE } from './cache-policy.ts';
import { etagMatches, type HotObject, type HotObjects } from './hot-objects.ts';
import type { DeliveryMetrics } from './metrics.ts';

/** What serving an object needs. */
export interface ServeDeps {
  storage: StorageGateway;
  metrics: DeliveryMetrics;
  /** Small objects recently served, answered from memory; absent = always stream from storage. */
  hot?: HotObjects;
}

/** What the caller knows about the stored object, used when storage does not say. */
export interface ObjectHints {
  contentType: string;
  /** Total size, for the `Content-Range: bytes *\/size` of a 416; asked of storage when unknown. */
  bytes: number | undefined;
  /** Said in the 404 when the object is missing from storage (and cannot be produced). */
  missing: string;
  /**
   * Called when storage has no such object, to make it (what the edge's failover origin does); the object is
   * then opened again, once. Without it a missing object is a 404.
   */
  produce?: () => Promise<void>;
  /** Cache-Control of a 200/206/304 (private images); default: immutable and public. */
  cacheControl?: string;
}

/**
 * Streams an immutable object from storage, passing the client's Range and conditional headers to
 * storage so it answers them as S3 does (200, 206, 304, 416). Headers already set on `reply` (Vary,
 * x-darkroom-format) are kept. A missing object and an unsatisfiable range throw the catalogue's errors.
 */
export async function serveObject(
  request: FastifyRequest,
  reply: FastifyReply,
  deps: ServeDeps,
  key: string,
  hints: ObjectHints,
): Promise<FastifyReply> {
  const { metrics } = deps;
  // Ranges and If-Modified-Since are rare on immutable objects: storage answers those, as S3 does.
  const simple = request.headers.range === undefined && request.headers['if-modified-since'] === undefined;
  const held = simple ? deps.hot?.get(key) : undefined;
  if (held) return sendHeld(request, reply, metrics, held, hints);
  const open = () =>
    deps.storage.openForDelivery(key, {
      range: request.headers.range,
      ifNoneMatch: request.headers['if-none-match'],
      ifModifiedSince: request.headers['if-modified-since'],
    });
  let opened = await open();
  if (opened.status === 404 && hints.produce) {
    await hints.produce();
    opened = await open();
  }
  if (opened.status === 404) throw new ApiError('not_found', hints.missing);
  if (opened.status === 416) {
    const size = hints.bytes ?? (await deps.storage.head(key))?.size ?? '*';
    throw new ApiError('range_not_satisfiable', undefined, { 'content-range': `bytes */${size}` });
  }
  if (
    deps.hot &&
    simple &&
    request.method === 'GET' &&
    opened.status === 200 &&
    (opened.headers.ContentLength ?? Number.POSITIVE_INFINITY) <= deps.hot.maxEntrySize
  ) {
    // Read whole before any header is set, so a failed read is an error response, not an immutable one.
    const chunks: Buffer[] = [];
    for await (const chunk of opened.body) chunks.push(chunk as Buffer);
    const held: HotObject = {
      body: Buffer.concat(chunks),
      etag: opened.headers.ETag ?? '',
      lastModifiedText: (opened.headers.LastModified ?? new Date()).toUTCString(),
      contentType: opened.headers.ContentType ?? hints.contentType,
    };
    deps.hot.set(key, held);
    return sendHeld(request, reply, metrics, held, hints);
  }
  reply.header('cache-control', hints.cacheControl ?? IMMUTABLE).header('accept-ranges', 'bytes');
  if (opened.body === undefined) return reply.code(304).send();
  const h = opened.headers;
  reply
    .code(opened.status)
    .header('content-type', h.ContentType ?? hints.contentType)
    .header('content-length', String(h.ContentLength ?? 0))
    .header('etag', h.ETag ?? '')
    .header('last-modified', (h.LastModified ?? new Date()).toUTCString());
  if (h.ContentRange) reply.header('content-range', h.ContentRange);
  if (request.method === 'HEAD') {
    opened.body.destroy();
    return reply.send();
  }
  metrics.bytes.inc(h.ContentLength ?? 0);
  return reply.send(opened.body);
}

/** 304 when If-None-Match matches the held object's ETag, else 200. */
export function heldStatus(ifNoneMatch: string | undefined, held: HotObject): 200 | 304 {
  return ifNoneMatch !== undefined && etagMatches(ifNoneMatch, held.etag) ? 304 : 200;
}

/** The headers of an answer from a held object (the lean path sends the same ones). */
export function heldHeaders(
  held: HotObject,
  status: 200 | 304,
  cacheControl: string,
): Record<string, string> {
  const headers: Record<string, string> = {
    'cache-control': cacheControl,
    'accept-ranges': 'bytes',
    etag: held.etag,
    'last-modified': held.lastModifiedText,
  };
  if (status === 200) {
    headers['content-type'] = held.contentType;
    headers['content-length'] = String(held.body.length);
  }
  return headers;
}

/** Answers from an object held in memory: 200 or, when If-None-Match matches, 304. */
function sendHeld(
  request: FastifyRequest,
  reply: FastifyReply,
  metrics: DeliveryMetrics,
  held: HotObject,
  hints: ObjectHints,
): FastifyReply {
  const status = heldStatus(request.headers['if-none-match'], held);
  reply.headers(heldHeaders(held, status, hints.cacheControl ?? IMMUTABLE));
  if (status === 304) return reply.code(304).send();
  reply.code(200);
  if (request.method === 'HEAD') return reply.send();
  metrics.bytes.inc(held.body.length);
  return reply.send(held.body);
}
