import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { QueueDepth } from '../queue/port.ts';

/** The API's Prometheus metrics, in a registry of its own so several apps can share a process (tests). */
export interface ApiMetrics {
  registry: Registry;
  requests: Counter<'method' | 'route' | 'status'>;
  duration: Histogram<'method' | 'route'>;
  uploads: Counter<'method' | 'outcome'>;
}

/**
 * Creates the registry and the request and upload metrics. `queueDepth`, when given, is read at each
 * scrape (the queue is shared by every worker, so any API process can report it).
 */
export function createApiMetrics(queueDepth?: () => Promise<QueueDepth>): ApiMetrics {
  const registry = new Registry();
  if (queueDepth) {
    new Gauge({
      name: 'darkroom_queue_messages',
      help: 'Messages on the uploads queue by state (visible, in_flight, delayed, dead_lettered); a state the broker does not report is left out',
      labelNames: ['state'],
      registers: [registry],
      async collect() {
        const depth = await queueDepth().catch(() => undefined);
        if (!depth) return;
        const states = {
          visible: depth.visible,
          in_flight: depth.inFlight,
          delayed: depth.delayed,
          dead_lettered: depth.deadLettered,
        };
        for (const [state, n] of Object.entries(states)) if (n >= 0) this.set({ state }, n);
      },
    });
  }
  return {
    registry,
    requests: new Counter({
      name: 'darkroom_http_requests_total',
      help: 'HTTP requests by method, route and status',
      labelNames: ['method', 'route', 'status'],
      registers: [registry],
    }),
    duration: new Histogram({
      name: 'darkroom_http_request_duration_seconds',
      help: 'HTTP request latency by method and route',
      labelNames: ['method', 'route'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: [registry],
    }),
    uploads: new Counter({
      name: 'darkroom_upload_intents_total',
      help: 'Upload intents by method and outcome (issued, or the error code)',
      labelNames: ['method', 'outcome'],
      registers: [registry],
    }),
  };
}
