import { API_ERRORS, type ApiErrorCode } from '@darkroom/contract';

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
