import pino, { type Logger } from 'pino';
import type { Config } from './config.ts';

/**
 * Query parameters that carry a credential or a capability (lower case): bearer tokens EventSource must
 * send in the URL, the S3 webhook secret, SigV4 and CloudFront signatures, transform signatures, session
 * tokens. Their values never reach a log line.
 */
const SECRET_PARAMS = new Set([
  'access_token',
  'id_token',
  'refresh_token',
  'token',
  'sig',
  'signature',
  'x-amz-signature',
  'x-amz-security-token',
  'x-amz-credential',
  'awsaccesskeyid',
]);

export const REDACTED = '[REDACTED]';

/** A URL (path and query) with the values of secret-bearing query parameters replaced by `[REDACTED]`. */
export function redactUrl(url: string): string {
  const q = url.indexOf('?');
  if (q < 0) return url;
  const pairs = url.slice(q + 1).split('&');
  let changed = false;
  for (let i = 0; i < pairs.length; i++) {
    const pair = pairs[i]!;
    const eq = pair.indexOf('=');
    const rawName = eq < 0 ? pair : pair.slice(0, eq);
    let name: string;
    try {
      name = decodeURIComponent(rawName).toLowerCase();
    } catch {
      name = rawName.toLowerCase();
    }
    if (SECRET_PARAMS.has(name) && eq >= 0) {
      pairs[i] = `${rawName}=${REDACTED}`;
      changed = true;
    }
  }
  return changed ? `${url.slice(0, q)}?${pairs.join('&')}` : url;
}

/** What a request log line says about a request: Fastify's fields, with the URL redacted. */
export function requestSerializer(req: {
  method?: string;
  url?: string;
  host?: string;
  ip?: string;
  socket?: { remotePort?: number };
}) {
  return {
    method: req.method,
    url: redactUrl(req.url ?? ''),
    host: req.host,
    remoteAddress: req.ip,
    remotePort: req.socket?.remotePort,
  };
}

/** Header values that are credentials, wherever a log line carries a request's or response's headers. */
const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["x-amz-security-token"]',
  'headers.authorization',
  'headers.cookie',
  'headers["x-amz-security-token"]',
];

/** The process logger: JSON lines on stdout, one `role` field per process role, secrets redacted. */
export function createLogger(config: Pick<Config, 'logLevel'>, role: string): Logger {
  return pino({
    level: config.logLevel,
    base: { role },
    timestamp: pino.stdTimeFunctions.isoTime,
    serializers: { req: requestSerializer },
    redact: { paths: REDACT_PATHS, censor: REDACTED },
  });
}
