import type { ApiErrorCode, ImageErrorCode } from '@darkroom/contract';

/**
 * Stable error codes the SDK raises: the API's catalogue (passed through unchanged, e.g. `rate_limited`),
 * an image's failure codes, and the SDK's own.
 */
export type ClientErrorCode =
  | ApiErrorCode
  | ImageErrorCode
  | 'too_small'
  | 'too_many_files'
  | 'network_error'
  | 'http_error'
  | 'storage_rejected'
  | 'cancelled'
  | 'processing_failed'
  | 'file_unreadable'
  | 'file_mismatch'
  | 'resume_unavailable'
  | 'timeout';

/** Every error the SDK throws or reports: a stable `code` and a message a person understands. */
export class UploadError extends Error {
  override readonly name = 'UploadError';
  constructor(
    readonly code: ClientErrorCode,
    message: string,
    /** HTTP status when the error came from a response. */
    readonly status?: number,
    /** Seconds the server asked to wait (Retry-After), when it said. */
    readonly retryAfter?: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** True for errors worth another attempt: network failures, 5xx, 429 (and S3's 503 SlowDown). */
export function isRetryable(err: unknown): boolean {
  if (!(err instanceof UploadError)) return false;
  if (err.code === 'network_error' || err.code === 'timeout') return true;
  if (err.status === undefined) return false;
  return err.status >= 500 || err.status === 429;
}

/** The AbortError shape browsers and Node use, turned into a `cancelled` UploadError. */
export function cancelledError(): UploadError {
  return new UploadError('cancelled', 'The upload was cancelled.');
}

/**
 * Failures that fail the same way however often they are retried: the file itself (corrupt, not an image,
 * too large, a type the server refuses) or a request the server will never take. Codes from the contract's
 * catalogue (API_ERRORS, IMAGE_ERROR_CODES) and the SDK's own refusals before any byte is sent.
 */
const PERMANENT: ReadonlySet<ClientErrorCode> = new Set<ClientErrorCode>([
  'unsupported_type',
  'too_large',
  'too_many_pixels',
  'corrupt_image',
  'empty_file',
  'too_small',
  'too_many_files',
  'invalid_request',
  'file_unreadable',
]);

/** True when retrying cannot help (say why instead of offering Retry). */
export function isPermanent(code: string): boolean {
  return PERMANENT.has(code as ClientErrorCode);
}

/** True for the failures that mean "the server or the network is away for now" (wait, then resume). */
export function isOutage(err: unknown): boolean {
  if (!(err instanceof UploadError)) return false;
  if (err.code === 'network_error' || err.code === 'timeout') return true;
  // 429 is the server pacing this client, not an outage: withRetry already waited what it asked.
  return err.status !== undefined && err.status >= 500;
}
