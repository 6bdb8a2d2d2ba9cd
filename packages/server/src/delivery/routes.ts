import { Counter } from 'prom-client';
import { Type } from 'typebox';
import type { ApiDeps, App } from '../api/types.ts';
import type { VariantRecord } from '../domain/image-view.ts';

/** What the CDN may keep forever: variant keys never change content. */
const IMMUTABLE = 'public, max-age=31536000, immutable';
/** Misses and not-yet-ready images are cached briefly, so an edge does not pin a 404 for long. */
const SHORT = 'public, max-age=60';

/** Delivery metrics, registered in the API's registry. */
export function createDeliveryMetrics(deps: ApiDeps) {
  return {
    bytes: new Counter({
      name: 'darkroom_delivery_bytes_total',
      help: 'Bytes of variants served by the delivery routes',
      registers: [deps.metrics.registry],
    }),
    responses: new Counter({
      name: 'darkroom_delivery_responses_total',
      help: 'Delivery responses by status',
      labelNames: ['status'],
      registers: [deps.metrics.registry],
    }),
  };
}

/**
 * GET/HEAD /img/{id}/{variant} — the origin a CDN sits in front of: a variant streamed from storage
 * with a strong ETag, Last-Modified, Range and conditional requests, and an immutable cache policy.
 */
export function deliveryRoutes(app: App, deps: ApiDeps): void {
  const metrics = createDeliveryMetrics(deps);
  app.route({
    method: ['GET', 'HEAD'],
    url: '/img/:id/:variant',
    schema: {
      summary: 'Deliver a variant (public images)',
      tags: ['delivery'],
      params: Type.Object({ id: Type.String({ maxLength: 64 }), variant: Type.String({ maxLength: 64 }) }),
      security: [],
    },
    handler: async (request, reply) => {
      const notFound = (message: string) => {
        metrics.responses.inc({ status: '404' });
        return reply
          .code(404)
          .header('cache-control', SHORT)
          .send({ error: { code: 'not_found', message } });
      };
      const { id, variant } = request.params;
      const row = /^[0-9a-f-]{36}$/.test(id) ? await deps.images.findById(id) : undefined;
      // Private images are served only through signed URLs, which this origin does not issue yet.
      if (row?.visibility !== 'public') return notFound(`no image ${id}`);
      if (row.status !== 'ready') return notFound(`image ${id} is ${row.status}, not ready`);
      const record = (JSON.parse(row.variants) as Record<string, VariantRecord>)[variant];
      if (!record) return notFound(`image ${id} has no variant ${variant}`);

      const opened = await deps.storage.openForDelivery(record.key, {
        range: request.headers.range,
        ifNoneMatch: request.headers['if-none-match'],
        ifModifiedSince: request.headers['if-modified-since'],
      });
      metrics.responses.inc({ status: String(opened.status) });
      if (opened.status === 404) return notFound(`variant ${variant} of image ${id} is missing from storage`);
      if (opened.status === 416) {
        return reply
          .code(416)
          .header('content-range', `bytes */${record.bytes}`)
          .header('cache-control', SHORT)
          .send({ error: { code: 'invalid_request', message: 'the requested range is not satisfiable' } });
      }
      reply.header('cache-control', IMMUTABLE).header('accept-ranges', 'bytes');
      if (opened.body === undefined) return reply.code(304).send();
      const h = opened.headers;
      reply
        .code(opened.status)
        .header('content-type', h.ContentType ?? record.contentType)
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
    },
  });
}
