import { createHash, randomUUID } from 'node:crypto';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type AccessKey, AwsRequestError, parseQuery, verifySignature } from '@darkroom/aws-auth';
import { type ConnectionLimits, DEFAULT_LIMITS, guardServer } from '@darkroom/http-guard';
import type { Logger } from 'pino';
import { SQS_ERRORS, SqsError } from './errors.ts';
import { ACTIONS, type ActionContext } from './handlers.ts';
import { SqsStore } from './store/queue-store.ts';

/** A running embedded SQS server. */
export interface EmbeddedSqsServer {
  readonly url: string;
  readonly port: number;
  readonly store: SqsStore;
  /** Stops accepting, ends long polls (empty), lets requests finish (up to `graceMs`), closes the store. */
  close(graceMs?: number): Promise<void>;
}

export interface CreateSqsServerOptions {
  host: string;
  port: number;
  /** Folder that holds `sqs.sqlite`. */
  dataDir: string;
  region: string;
  accessKeys: readonly AccessKey[];
  log: Logger;
  /** Timeouts and the per-client connection cap (default DEFAULT_LIMITS, with a 60 s request timeout). */
  limits?: ConnectionLimits | undefined;
}

/** Every SQS request is small (8 MiB at most): the whole of it must arrive within this. */
export const SQS_REQUEST_TIMEOUT_MS = 60_000;

const JSON_CONTENT_TYPE = 'application/x-amz-json-1.0';
const TARGET_PREFIX = 'AmazonSQS.';
/** A 1 MiB batch, JSON-escaped, with room to spare; anything larger is refused unread. */
const MAX_REQUEST_BYTES = 8 * 1024 * 1024;

function hostPort(host: string, port: number): string {
  return `${host.includes(':') ? `[${host}]` : host}:${port}`;
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > MAX_REQUEST_BYTES) throw new SqsError('RequestEntityTooLarge');
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_REQUEST_BYTES) throw new SqsError('RequestEntityTooLarge');
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

/** The SigV4 verifier's verdicts in the words AWS's JSON services (SQS) use for them. */
function authError(err: AwsRequestError): SqsError {
  switch (err.code) {
    case 'AccessDenied':
      return err.detail === undefined
        ? new SqsError('MissingAuthenticationToken')
        : new SqsError('IncompleteSignature', err.detail);
    case 'InvalidAccessKeyId':
      return new SqsError('InvalidClientTokenId');
    case 'SignatureDoesNotMatch':
      return new SqsError('SignatureDoesNotMatch');
    case 'RequestTimeTooSkewed':
      return new SqsError(
        'SignatureDoesNotMatch',
        `Signature expired: ${String(err.fields.RequestTime)} is now earlier or later than ${String(err.fields.ServerTime)} by more than 15 minutes.`,
      );
    case 'AuthorizationHeaderMalformed':
    case 'AuthorizationQueryParametersError':
      // AWS answers a wrong region or service in the scope with SignatureDoesNotMatch.
      return /region|service/.test(err.message)
        ? new SqsError(
            'SignatureDoesNotMatch',
            `Credential should be scoped to a valid region and service 'sqs'. ${err.message}`,
          )
        : new SqsError('IncompleteSignature', err.detail);
    default:
      return new SqsError('IncompleteSignature', err.detail);
  }
}

function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    ...headers,
    'content-type': JSON_CONTENT_TYPE,
    'content-length': Buffer.byteLength(text),
  });
  res.end(text);
}

function sendError(res: ServerResponse, err: SqsError): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const spec = SQS_ERRORS[err.code];
  sendJson(
    res,
    err.status,
    { __type: spec.type, message: err.message },
    { 'x-amzn-query-error': `${spec.queryCode};${spec.fault}` },
  );
}

/** A query-protocol (form-encoded) request gets the query protocol's XML error, so old clients say why. */
function sendQueryProtocolError(res: ServerResponse, requestId: string): void {
  const body =
    '<?xml version="1.0"?><ErrorResponse xmlns="http://queue.amazonaws.com/doc/2012-11-05/"><Error>' +
    '<Type>Sender</Type><Code>InvalidAction</Code><Message>This endpoint speaks only the SQS JSON protocol ' +
    '(AWS SDK v3, AWS CLI v2, boto3 1.34.90 or later).</Message><Detail/></Error>' +
    `<RequestId>${requestId}</RequestId></ErrorResponse>`;
  res.writeHead(400, { 'content-type': 'text/xml', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

/** Starts the embedded SQS-compatible server (JSON protocol, SigV4) over a SQLite store; resolves once it listens. */
export async function createSqsServer(opts: CreateSqsServerOptions): Promise<EmbeddedSqsServer> {
  const store = SqsStore.open(opts.dataDir, opts.region);
  const log = opts.log;
  let fallbackBase = '';

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const started = performance.now();
    const requestId = randomUUID();
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const rawPath = q < 0 ? url : url.slice(0, q);
    const target = String(req.headers['x-amz-target'] ?? '');
    const action = target.startsWith(TARGET_PREFIX) ? target.slice(TARGET_PREFIX.length) : '';
    res.setHeader('x-amzn-requestid', requestId);
    const aborted = new AbortController();
    res.once('close', () => aborted.abort());
    try {
      const contentType = String(req.headers['content-type'] ?? '');
      if (
        !req.headers['x-amz-target'] &&
        (contentType.startsWith('application/x-www-form-urlencoded') || /[?&]Action=/.test(url))
      ) {
        req.resume();
        sendQueryProtocolError(res, requestId);
        return;
      }
      const body = await readBody(req);
      const query = parseQuery(q < 0 ? '' : url.slice(q + 1));
      let auth: Awaited<ReturnType<typeof verifySignature>>;
      try {
        auth = await verifySignature(
          {
            method: req.method ?? 'POST',
            rawPath,
            query,
            headers: req.headers,
            headersDistinct: req.headersDistinct,
          },
          opts.accessKeys,
          {
            region: opts.region,
            now: new Date(),
            service: 'sqs',
            bodySha256: createHash('sha256').update(body).digest('hex'),
          },
        );
      } catch (err) {
        throw err instanceof AwsRequestError ? authError(err) : err;
      }
      const handler = req.method === 'POST' && Object.hasOwn(ACTIONS, action) ? ACTIONS[action] : undefined;
      if (!handler) {
        throw new SqsError(
          'InvalidAction',
          action
            ? `The action ${action} is not valid for this endpoint.`
            : 'Missing or invalid X-Amz-Target header; expected AmazonSQS.<Action>.',
        );
      }
      let input: unknown;
      try {
        input = body.length === 0 ? {} : JSON.parse(body.toString('utf8'));
      } catch {
        input = undefined;
      }
      if (typeof input !== 'object' || input === null || Array.isArray(input)) {
        throw new SqsError('SerializationException');
      }
      const ctx: ActionContext = {
        store,
        baseUrl: req.headers.host ? `http://${req.headers.host}` : fallbackBase,
        accessKeyId: auth.accessKeyId,
        signal: aborted.signal,
      };
      const output = await handler(ctx, input as Record<string, unknown>);
      if (!res.destroyed) sendJson(res, 200, output);
    } catch (err) {
      if (err instanceof SqsError) {
        if (err.code === 'RequestEntityTooLarge') res.setHeader('connection', 'close');
        sendError(res, err);
      } else {
        log.error({ err, requestId, action }, 'SQS request failed');
        sendError(res, new SqsError('InternalError'));
      }
    } finally {
      log.debug(
        { requestId, action, status: res.statusCode, ms: Math.round(performance.now() - started) },
        'sqs request',
      );
    }
  }

  const server = http.createServer();
  server.on('request', (req, res) => void handle(req, res));
  const guard = guardServer(
    server,
    opts.limits ?? { ...DEFAULT_LIMITS, requestTimeoutMs: SQS_REQUEST_TIMEOUT_MS },
  );
  server.on('clientError', (err, socket) => {
    if (socket.writable)
      socket.end('HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-length: 0\r\n\r\n');
    log.debug({ err }, 'malformed HTTP request');
  });
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(opts.port, opts.host, () => resolve());
    });
  } catch (err) {
    guard.stop();
    store.close();
    throw err;
  }
  const port = (server.address() as AddressInfo).port;
  fallbackBase = `http://${hostPort(opts.host, port)}`;

  return {
    url: fallbackBase,
    port,
    store,
    async close(graceMs = 10_000) {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      store.shutdown();
      server.closeIdleConnections();
      const timer = setTimeout(() => server.closeAllConnections(), graceMs);
      await closed;
      clearTimeout(timer);
      guard.stop();
      store.close();
    },
  };
}
