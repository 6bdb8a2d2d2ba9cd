import { Counter } from 'prom-client';
import type { ApiDeps } from '../api/types.ts';

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

export type DeliveryMetrics = ReturnType<typeof createDeliveryMetrics>;
