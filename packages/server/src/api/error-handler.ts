import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { ApiError, fromDomainError } from './errors.ts';

const DB_DOWN_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  '57P01',
  '57P02',
  '57P03',
  '08000',
  '08003',
  '08006',
]);

/** Connection-level database failures: the request may succeed later, so they are 503s, not 500s. */
function isDatabaseUnavailable(err: unknown): boolean {
  const e = err as { code?: string; message?: string } | undefined;
  return (
    (e?.code !== undefined && DB_DOWN_CODES.has(e.code)) ||
    /Connection terminated|timeout exceeded when trying to connect|SQLITE_BUSY/.test(e?.message ?? '')
  );
}

/** Renders every failure as `{ error: { code, message } }` with the right status. */
export function handleError(thrown: FastifyError | Error, request: FastifyRequest, reply: FastifyReply) {
  // The domain and the adapters below it throw neutral DomainErrors; this is where they get a status.
  const err = fromDomainError(thrown);
  let apiError: ApiError;
  if (err instanceof ApiError) {
    apiError = err;
  } else if ('validation' in err && err.validation) {
    // Fastify's message already names the field: "body/size must be >= 1".
    apiError = new ApiError('invalid_request', err.message);
  } else if ('statusCode' in err && typeof err.statusCode === 'number' && err.statusCode < 500) {
    const code = ({ 404: 'not_found', 413: 'too_large', 415: 'unsupported_type' } as const)[err.statusCode];
    apiError = new ApiError(code ?? 'invalid_request', err.message);
  } else if (isDatabaseUnavailable(err)) {
    request.log.warn({ err }, 'database unavailable');
    apiError = new ApiError('database_unavailable', undefined, { 'retry-after': '5' });
  } else {
    request.log.error({ err }, 'unhandled error');
    apiError = new ApiError('internal');
  }
  if (apiError.status >= 500 && apiError.cause) request.log.warn({ err: apiError.cause }, apiError.message);
  return reply
    .code(apiError.status)
    .headers(apiError.headers)
    .send({ error: { code: apiError.code, message: apiError.message } });
}
