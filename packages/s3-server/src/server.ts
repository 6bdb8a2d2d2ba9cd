import { randomBytes } from 'node:crypto';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseQuery, verifySignature } from '@darkroom/aws-auth';
import { type ConnectionLimits, DEFAULT_LIMITS, guardServer } from '@darkroom/http-guard';
import type { Logger } from 'pino';
import type { S3Request, S3ServerOptions } from './context.ts';
import { answerPreflight, applyCors, type CorsRule } from './cors.ts';
import { asS3Error, S3Error } from './errors.ts';
import { postObject } from './handlers/post-object.ts';
import { hostId, NotificationRouter, type NotificationSender } from './notifications.ts';
import { isOutOfSpace } from './receive.ts';
import { route } from './router.ts';
import { ObjectStore } from './store/object-store.ts';
import { plainXml } from './xml.ts';

/** A running embedded S3 server. */
export interface EmbeddedS3Server {
  readonly url: string;
  readonly port: number;
  readonly store: ObjectStore;
  /** Stops accepting, lets in-flight requests finish (up to `graceMs`), then closes the store. */
  close(graceMs?: number): Promise<void>;
}

export interface CreateS3ServerOptions extends S3ServerOptions {
  host: string;
  port: number;
  /** Folder that holds the index and the blobs. */
  dataDir: string;
  log: Logger;
  sender?: NotificationSender | undefined;
  /**
   * Timeouts and the per-client connection cap (default DEFAULT_LIMITS): no total request timeout, since
   * a body may be 5 GiB; bodies must keep moving instead.
   */
  limits?: ConnectionLimits | undefined;
}

/** 5 GiB: S3's limit for a single PUT, POST or part. */
export const S3_MAX_OBJECT_BYTES = 5 * 1024 ** 3;

// Bodies up to this size are drained before an error is sent so the connection can be reused;
// larger ones get `Connection: close` rather than being read just to be thrown away.
const DRAIN_LIMIT = 1024 * 1024;

function requestId(): string {
  return randomBytes(8).toString('hex').toUpperCase();
}

function decodeSegment(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    throw new S3Error('InvalidURI');
  }
}

/** Splits addressing into bucket and key: `{bucket}.{domain}` hosts, else the first path segment. */
export function resolveAddress(
  hostHeader: string | undefined,
  rawPath: string,
  domain: string,
): { bucket: string | undefined; key: string | undefined } {
  const host = (hostHeader ?? '').replace(/:\d+$/, '').toLowerCase();
  const suffix = `.${domain.toLowerCase()}`;
  if (host.endsWith(suffix) && host.length > suffix.length) {
    const key = rawPath.length > 1 ? decodeSegment(rawPath.slice(1)) : undefined;
    return { bucket: host.slice(0, -suffix.length), key };
  }
  const path = rawPath.slice(1);
  if (path === '') return { bucket: undefined, key: undefined };
  const slash = path.indexOf('/');
  if (slash < 0) return { bucket: decodeSegment(path), key: undefined };
  const key = path.slice(slash + 1);
  return { bucket: decodeSegment(path.slice(0, slash)), key: key === '' ? undefined : decodeSegment(key) };
}

/**
 * Reads and discards a small request body before an error answer, so the client gets the answer rather
 * than a connection cut while it is still writing (EPIPE, which SDKs report as a network error). Small
 * means a Content-Length, or for aws-chunked bodies sent with Transfer-Encoding: chunked (the SDK's
 * default for streams) an x-amz-decoded-content-length, of at most DRAIN_LIMIT; what is read is counted
 * and reading stops past twice that (chunk framing and signatures included), whatever was declared.
 */
async function drainSmallBody(req: IncomingMessage): Promise<boolean> {
  if (req.complete) return true;
  const declared = Number(
    req.headers['content-length'] ?? req.headers['x-amz-decoded-content-length'] ?? Number.NaN,
  );
  if (!(declared <= DRAIN_LIMIT) || req.destroyed) return false;
  return new Promise((resolve) => {
    let read = 0;
    const done = (ok: boolean) => {
      clearTimeout(timer);
      req.off('data', count);
      if (!ok) req.pause();
      resolve(ok);
    };
    const count = (chunk: Buffer) => {
      read += chunk.length;
      if (read > 2 * DRAIN_LIMIT) done(false);
    };
    const timer = setTimeout(() => done(false), 2000);
    req.on('data', count);
    req.once('end', () => done(true));
    req.once('error', () => done(false));
  });
}

async function sendError(r: S3Request, err: unknown): Promise<void> {
  const { req, res } = r;
  const known = asS3Error(err);
  const s3err =
    known ?? new S3Error('InternalError', undefined, {}, { cause: err instanceof Error ? err : undefined });
  if (!known) {
    if (isOutOfSpace(err)) {
      return sendError(r, new S3Error('InsufficientStorage', undefined, {}, { cause: err }));
    }
    r.log.error({ err, requestId: r.id, method: r.method, path: r.rawPath }, 'S3 request failed');
  }
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const canContinue = !r.awaitingContinue && (await drainSmallBody(req));
  if (!canContinue && !r.awaitingContinue) res.setHeader('connection', 'close');
  if (s3err.code === 'InvalidRange')
    res.setHeader('content-range', `bytes */${s3err.fields.ActualObjectSize}`);
  if (r.method === 'HEAD') {
    res.writeHead(s3err.status, { 'content-length': 0 });
    res.end();
    return;
  }
  const body = plainXml('Error', {
    Code: s3err.code,
    Message: s3err.message,
    ...s3err.fields,
    Resource: r.rawPath,
    RequestId: r.id,
    HostId: hostId(),
  });
  res.writeHead(s3err.status, {
    'content-type': 'application/xml',
    'content-length': Buffer.byteLength(body),
  });
  res.end(body);
}

/** Starts the embedded S3-compatible server over a filesystem-backed store; resolves once it listens. */
export async function createS3Server(opts: CreateS3ServerOptions): Promise<EmbeddedS3Server> {
  const store = await ObjectStore.open(opts.dataDir);
  const log = opts.log;
  const notifications = new NotificationRouter(store, opts.region, opts.sender, log);
  const options: S3ServerOptions = {
    region: opts.region,
    domain: opts.domain,
    accessKeys: opts.accessKeys,
    maxObjectBytes: opts.maxObjectBytes,
  };

  async function handle(req: IncomingMessage, res: ServerResponse, awaitingContinue: boolean): Promise<void> {
    const started = performance.now();
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const rawPath = q < 0 ? url : url.slice(0, q);
    const id = requestId();
    res.setHeader('x-amz-request-id', id);
    res.setHeader('server', 'Darkroom');
    // Stored objects carry whatever Content-Type the uploader chose; browsers must not guess a riskier one.
    res.setHeader('x-content-type-options', 'nosniff');
    const partial = {
      req,
      res,
      id,
      method: req.method ?? 'GET',
      rawPath,
      auth: undefined,
      awaitingContinue,
      store,
      notifications,
      options,
      log,
    };
    let r: S3Request = { ...partial, query: {}, bucket: undefined, key: undefined };
    try {
      const query = parseQuery(q < 0 ? '' : url.slice(q + 1));
      r = { ...partial, query, ...resolveAddress(req.headers.host, rawPath, opts.domain) };
      const origin = req.headers.origin;
      if (r.bucket !== undefined && (origin !== undefined || r.method === 'OPTIONS')) {
        const rules = store.getBucket(r.bucket)?.cors as CorsRule[] | undefined;
        if (r.method === 'OPTIONS') {
          return answerPreflight(
            res,
            rules,
            origin,
            req.headers['access-control-request-method'],
            req.headers['access-control-request-headers'],
          );
        }
        applyCors(res, rules, origin, r.method);
      }
      const contentType = req.headers['content-type'] ?? '';
      if (
        r.method === 'POST' &&
        r.bucket !== undefined &&
        r.key === undefined &&
        contentType.startsWith('multipart/form-data')
      ) {
        r.awaitingContinue = false;
        if (awaitingContinue) res.writeContinue();
        await postObject(r);
      } else {
        r.auth = await verifySignature(
          { method: r.method, rawPath, query, headers: req.headers, headersDistinct: req.headersDistinct },
          opts.accessKeys,
          { region: opts.region, now: new Date() },
        );
        await route(r);
      }
    } catch (err) {
      await sendError(r, err);
    } finally {
      log.debug(
        {
          requestId: id,
          method: r.method,
          path: rawPath,
          status: res.statusCode,
          ms: Math.round(performance.now() - started),
        },
        's3 request',
      );
    }
  }

  const server = http.createServer();
  server.on('request', (req, res) => void handle(req, res, false));
  // Answering auth before "100 Continue" lets a refused upload fail without sending its body, as on S3.
  server.on('checkContinue', (req, res) => void handle(req, res, true));
  // Node answers any other Expect value (an empty one included) with 417; S3 ignores them and serves the
  // request (ceph s3-tests test_object_create_bad_expect_mismatch/_empty: "garbage, but S3 succeeds").
  server.on('checkExpectation', (req, res) => server.emit('request', req, res));
  const guard = guardServer(server, opts.limits ?? DEFAULT_LIMITS);
  server.on('clientError', (err, socket) => {
    if (socket.writable)
      socket.end('HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-length: 0\r\n\r\n');
    log.debug({ err }, 'malformed HTTP request');
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  notifications.start();
  const host = opts.host.includes(':') ? `[${opts.host}]` : opts.host;

  return {
    url: `http://${host}:${port}`,
    port,
    store,
    async close(graceMs = 10_000) {
      notifications.stop();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      const timer = setTimeout(() => server.closeAllConnections(), graceMs);
      await closed;
      clearTimeout(timer);
      guard.stop();
      store.close();
    },
  };
}
