import path from 'node:path';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { ApiDeps } from '../api/types.ts';
import type { ImageRow } from '../db/images.ts';
import type { VariantRecord } from '../domain/image-view.ts';
import { SHORT } from './cache-policy.ts';
import { acceptClass } from './negotiate.ts';
import { type ServeDeps, sendNotFound, serveObject } from './serve-object.ts';
import {
  canonicalTransform,
  InvalidTransform,
  outputBound,
  parseTransform,
  type TransformLimits,
} from './transform-options.ts';
import { verifyTransformSignature } from './transform-signature.ts';
import {
  resolveTransformFormat,
  TransformRenderer,
  TransformSourceMissing,
  transformKey,
  transformSource,
} from './transforms.ts';

/** The `/img/{id}/{options}?sig=` half of the delivery route. */
export interface TransformDelivery {
  /** Whether the request carries the right signature for its path (checked before any lookup). */
  signed(request: FastifyRequest, id: string, options: string): boolean;
  /** 403 `bad_signature`. */
  refuse(reply: FastifyReply): FastifyReply;
  /** Serves the transform of a ready image, rendering it first when storage does not have it yet. */
  serve(
    request: FastifyRequest,
    reply: FastifyReply,
    row: ImageRow,
    options: string,
    cacheControl: string | undefined,
  ): Promise<FastifyReply>;
}

/** Wires transform parsing, signatures, negotiation and the single-flight renderer to the routes. */
export function createTransformDelivery(deps: ApiDeps, serving: ServeDeps): TransformDelivery {
  const { metrics } = serving;
  const { delivery } = deps.config;
  const limits: TransformLimits = {
    maxWidth: delivery.transformMaxWidth,
    maxHeight: delivery.transformMaxHeight,
    maxPixels: delivery.transformMaxPixels,
  };
  const renderer = new TransformRenderer({
    storage: deps.storage,
    metrics,
    workRoot: path.join(deps.config.dataDir, 'transforms'),
    maxSourcePixels: deps.config.worker.maxPixels,
  });
  const invalid = (reply: FastifyReply, message: string) => {
    metrics.responses.inc({ status: '400' });
    return reply
      .code(400)
      .header('cache-control', SHORT)
      .send({ error: { code: 'invalid_transform', message } });
  };

  return {
    signed(request, id, options) {
      const { sig } = request.query as { sig?: unknown };
      return verifyTransformSignature(
        delivery.transformSecret,
        id,
        options,
        typeof sig === 'string' ? sig : undefined,
      );
    },

    refuse(reply) {
      metrics.responses.inc({ status: '403' });
      return reply
        .code(403)
        .header('cache-control', SHORT)
        .send({
          error: {
            code: 'bad_signature',
            message: 'transform URLs need ?sig=, the HMAC-SHA256 of the path made with the transform secret',
          },
        });
    },

    async serve(request, reply, row, segment, cacheControl) {
      let options: ReturnType<typeof parseTransform>;
      try {
        options = parseTransform(segment, limits);
      } catch (err) {
        if (err instanceof InvalidTransform) return invalid(reply, err.message);
        throw err;
      }
      const source = transformSource(JSON.parse(row.variants) as Record<string, VariantRecord>);
      if (!source) return sendNotFound(reply, metrics, `image ${row.id} has no variant to transform`);
      const bound = outputBound(options, source);
      if (
        bound.width > limits.maxWidth ||
        bound.height > limits.maxHeight ||
        bound.width * bound.height > limits.maxPixels
      ) {
        return invalid(
          reply,
          `the result would be ${bound.width}x${bound.height}; the limits are ${limits.maxWidth}x${limits.maxHeight} and ${limits.maxPixels} pixels`,
        );
      }
      const { format, choice } = resolveTransformFormat(
        options,
        acceptClass(request.headers.accept),
        row.format,
      );
      if (choice) reply.header('vary', 'Accept').header('x-darkroom-format', choice);
      const key = transformKey(row.id, canonicalTransform({ ...options, format }), format);

      let rendered = false;
      try {
        const sent = await serveObject(request, reply, serving, key, {
          contentType: `image/${format}`,
          bytes: undefined,
          missing: `the transform of image ${row.id} is missing from storage`,
          produce: async () => {
            rendered = true;
            await renderer.ensure({ source, options, format, key });
          },
          ...(cacheControl ? { cacheControl } : {}),
        });
        metrics.transformCache.inc({ result: rendered ? 'miss' : 'hit' });
        return sent;
      } catch (err) {
        if (err instanceof TransformSourceMissing) return sendNotFound(reply, metrics, err.message);
        throw err;
      }
    },
  };
}
