import pino, { type DestinationStream, type Logger } from 'pino';
import pretty from 'pino-pretty';
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

/** Whether logs are read by a person: `auto` means stdout is a terminal. */
export function prettyLogs(
  format: Config['logFormat'],
  stdoutIsTty = process.stdout.isTTY === true,
): boolean {
  return format === 'pretty' || (format === 'auto' && stdoutIsTty);
}

/**
 * Readable lines for a terminal: time, level, `[role component]` and the message, other fields indented
 * below it. Written synchronously so the last lines before an exit are not lost.
 */
function prettyStream(): DestinationStream {
  // pino-pretty leaves out a field whose prettifier returns undefined (its type says string).
  const hidden = (() => undefined) as unknown as () => string;
  return pretty({
    colorize: process.stdout.isTTY === true,
    translateTime: 'SYS:HH:MM:ss',
    ignore: 'pid,hostname,role,component',
    messageFormat: prettyMessage,
    // A request's fields are folded into its one line (prettyMessage) instead of a block below it.
    customPrettifiers: { req: hidden, res: hidden, reqId: hidden, responseTime: hidden },
    sync: true,
  });
}

/** `[start api] request completed 200 in 6 ms`: the role, the component, the message, a request's gist. */
function prettyMessage(log: Record<string, unknown>, messageKey: string): string {
  const req = log.req as { method?: string; url?: string } | undefined;
  const res = log.res as { statusCode?: number } | undefined;
  const component = typeof log.component === 'string' ? ` ${log.component}` : '';
  let text = `[${String(log.role)}${component}] ${String(log[messageKey] ?? '')}`;
  if (req?.method) text += ` ${req.method} ${req.url ?? ''}`;
  if (res?.statusCode !== undefined) text += ` ${res.statusCode}`;
  if (typeof log.responseTime === 'number') text += ` in ${Math.round(log.responseTime)} ms`;
  return text;
}

/**
 * The process logger, on stdout: JSON lines (one `role` field per process role), or readable lines when a
 * person reads them (DARKROOM_LOG_FORMAT); secrets redacted either way.
 */
export function createLogger(config: Pick<Config, 'logLevel' | 'logFormat'>, role: string): Logger {
  const options = {
    level: config.logLevel,
    base: { role },
    timestamp: pino.stdTimeFunctions.isoTime,
    serializers: { req: requestSerializer },
    redact: { paths: REDACT_PATHS, censor: REDACTED },
  };
  return prettyLogs(config.logFormat) ? pino(options, prettyStream()) : pino(options);
}
