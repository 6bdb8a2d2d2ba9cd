import { Type } from 'typebox';
import type { ApiDeps, App } from '../api/types.ts';
import type { VariantRecord } from '../domain/image-view.ts';
import { privateFor } from './cache-policy.ts';
import { HotObjects } from './hot-objects.ts';
import { createDeliveryMetrics } from './metrics.ts';
import { acceptClass, isNegotiated, pickRepresentation, requestedFormat } from './negotiate.ts';
import { type ServeDeps, sendNotFound, serveObject } from './serve-object.ts';
import { sendSignatureRefusal } from './signed-urls.ts';
import { looksLikeTransform } from './transform-options.ts';
import { createTransformDelivery } from './transform-route.ts';

/**
 * GET/HEAD /img/{id}/{variant} — the origin a CDN sits in front of: a variant streamed from storage
 * with a strong ETag, Last-Modified, Range and conditional requests, and an immutable cache policy.
 */
export function deliveryRoutes(app: App, deps: ApiDeps): void {
  const metrics = createDeliveryMetrics(deps);
  const serving: ServeDeps = {
    storage: deps.storage,
    metrics,
    // 64 MiB of objects up to 1 MiB (a few hundred typical variants) per API process: enough for the
    // hot set an origin sees behind a CDN, small next to the worker's memory.
    hot: new HotObjects(64 * 1024 ** 2, 1024 ** 2),
  };
  const transforms = createTransformDelivery(deps, serving);
  app.route({
    method: ['GET', 'HEAD'],
    url: '/img/:id/:variant',
    schema: {
      summary: 'Deliver a variant (private images need the signed URL the API returns)',
      tags: ['delivery'],
      params: Type.Object({ id: Type.String({ maxLength: 64 }), variant: Type.String({ maxLength: 64 }) }),
      security: [],
    },
    handler: async (request, reply) => {
      const notFound = (message: string) => sendNotFound(reply, metrics, message);
      const { id, variant } = request.params;
      // `/img/{id}/{options}` (w_800,…) is a transform; its HMAC is checked before any lookup, so an
      // unsigned or forged URL costs the origin nothing.
      const transform = looksLikeTransform(variant);
      if (transform && !transforms.signed(request, id, variant)) return transforms.refuse(reply);
      const row = /^[0-9a-f-]{36}$/.test(id) ? await deps.images.findById(id) : undefined;
      if (!row) return notFound(`no image ${id}`);
      // Anything not public needs a valid signed URL, checked before the image's state is revealed.
      let cacheControl: string | undefined;
      if (row.visibility !== 'public') {
        const verdict = deps.signedUrls.verify(request.url);
        if (!verdict.ok) return sendSignatureRefusal(reply, metrics, verdict);
        cacheControl = privateFor(deps.signedUrls.remainingSeconds(verdict.expires));
      }
      if (row.status !== 'ready') return notFound(`image ${id} is ${row.status}, not ready`);
      if (transform) return transforms.serve(request, reply, row, variant, cacheControl);
      const record = (JSON.parse(row.variants) as Record<string, VariantRecord>)[variant];
      if (!record) return notFound(`image ${id} has no variant ${variant}`);

      // A variant stored in several formats answers with the one the Accept header (or ?f=) picks, and
      // says so: Vary for caches that key on Accept, x-darkroom-format for those that key on the choice.
      let chosen = { key: record.key, contentType: record.contentType, bytes: record.bytes };
      if (isNegotiated(record)) {
        const wanted = requestedFormat(request.query) ?? acceptClass(request.headers.accept);
        const picked = pickRepresentation(record, wanted);
        reply.header('vary', 'Accept').header('x-darkroom-format', picked.choice);
        chosen = picked;
      }
      return serveObject(request, reply, serving, chosen.key, {
        contentType: chosen.contentType,
        bytes: chosen.bytes,
        missing: `variant ${variant} of image ${id} is missing from storage`,
        ...(cacheControl ? { cacheControl } : {}),
      });
    },
  });
}
