import {
  Counter,
  type CounterConfiguration,
  Gauge,
  Histogram,
  type LabelValues,
  Registry,
} from 'prom-client';
import type { QueueDepth } from '../queue/port.ts';

/** A counter that a hot path can also add to cheaply (see {@link talliedCounter}). */
export interface TalliedCounter<L extends string> extends Counter<L> {
  /** An adder for one label set: a plain number, added to the counter whenever it is read. */
  tally(labels: LabelValues<L>): { add(n?: number): void };
}

/**
 * A prom-client counter whose tallies are plain numbers until the registry is read (a scrape), so the
 * lean delivery path pays an addition per request instead of prom-client's label hashing and checks.
 * Nothing is lost or approximated: a scrape sees every request answered before it.
 */
export function talliedCounter<L extends string>(config: CounterConfiguration<L>): TalliedCounter<L> {
  const pending: Array<{ labels: LabelValues<L>; n: number }> = [];
  const counter = new Counter<L>({
    ...config,
    collect() {
      for (const p of pending) {
        if (p.n === 0) continue;
        this.inc(p.labels, p.n);
        p.n = 0;
      }
    },
  }) as TalliedCounter<L>;
  counter.tally = (labels) => {
    const p = { labels, n: 0 };
    pending.push(p);
    return {
      add: (n = 1) => {
        p.n += n;
      },
    };
  };
  return counter;
}

/** The API's Prometheus metrics, in a registry of its own so several apps can share a process (tests). */
export interface ApiMetrics {
  registry: Registry;
  requests: TalliedCounter<'method' | 'route' | 'status'>;
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
    requests: talliedCounter({
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
