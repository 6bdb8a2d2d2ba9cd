import path from 'node:path';
import { PRIVATE_PREFIX } from '@darkroom/contract';
import { type EdgeKey, isRefusal } from '@darkroom/edge';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { ApiError } from '../api/errors.ts';
import type { ApiDeps } from '../api/types.ts';
import type { ImageRow } from '../db/images.ts';
import { storedVariants } from '../domain/image-view.ts';
import { parseVariants } from '../pipeline/index.ts';
import { IMMUTABLE, privateFor } from './cache-policy.ts';
import { createLocalEdge } from './edge.ts';
import { HotObjects } from './hot-objects.ts';
import type { DeliveryMetrics } from './metrics.ts';
import { RenderBusy, Renderer, type RenderJob, RenderSourceMissing, renderSource } from './renderer.ts';
import { type ServeDeps, serveObject } from './serve-object.ts';
import { checkTransformLimits, type TransformLimits } from './transform-options.ts';

/** Serves one delivery request: the edge's decision, then the object, made first when storage lacks it. */
export interface Delivery {
  /**
   * `target` is the viewer's request (path and query as received); `edgeKey`, when CloudFront's failover
   * asks, the key the edge computed, which this origin must agree with.
   */
  deliver(
    request: FastifyRequest,
    reply: FastifyReply,
    target: string,
    edgeKey?: string,
  ): Promise<FastifyReply>;
}

const notFound = (message: string) => new ApiError('not_found', message);
/** Retry-After of a 503 render_busy. */
const RENDER_BUSY_RETRY_S = 5;

/**
 * The local stand-in for the whole edge (CloudFront's key group, the viewer-request function, S3) and the
 * API's failover role behind it. Unlike CloudFront it also reads the image's record before serving, so a
 * deleted or not-ready image is refused at once (an edge keeps its copies until invalidated).
 */
export function createDelivery(deps: ApiDeps, metrics: DeliveryMetrics): Delivery {
  const { config } = deps;
  const edge = createLocalEdge(config);
  const qualities = new Map(parseVariants(config.worker.variants).map((v) => [v.name, v.quality]));
  const limits: TransformLimits = {
    maxWidth: config.delivery.transformMaxWidth,
    maxHeight: config.delivery.transformMaxHeight,
    maxPixels: config.delivery.transformMaxPixels,
  };
  const serving: ServeDeps = {
    storage: deps.storage,
    metrics,
    // 64 MiB of objects up to 1 MiB (a few hundred typical variants) per API process: enough for the
    // hot set an origin sees behind a CDN, small next to the worker's memory.
    hot: new HotObjects(64 * 1024 ** 2, 1024 ** 2),
  };
  const renderer = new Renderer({
    storage: deps.storage,
    metrics,
    workRoot: path.join(config.dataDir, 'transforms'),
    maxSourcePixels: config.worker.maxPixels,
    concurrency: config.delivery.renderConcurrency,
    maxWaiting: config.delivery.renderQueue,
  });

  /** How storage lacking `d.key` is made good, from the image's stored variants. */
  function renderJob(d: EdgeKey, row: ImageRow): RenderJob {
    // Own properties only: the variant name comes from the request.
    const variants = storedVariants(row);
    const source = renderSource(variants);
    if (!source) throw notFound(`image ${row.id} has no variant to render from`);
    const common = {
      source,
      format: d.format,
      lossless: row.format === 'png' || row.format === 'gif',
      key: d.key,
      cacheControl: d.key.startsWith(PRIVATE_PREFIX) ? undefined : IMMUTABLE,
    };
    if (d.kind === 'transform') {
      const t = d.transform!;
      checkTransformLimits(t, source, limits);
      const resize =
        t.w || t.h
          ? { ...(t.w ? { width: t.w } : {}), ...(t.h ? { height: t.h } : {}), fit: t.fit }
          : undefined;
      return { ...common, ...(resize ? { resize } : {}), quality: t.q || undefined };
    }
    const record = variants[d.segment];
    if (!record) throw notFound(`image ${row.id} has no variant ${d.segment}`);
    // Another format of a stored variant: the same size, drawn again from the largest variant.
    return {
      ...common,
      resize: { width: record.width, height: record.height, fit: 'fill' },
      quality: qualities.get(d.segment),
    };
  }

  return {
    async deliver(request, reply, target, edgeKey) {
      // CloudFront's trusted key group checks the private path's signature before the function runs.
      let cacheControl: string | undefined;
      if (target.startsWith(`${config.delivery.privatePath}/`)) {
        const verdict = deps.signedUrls.verify(target);
        if (!verdict.ok) throw new ApiError(verdict.code, verdict.message);
        cacheControl = privateFor(deps.signedUrls.remainingSeconds(verdict.expires));
      }
      const d = edge.decide(target, request.headers.accept);
      if (isRefusal(d)) throw new ApiError(d.refuse.code, d.refuse.message);
      if (edgeKey !== undefined && d.key !== edgeKey) {
        throw notFound(
          `the edge asked for ${edgeKey}, this origin maps the request to ${d.key}: DARKROOM_VARIANTS and DARKROOM_PRIVATE_PATH must match the stack's variants and privatePathPattern`,
        );
      }
      const row = await deps.images.findById(d.id);
      if (!row) throw notFound(`no image ${d.id}`);
      if (row.visibility === 'private' && !d.private) {
        throw new ApiError('bad_signature', `image ${d.id} is private: use the signed URL the API returned`);
      }
      if (row.visibility !== 'private' && d.private) throw notFound(`no private image ${d.id}`);
      if (row.status !== 'ready') throw notFound(`image ${d.id} is ${row.status}, not ready`);
      const job = renderJob(d, row);
      // Vary for caches that key on Accept, x-darkroom-format for those that key on the class.
      if (d.negotiated) reply.header('vary', 'Accept').header('x-darkroom-format', d.choice);
      let rendered = false;
      try {
        const sent = await serveObject(request, reply, serving, d.key, {
          contentType: d.format === 'fallback' ? 'image/jpeg' : `image/${d.format}`,
          bytes: undefined,
          missing: `${d.key} is missing from storage`,
          produce: async () => {
            rendered = true;
            await renderer.ensure(job);
            // The image may have been deleted while it rendered: what was just stored for it must be
            // neither served (immutable, cached everywhere) nor kept (no record owns it any more).
            if ((await deps.images.findById(d.id))?.status !== 'ready') {
              await deps.storage.deleteAll([d.key]);
              throw notFound(`no image ${d.id}`);
            }
          },
          ...(cacheControl ? { cacheControl } : {}),
        });
        if (d.kind === 'transform') metrics.transformCache.inc({ result: rendered ? 'miss' : 'hit' });
        return sent;
      } catch (err) {
        if (err instanceof RenderSourceMissing) throw notFound(err.message);
        // A slot frees when a render ends: a tenth of a second for WebP, a second or more for AVIF.
        if (err instanceof RenderBusy) {
          throw new ApiError('render_busy', undefined, { 'retry-after': String(RENDER_BUSY_RETRY_S) });
        }
        throw err;
      }
    },
  };
}
