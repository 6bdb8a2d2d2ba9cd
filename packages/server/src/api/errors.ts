import { API_ERRORS, type ApiErrorCode } from '@darkroom/contract';
import { DomainError } from '../domain/errors.ts';

/**
 * An API failure with a stable code from the contract's catalogue (which gives its status and default
 * message); `headers` (e.g. Retry-After) are sent with it. The error handler renders `{ error: { code, message } }`.
 */
export class ApiError extends Error {
  readonly status: number;
  constructor(
    readonly code: ApiErrorCode,
    message?: string,
    readonly headers: Readonly<Record<string, string>> = {},
    options?: { cause?: unknown },
  ) {
    super(message ?? API_ERRORS[code].message, options);
    this.name = 'ApiError';
    this.status = API_ERRORS[code].status;
  }
}

/**
 * The HTTP edge's translation of a domain failure: the catalogue gives the status, `retryAfterSeconds`
 * becomes Retry-After; code, message and cause are kept. Anything else is returned as it is.
 */
export function fromDomainError<E>(err: E): ApiError | E {
  if (!(err instanceof DomainError)) return err;
  const headers: Record<string, string> =
    err.retryAfterSeconds === undefined ? {} : { 'retry-after': String(err.retryAfterSeconds) };
  return new ApiError(err.code, err.message, headers, { cause: err.cause });
}
