import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import path from 'node:path';
import { PRIVATE_PREFIX } from '@darkroom/contract';
import { type EdgeDecision, type EdgeKey, isRefusal } from '@darkroom/edge';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { ApiError } from '../api/errors.ts';
import { deliverySecurityHeaders } from '../api/security-headers.ts';
import type { ApiDeps } from '../api/types.ts';
import type { DeliveryRow } from '../db/images.ts';
import { onStatusEventsCommitted } from '../db/status-signal.ts';
import { storedVariants } from '../domain/image-view.ts';
import { parseVariants } from '../pipeline/index.ts';
import { IMMUTABLE, privateFor } from './cache-policy.ts';
import { createLocalEdge } from './edge.ts';
import { createHotObjects, type HotObject } from './hot-objects.ts';
import type { DeliveryMetrics } from './metrics.ts';
import { RenderBusy, Renderer, type RenderJob, RenderSourceMissing, renderSource } from './renderer.ts';
import { heldHeaders, heldStatus, type ServeDeps, serveObject } from './serve-object.ts';
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
  /**
   * The lean path for hot immutable objects: answers a GET or HEAD of a public variant or transform held
   * in memory, without the framework, exactly as `deliver` would (same checks of the image's record, same
   * headers and metrics): the status sent, at once on SQLite (its record is read synchronously), else a
   * promise of it. Undefined (or resolving to it) when the
   * request is anything else; it must then take the full route, untouched.
   */
  serveHeld(req: IncomingMessage, res: ServerResponse): number | Promise<number | undefined> | undefined;
  /** Stops listening for this process's commits. */
  close(): void;
}

/** The path shapes the lean path takes: `/img/{id}/{segment}` with nothing the router would decode or refuse. */
const LEAN_PATH = /^\/img\/[A-Za-z0-9_.,=~-]{1,64}\/[A-Za-z0-9_.,=~-]{1,64}$/;
/** Edge decisions remembered (they depend on the target and Accept alone); the memory is cleared past this. */
const MAX_DECISIONS = 10_000;

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
  const decisions = new Map<string, EdgeDecision>();
  const decide = (target: string, accept: string | undefined): EdgeDecision => {
    // A target never holds a newline (the HTTP parser refuses one), so this key is unambiguous.
    const memo = accept === undefined ? target : `${target}\n${accept}`;
    let d = decisions.get(memo);
    if (!d) {
      d = edge.decide(target, accept);
      if (decisions.size >= MAX_DECISIONS) decisions.clear();
      decisions.set(memo, d);
    }
    return d;
  };
  const answers = new WeakMap<HotObject, Map<string, OutgoingHttpHeaders>>();
  // Records read during this turn of the event loop, shared by the requests it handles (as DataLoader
  // batches within a tick): under load many requests for one image are parsed together, and one read
  // answers them all. Forgotten when the turn ends, and at once when this process commits a status change
  // (a DELETE answered here is refused by the next request, whichever turn it comes in).
  const rowsThisTurn = new Map<string, DeliveryRow | undefined>();
  const forgetRows = () => rowsThisTurn.clear();
  const stopForgetting = onStatusEventsCommitted(forgetRows);
  const rowNow = (id: string): DeliveryRow | undefined | false => {
    if (rowsThisTurn.has(id)) return rowsThisTurn.get(id);
    const row = deps.images.deliveryRowNow(id);
    if (row === false) return false;
    if (rowsThisTurn.size === 0) setImmediate(forgetRows);
    rowsThisTurn.set(id, row);
    return row;
  };
  /** Keys whose image passed renderJob's checks, with the record's updated_at then (any change re-checks). */
  const checked = new Map<string, number>();
  // The lean path's metrics: plain additions, handed to prom-client when /metrics is read.
  const responses = new Map<number, { add(): void }>();
  const responseCounter = (status: number) => {
    let c = responses.get(status);
    if (!c) {
      c = metrics.responses.tally({ status: String(status) });
      responses.set(status, c);
    }
    return c;
  };
  const transformHits = metrics.transformCache.tally({ result: 'hit' });
  const bytesServed = metrics.bytes.tally({});
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
    hot: createHotObjects(64 * 1024 ** 2, 1024 ** 2),
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
  function renderJob(d: EdgeKey, row: DeliveryRow): RenderJob {
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
      const d = decide(target, request.headers.accept);
      if (isRefusal(d)) throw new ApiError(d.refuse.code, d.refuse.message);
      if (edgeKey !== undefined && d.key !== edgeKey) {
        throw notFound(
          `the edge asked for ${edgeKey}, this origin maps the request to ${d.key}: DARKROOM_VARIANTS and DARKROOM_PRIVATE_PATH must match the stack's variants and privatePathPattern`,
        );
      }
      const row = await deps.images.deliveryRow(d.id);
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
            if ((await deps.images.deliveryRow(d.id))?.status !== 'ready') {
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

    close: stopForgetting,

    serveHeld(req, res) {
      const method = req.method;
      const target = req.url ?? '';
      if ((method !== 'GET' && method !== 'HEAD') || !target.startsWith('/img/')) return undefined;
      const h = req.headers;
      // What serveObject leaves to storage, it must still do.
      if (h.range !== undefined || h['if-modified-since'] !== undefined) return undefined;
      const q = target.indexOf('?');
      if (!LEAN_PATH.test(q === -1 ? target : target.slice(0, q))) return undefined;
      const d = decide(target, h.accept);
      if (isRefusal(d) || d.private) return undefined;
      const held = serving.hot?.get(d.key);
      if (!held) return undefined;
      const answer = (row: DeliveryRow | undefined) => answerHeld(req, res, d, held, row);
      let row: DeliveryRow | undefined | false;
      try {
        row = rowNow(d.id);
      } catch {
        // A failed lookup is the full route's to report.
        return undefined;
      }
      if (row !== false) return answer(row);
      return deps.images.deliveryRow(d.id).then(answer, () => undefined);
    },
  };

  /** The lean path's response headers for `held`, built once per status and representation class. */
  function answerHeaders(held: HotObject, status: 200 | 304, d: EdgeKey): OutgoingHttpHeaders {
    let built = answers.get(held);
    if (!built) {
      built = new Map();
      answers.set(held, built);
    }
    const memo = d.negotiated ? `${status} ${d.choice}` : String(status);
    let headers = built.get(memo);
    if (!headers) {
      // In the order the full route sets them: the representation, the object, then the security hook's.
      // Node reads the object without changing it, so one can serve every such answer.
      headers = {
        ...(d.negotiated ? { vary: 'Accept', 'x-darkroom-format': d.choice } : {}),
        ...heldHeaders(held, status, IMMUTABLE),
        ...deliverySecurityHeaders(status === 200 ? held.contentType : undefined),
      };
      built.set(memo, headers);
    }
    return headers;
  }

  /** Sends `held` for `d` when `row` lets deliver() serve it from memory; the status sent, else undefined. */
  function answerHeld(
    req: IncomingMessage,
    res: ServerResponse,
    d: EdgeKey,
    held: HotObject,
    row: DeliveryRow | undefined,
  ): number | undefined {
    // Anything deliver() would refuse or treat differently takes the full route, which says why.
    if (!row || row.visibility === 'private' || row.status !== 'ready') return undefined;
    if (checked.get(d.key) !== row.updated_at) {
      try {
        renderJob(d, row);
      } catch {
        return undefined;
      }
      if (checked.size >= MAX_DECISIONS) checked.clear();
      checked.set(d.key, row.updated_at);
    }
    const status = heldStatus(req.headers['if-none-match'], held);
    res.writeHead(status, answerHeaders(held, status, d));
    responseCounter(status).add();
    if (d.kind === 'transform') transformHits.add();
    if (status === 200 && req.method === 'GET') {
      bytesServed.add(held.body.length);
      res.end(held.body);
    } else {
      res.end();
    }
    return status;
  }
}
