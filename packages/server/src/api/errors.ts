/**
 * The API's error catalogue: one stable code per failure, with its HTTP status and a default message.
 * Routes throw ApiError; the error handler renders `{ error: { code, message } }`.
 */
export const API_ERRORS = {
  invalid_request: [400, 'The request is not valid.'],
  unauthorized: [401, 'Authentication is required: send Authorization: Bearer <JWT>.'],
  invalid_token: [401, 'The bearer token is not valid.'],
  token_expired: [401, 'The bearer token has expired; get a new one.'],
  not_found: [404, 'Not found.'],
  conflict: [409, 'The resource is not in a state that allows this.'],
  unsupported_type: [415, 'This content type is not accepted.'],
  too_large: [413, 'The declared size is larger than allowed.'],
  rate_limited: [429, 'Too many uploads; try again later.'],
  too_many_pending: [429, 'Too many uploads are still pending; finish or cancel some first.'],
  quota_exceeded: [429, 'Your storage quota is used up; delete some images first.'],
  upload_incomplete: [409, 'The upload has not reached storage yet.'],
  upload_mismatch: [409, 'What reached storage does not match what was declared.'],
  storage_unavailable: [503, 'Storage is not reachable right now; try again shortly.'],
  queue_unavailable: [
    503,
    'The processing queue is not reachable right now; complete the upload again shortly.',
  ],
  database_unavailable: [503, 'The database is not reachable right now; try again shortly.'],
  invalid_event: [400, 'The body is not an S3 event notification.'],
  invalid_transform: [400, 'The transform options are not valid.'],
  bad_signature: [403, 'The URL is not signed, or not for this path; use the URL the API returned.'],
  url_expired: [403, 'This signed URL has expired; ask the API for a fresh one.'],
  range_not_satisfiable: [416, 'The requested range is not satisfiable.'],
  internal: [500, 'Something went wrong on our side.'],
} as const satisfies Record<string, readonly [number, string]>;

export type ApiErrorCode = keyof typeof API_ERRORS;

/** An API failure with a stable code; `headers` (e.g. Retry-After) are sent with it. */
export class ApiError extends Error {
  readonly status: number;
  constructor(
    readonly code: ApiErrorCode,
    message?: string,
    readonly headers: Readonly<Record<string, string>> = {},
    options?: { cause?: unknown },
  ) {
    super(message ?? API_ERRORS[code][1], options);
    this.name = 'ApiError';
    this.status = API_ERRORS[code][0];
  }
}
