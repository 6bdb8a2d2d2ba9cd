import type { StatusEventData } from '@darkroom/contract';
import { Type } from 'typebox';
import { imageView } from '../../domain/uploads.ts';
import { ApiError } from '../errors.ts';
import type { EventHub, StatusEvent } from '../event-hub.ts';
import { errors } from '../schemas.ts';
import { rawApiHeaders } from '../security-headers.ts';
import type { ApiDeps, App } from '../types.ts';

const HEARTBEAT_MS = 15_000;

/** GET /v1/events — Server-Sent Events of the caller's image status changes, resumable with Last-Event-ID. */
export function eventsRoute(app: App, deps: ApiDeps & { hub: EventHub }): void {
  app.get(
    '/v1/events',
    {
      schema: {
        summary: 'Stream status changes of your images (Server-Sent Events)',
        description:
          'Each event: `id` (send it back as Last-Event-ID to resume), `event: status`, and data `{imageId, status, at, image}`. Browsers that cannot set headers on EventSource may pass the token as `access_token` and the resume point as `lastEventId`.',
        tags: ['images'],
        querystring: Type.Object({
          lastEventId: Type.Optional(Type.Integer({ minimum: 0 })),
          access_token: Type.Optional(Type.String()),
        }),
        response: { 200: { type: 'string', description: 'text/event-stream' }, ...errors(400, 401, 429) },
      },
    },
    async (request, reply) => {
      const owner = request.caller.sub;
      // Each stream holds a socket and a timer: an owner gets a bounded number per process. The newest is
      // refused rather than the oldest closed, since EventSource reconnects a closed stream at once and
      // two tabs would then take turns closing each other; a refused one stays refused.
      const limit = deps.config.maxEventStreams;
      if (deps.hub.streamsOf(owner) >= limit) {
        throw new ApiError(
          'too_many_streams',
          `at most ${limit} event streams may be open at once per user; close one (another tab?) and try again`,
          { 'retry-after': '30' },
        );
      }
      const header = String(request.headers['last-event-id'] ?? '');
      const resumeFrom = /^\d+$/.test(header) ? Number(header) : request.query.lastEventId;
      const res = reply.raw;
      reply.hijack();
      res.writeHead(200, {
        ...rawApiHeaders(request.headers.origin, deps.config.corsOrigins),
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-store',
        connection: 'keep-alive',
        // Proxies (nginx) must pass events through as they come.
        'x-accel-buffering': 'no',
      });
      res.write('retry: 2000\n\n');

      // The hub only delivers events newer than any a fresh stream could have seen.
      let sent = resumeFrom ?? 0;
      const pending: StatusEvent[] = [];
      let catchingUp = resumeFrom !== undefined;
      const send = async (e: StatusEvent) => {
        if (e.id <= sent) return;
        sent = e.id;
        const row = e.image === undefined ? await deps.images.findOwned(owner, e.imageId) : e.image;
        const data: StatusEventData = {
          imageId: e.imageId,
          status: e.status,
          at: new Date(e.at).toISOString(),
          ...(row ? { image: imageView(deps, row) } : {}),
        };
        res.write(`id: ${e.id}\nevent: status\ndata: ${JSON.stringify(data)}\n\n`);
      };
      // Events written in order, even though each needs a lookup.
      let chain = Promise.resolve();
      const enqueue = (e: StatusEvent) => {
        chain = chain
          .then(() => send(e))
          .catch((err: unknown) => request.log.warn({ err }, 'SSE write failed'));
      };
      const unsubscribe = deps.hub.subscribe(
        owner,
        (e) => (catchingUp ? pending.push(e) : enqueue(e)),
        () => res.end(),
      );
      const heartbeat = setInterval(() => res.write(': keep-alive\n\n'), HEARTBEAT_MS);
      request.raw.on('close', () => {
        clearInterval(heartbeat);
        unsubscribe();
      });
      if (resumeFrom !== undefined) {
        // Replay what the client missed up to where the hub stands (it streams what comes after, in
        // order, even from writers that commit late), then whatever arrived meanwhile; `send` skips repeats.
        const upTo = deps.hub.horizon;
        for (let after = resumeFrom; ; ) {
          const rows = await deps.images.eventsSince(owner, after, 500, upTo);
          for (const r of rows)
            enqueue({ id: r.id, owner, imageId: r.image_id, status: r.status, at: r.created_at });
          if (rows.length < 500) break;
          after = rows[rows.length - 1]!.id;
        }
        catchingUp = false;
        for (const e of pending.splice(0)) enqueue(e);
      }
    },
  );
}
