/**
 * @module Guards a Node HTTP server against clients that hold connections without using them: headers sent
 * byte by byte (slow loris), bodies trickled (slow POST), connections left open, and one address opening
 * many. Written here rather than taken from a library: the well-kept options are reverse proxies (nginx's
 * client_body_timeout, Apache's mod_reqtimeout MinRate), and `darkroom start` must hold on its own with
 * nothing in front of it; Node gives headers, request and idle timeouts, but no minimum body rate (its
 * `requestTimeout` bounds the whole request, which would cut a steady 1 GiB upload) and no per-address cap.
 */
import type { IncomingMessage, Server } from 'node:http';
import type { Socket } from 'node:net';

/** What a server tolerates from a client. Times in milliseconds; 0 turns a limit off. */
export interface ConnectionLimits {
  /** The whole header block of a request must arrive within this (a connection's first request counts from its start). */
  readonly headersTimeoutMs: number;
  /**
   * The whole request must arrive within this: for servers whose bodies are small (the API, SQS). 0 for
   * S3, whose bodies may be 5 GiB; its bodies are held to the minimum rate below instead.
   */
  readonly requestTimeoutMs: number;
  /** A connection with no traffic either way for this long is closed (slow readers, stalled peers). */
  readonly idleTimeoutMs: number;
  /** An idle keep-alive connection waits this long for its next request. */
  readonly keepAliveTimeoutMs: number;
  /**
   * A request body must advance by at least `bodyMinBytesPerSecond × bodyWindowMs` in every window of
   * this length, or the connection is closed: a trickle is cut after a window or two, while an upload of
   * any size that keeps moving is not. A window in which the server itself is not reading (backpressure,
   * or it has not started reading yet) does not count against the client.
   */
  readonly bodyWindowMs: number;
  readonly bodyMinBytesPerSecond: number;
  /** Open connections one client address may hold; the next is closed at once. */
  readonly maxConnectionsPerClient: number;
}

/** Defaults, each with its reason. */
export const DEFAULT_LIMITS = {
  // Browsers and SDKs send headers in one packet; 20 s is Apache's mod_reqtimeout default.
  headersTimeoutMs: 20_000,
  requestTimeoutMs: 0,
  // Longer than every quiet period a healthy connection has: SQS long polls (20 s), SSE heartbeats (15 s),
  // the embedded S3 assembling a large multipart upload.
  idleTimeoutMs: 120_000,
  // Longer than an AWS load balancer's 60 s idle timeout, so the balancer closes first.
  keepAliveTimeoutMs: 65_000,
  bodyWindowMs: 20_000,
  // 1 KiB/s: a fraction of the slowest mobile link; a trickle of a byte every few seconds is far below.
  bodyMinBytesPerSecond: 1024,
  // Far above what one browser (6 per origin) or SDK (4-8 parts at a time) opens, far below a process's
  // descriptor limit shared by three servers.
  maxConnectionsPerClient: 128,
} as const satisfies ConnectionLimits;

/** How often the body watchdog looks at the requests it follows. */
const TICK_MS = 1000;

interface WatchedBody {
  readonly req: IncomingMessage;
  readonly socket: Socket;
  windowStart: number;
  bytesAtWindowStart: number;
}

/** A guarded server: `stop()` ends the watchdog (call it when closing the server). */
export interface GuardedServer {
  stop(): void;
  /** Connections currently open per client address (for tests and metrics). */
  readonly connections: ReadonlyMap<string, number>;
}

function hasBody(req: IncomingMessage): boolean {
  const length = req.headers['content-length'];
  return req.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
}

/**
 * Whether the server is not taking the body right now: the request's buffer is full (backpressure, or
 * the handler has not started reading), so the socket is not read and the client cannot be blamed. A
 * client that fills the buffer and then stops is left to the idle timeout.
 */
function serverIsHolding(req: IncomingMessage): boolean {
  return req.readableLength >= req.readableHighWaterMark;
}

/**
 * Applies `limits` to `server`; call it before `listen()` and after the server's own `checkContinue`
 * listener, if it has one (bodies sent after `100 Continue` are followed too).
 */
export function guardServer(server: Server, limits: ConnectionLimits): GuardedServer {
  server.headersTimeout = limits.headersTimeoutMs;
  server.requestTimeout =
    limits.requestTimeoutMs > 0 ? Math.max(limits.requestTimeoutMs, limits.headersTimeoutMs) : 0;
  server.keepAliveTimeout = limits.keepAliveTimeoutMs;
  // Node checks headers and request timeouts on this interval (30 s by default: a late cut). It is read
  // when the server starts listening; @types/node only knows it as a createServer option.
  (server as Server & { connectionsCheckingInterval: number }).connectionsCheckingInterval = Math.min(
    TICK_MS,
    Math.max(100, limits.headersTimeoutMs / 4),
  );
  if (limits.idleTimeoutMs > 0) server.setTimeout(limits.idleTimeoutMs);

  const connections = new Map<string, number>();
  if (limits.maxConnectionsPerClient > 0) {
    server.on('connection', (socket: Socket) => {
      const address = socket.remoteAddress;
      if (address === undefined) return;
      const open = connections.get(address) ?? 0;
      if (open >= limits.maxConnectionsPerClient) {
        socket.destroy();
        return;
      }
      connections.set(address, open + 1);
      socket.once('close', () => {
        const left = (connections.get(address) ?? 1) - 1;
        if (left > 0) connections.set(address, left);
        else connections.delete(address);
      });
    });
  }

  const watched = new Set<WatchedBody>();
  let timer: NodeJS.Timeout | undefined;
  const minBytes = (limits.bodyMinBytesPerSecond * limits.bodyWindowMs) / 1000;
  const tick = () => {
    const now = Date.now();
    for (const w of watched) {
      if (w.req.complete || w.socket.destroyed) {
        watched.delete(w);
        continue;
      }
      if (now - w.windowStart < limits.bodyWindowMs) continue;
      const got = w.socket.bytesRead - w.bytesAtWindowStart;
      if (got < minBytes && !serverIsHolding(w.req)) {
        watched.delete(w);
        w.socket.destroy();
        continue;
      }
      w.windowStart = now;
      w.bytesAtWindowStart = w.socket.bytesRead;
    }
    if (watched.size === 0) {
      clearInterval(timer);
      timer = undefined;
    }
  };
  const watch = (req: IncomingMessage) => {
    if (!hasBody(req) || req.complete) return;
    const w: WatchedBody = {
      req,
      socket: req.socket,
      windowStart: Date.now(),
      bytesAtWindowStart: req.socket.bytesRead,
    };
    watched.add(w);
    req.once('end', () => watched.delete(w));
    req.once('close', () => watched.delete(w));
    // One timer per server, running only while some body is on its way.
    timer ??= setInterval(tick, Math.min(TICK_MS, limits.bodyWindowMs / 4));
    timer.unref();
  };
  if (limits.bodyWindowMs > 0 && limits.bodyMinBytesPerSecond > 0) {
    server.prependListener('request', watch);
    if (server.listenerCount('checkContinue') > 0) server.prependListener('checkContinue', watch);
  }
  return {
    connections,
    stop() {
      clearInterval(timer);
      timer = undefined;
      watched.clear();
    },
  };
}
