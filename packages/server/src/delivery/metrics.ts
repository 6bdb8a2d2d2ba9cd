import { Counter, Gauge, Histogram } from 'prom-client';
import { talliedCounter } from '../api/metrics.ts';
import type { ApiDeps } from '../api/types.ts';

/** Delivery metrics, registered in the API's registry. */
export function createDeliveryMetrics(deps: ApiDeps) {
  return {
    bytes: talliedCounter({
      name: 'darkroom_delivery_bytes_total',
      help: 'Bytes of variants and transforms served by the delivery routes',
      registers: [deps.metrics.registry],
    }),
    responses: talliedCounter({
      name: 'darkroom_delivery_responses_total',
      help: 'Delivery responses by status',
      labelNames: ['status'],
      registers: [deps.metrics.registry],
    }),
    /** A hit found the rendering in storage; a miss had to wait for one (its own or a concurrent request's). */
    transformCache: talliedCounter({
      name: 'darkroom_transform_cache_total',
      help: 'On-the-fly transform requests by result: hit (served from storage) or miss (rendered first)',
      labelNames: ['result'],
      registers: [deps.metrics.registry],
    }),
    /** One observation per rendering actually made (transforms, formats, fallbacks): concurrent requests share one. */
    transformRenderSeconds: new Histogram({
      name: 'darkroom_transform_render_seconds',
      help: 'Time to render and store one object the edge asked for (a transform, a missing format, a fallback)',
      buckets: [0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [deps.metrics.registry],
    }),
    /** First renders of this process now: `running` at most DARKROOM_RENDER_CONCURRENCY, `waiting` for a slot. */
    renders: new Gauge({
      name: 'darkroom_transform_renders',
      help: 'First renders now, by state: running (at most DARKROOM_RENDER_CONCURRENCY) or waiting for a slot',
      labelNames: ['state'],
      registers: [deps.metrics.registry],
    }),
    /** First renders refused with 503 render_busy because DARKROOM_RENDER_QUEUE were already waiting. */
    rendersRefused: new Counter({
      name: 'darkroom_transform_renders_refused_total',
      help: 'First renders refused (503 render_busy) because the render queue was full',
      registers: [deps.metrics.registry],
    }),
  };
}

export type DeliveryMetrics = ReturnType<typeof createDeliveryMetrics>;
