import { type Static, Type } from 'typebox';

/**
 * The API's error catalogue: one stable code per failure, with its HTTP status and a default message a
 * user can act on. The server renders `{ error: { code, message } }` from it; the client types the codes
 * it may receive as this catalogue's keys. Add codes, never rename them.
 */
export const API_ERRORS = {
  invalid_request: { status: 400, message: 'The request is not valid.' },
  unauthorized: { status: 401, message: 'Authentication is required: send Authorization: Bearer <JWT>.' },
  invalid_token: { status: 401, message: 'The bearer token is not valid.' },
  token_expired: { status: 401, message: 'The bearer token has expired; get a new one.' },
  not_found: { status: 404, message: 'Not found.' },
  conflict: { status: 409, message: 'The resource is not in a state that allows this.' },
  unsupported_type: { status: 415, message: 'This content type is not accepted.' },
  too_large: { status: 413, message: 'The declared size is larger than allowed.' },
  rate_limited: { status: 429, message: 'Too many uploads; try again later.' },
  too_many_pending: {
    status: 429,
    message: 'Too many uploads are still pending; finish or cancel some first.',
  },
  quota_exceeded: { status: 429, message: 'Your storage quota is used up; delete some images first.' },
  too_many_streams: {
    status: 429,
    message: 'Too many event streams are open for you; close one (another tab or window?) and try again.',
  },
  upload_incomplete: { status: 409, message: 'The upload has not reached storage yet.' },
  upload_mismatch: { status: 409, message: 'What reached storage does not match what was declared.' },
  storage_unavailable: { status: 503, message: 'Storage is not reachable right now; try again shortly.' },
  queue_unavailable: {
    status: 503,
    message: 'The processing queue is not reachable right now; complete the upload again shortly.',
  },
  database_unavailable: {
    status: 503,
    message: 'The database is not reachable right now; try again shortly.',
  },
  invalid_event: { status: 400, message: 'The body is not an S3 event notification.' },
  // The delivery routes' refusals (GET /img/…).
  invalid_transform: { status: 400, message: 'The transform options are not valid.' },
  bad_signature: {
    status: 403,
    message: 'The URL is not signed, or not for this path; use the URL the API returned.',
  },
  url_expired: { status: 403, message: 'This signed URL has expired; ask the API for a fresh one.' },
  range_not_satisfiable: { status: 416, message: 'The requested range is not satisfiable.' },
  render_busy: {
    status: 503,
    message: 'Too many images are being rendered for the first time right now; try again shortly.',
  },
  internal: { status: 500, message: 'Something went wrong on our side.' },
} as const satisfies Record<string, { readonly status: number; readonly message: string }>;

/** Every code an API error response may carry. */
export type ApiErrorCode = keyof typeof API_ERRORS;

/** `{ error: { code, message } }`, the shape of every API error; `code` is one of the catalogue's. */
export const ErrorBody = Type.Object(
  {
    error: Type.Object({
      code: Type.Enum(Object.keys(API_ERRORS) as ApiErrorCode[], { description: 'Stable error code' }),
      message: Type.String(),
    }),
  },
  { $id: 'Error' },
);
export type ErrorBody = Static<typeof ErrorBody>;

/**
 * Why an image failed, as its `error.code` says: what the worker found in the bytes (the first five), what
 * did not match the upload's declaration or was replaced after it, or that processing kept failing or
 * never finished.
 */
export const IMAGE_ERROR_CODES = [
  'unsupported_type',
  'too_many_pixels',
  'corrupt_image',
  'too_large',
  'empty_file',
  'size_mismatch',
  'checksum_mismatch',
  'upload_replaced',
  'processing_failed',
  'processing_timeout',
] as const;
export type ImageErrorCode = (typeof IMAGE_ERROR_CODES)[number];
