import { Type } from 'typebox';
import type { ApiDeps, App } from '../api/types.ts';
import type { VariantRecord } from '../domain/image-view.ts';
import { createDeliveryMetrics } from './metrics.ts';
import { sendNotFound, serveObject } from './serve-object.ts';

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
      const notFound = (message: string) => sendNotFound(reply, metrics, message);
      const { id, variant } = request.params;
      const row = /^[0-9a-f-]{36}$/.test(id) ? await deps.images.findById(id) : undefined;
      // Private images are served only through signed URLs, which this origin does not issue yet.
      if (row?.visibility !== 'public') return notFound(`no image ${id}`);
      if (row.status !== 'ready') return notFound(`image ${id} is ${row.status}, not ready`);
      const record = (JSON.parse(row.variants) as Record<string, VariantRecord>)[variant];
      if (!record) return notFound(`image ${id} has no variant ${variant}`);

      return serveObject(request, reply, { storage: deps.storage, metrics }, record.key, {
        contentType: record.contentType,
        bytes: record.bytes,
        missing: `variant ${variant} of image ${id} is missing from storage`,
      });
    },
  });
}
