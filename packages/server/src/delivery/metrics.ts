import { Counter, Histogram } from 'prom-client';
import type { ApiDeps } from '../api/types.ts';

/** Delivery metrics, registered in the API's registry. */
export function createDeliveryMetrics(deps: ApiDeps) {
  return {
    bytes: new Counter({
      name: 'darkroom_delivery_bytes_total',
      help: 'Bytes of variants and transforms served by the delivery routes',
      registers: [deps.metrics.registry],
    }),
    responses: new Counter({
      name: 'darkroom_delivery_responses_total',
      help: 'Delivery responses by status',
      labelNames: ['status'],
      registers: [deps.metrics.registry],
    }),
    /** A hit found the rendering in storage; a miss had to wait for one (its own or a concurrent request's). */
    transformCache: new Counter({
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
  };
}

export type DeliveryMetrics = ReturnType<typeof createDeliveryMetrics>;
