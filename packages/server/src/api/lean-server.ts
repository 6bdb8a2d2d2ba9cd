import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import type { Delivery } from '../delivery/origin.ts';
import type { ApiMetrics } from './metrics.ts';

/** The route label the lean path's requests are counted under: the delivery route's own. */
const ROUTE = '/img/:id/:variant';

/** Fastify's default request ids (`req-0`, `req-1`, …), from one counter shared with the lean path. */
export function requestIds(): () => string {
  let next = 0;
  return () => `req-${(next++).toString(36)}`;
}

/**
 * The API's HTTP server (Fastify's `serverFactory`): each request is first offered to delivery's lean
 * path, which answers hot immutable objects without the framework; every other request, and any the lean
 * path declines, goes to Fastify's handler untouched. What Fastify does around a request the lean path
 * does too: the request counter and duration histogram under the route's label, and, when `info` is on,
 * the same two log lines with a request id from the same sequence.
 */
export function leanServer(
  fastifyHandler: (req: IncomingMessage, res: ServerResponse) => void,
  delivery: Delivery,
  metrics: ApiMetrics,
  log: Logger,
  genReqId: () => string,
): http.Server {
  const counted = new Map<string, { add(): void }>();
  const timed = new Map<string, { observe(v: number): void }>();
  const observe = (method: string, status: number, seconds: number) => {
    const key = `${method} ${status}`;
    let counter = counted.get(key);
    if (!counter) {
      counter = metrics.requests.tally({ method, route: ROUTE, status: String(status) });
      counted.set(key, counter);
    }
    counter.add();
    let histogram = timed.get(method);
    if (!histogram) {
      histogram = metrics.duration.labels({ method, route: ROUTE });
      timed.set(method, histogram);
    }
    histogram.observe(seconds);
  };

  return http.createServer((req, res) => {
    const start = performance.now();
    let served: ReturnType<Delivery['serveHeld']>;
    try {
      served = delivery.serveHeld(req, res);
    } catch (err) {
      served = Promise.reject(err);
    }
    if (served === undefined) fastifyHandler(req, res);
    else if (typeof served === 'number') observeServed(req, res, served, start);
    else {
      served
        .then((status) => {
          if (status === undefined) fastifyHandler(req, res);
          else observeServed(req, res, status, start);
        })
        .catch((err: unknown) => {
          // serveHeld declines rather than throw; this is the last guard against a crash.
          if (!res.headersSent) fastifyHandler(req, res);
          else {
            log.error({ err }, 'lean delivery path failed mid-response');
            res.destroy();
          }
        });
    }
  });

  /** What Fastify would have logged and counted for a request the lean path answered. */
  function observeServed(req: IncomingMessage, res: ServerResponse, status: number, start: number): void {
    const requestLog = log.isLevelEnabled('info') ? log.child({ reqId: genReqId() }) : undefined;
    requestLog?.info(
      {
        req: {
          method: req.method,
          url: req.url,
          host: req.headers.host,
          ip: req.socket.remoteAddress,
          socket: req.socket,
        },
      },
      'incoming request',
    );
    // As Fastify's onResponse: once the response has been handed over whole.
    const finished = () => {
      const ms = performance.now() - start;
      observe(req.method ?? 'GET', status, ms / 1000);
      requestLog?.info({ res: { statusCode: status }, responseTime: ms }, 'request completed');
    };
    if (res.writableFinished) finished();
    else res.once('finish', finished);
  }
}
