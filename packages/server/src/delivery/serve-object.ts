import type { FastifyReply, FastifyRequest } from 'fastify';
import type { StorageGateway } from '../storage/gateway.ts';
import { IMMUTABLE, SHORT } from './cache-policy.ts';
import type { DeliveryMetrics } from './metrics.ts';

/** Sends a 404 JSON error with a short cache lifetime (never immutable), counted in the metrics. */
export function sendNotFound(reply: FastifyReply, metrics: DeliveryMetrics, message: string): FastifyReply {
  metrics.responses.inc({ status: '404' });
  return reply
    .code(404)
    .header('cache-control', SHORT)
    .send({ error: { code: 'not_found', message } });
}

/** What the caller knows about the stored object, used when storage does not say. */
export interface ObjectHints {
  contentType: string;
  /** Total size, for the `Content-Range: bytes *\/size` of a 416; asked of storage when unknown. */
  bytes: number | undefined;
  /** Said in the 404 when the object is missing from storage. */
  missing: string;
  /**
   * Called when storage has no such object, to make it (transforms); the object is then opened again,
   * once. Without it a missing object is a 404.
   */
  produce?: () => Promise<void>;
  /** Cache-Control of a 200/206/304 (private images); default: immutable and public. */
  cacheControl?: string;
}

/**
 * Streams an immutable object from storage, passing the client's Range and conditional headers to
 * storage so it answers them as S3 does (200, 206, 304, 416). Headers already set on `reply` (Vary,
 * x-darkroom-format) are kept.
 */
export async function serveObject(
  request: FastifyRequest,
  reply: FastifyReply,
  deps: { storage: StorageGateway; metrics: DeliveryMetrics },
  key: string,
  hints: ObjectHints,
): Promise<FastifyReply> {
  const { metrics } = deps;
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
  if (opened.status === 404) return sendNotFound(reply, metrics, hints.missing);
  metrics.responses.inc({ status: String(opened.status) });
  if (opened.status === 416) {
    return reply
      .code(416)
      .header('content-range', `bytes */${hints.bytes ?? (await deps.storage.head(key))?.size ?? '*'}`)
      .header('cache-control', SHORT)
      .send({ error: { code: 'invalid_request', message: 'the requested range is not satisfiable' } });
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
