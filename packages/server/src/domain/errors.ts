import { API_ERRORS, type ApiErrorCode } from '@darkroom/contract';

/**
 * A failure of the domain or of an adapter below it, named by a stable code from the contract's catalogue.
 * It knows nothing of HTTP: the API's edge gives it its status and headers (see api/errors.ts), so the
 * domain and the storage adapter never import the API. `retryAfterSeconds` is when trying again makes sense.
 */
export class DomainError extends Error {
  constructor(
    readonly code: ApiErrorCode,
    message?: string,
    readonly retryAfterSeconds?: number,
    options?: { cause?: unknown },
  ) {
    super(message ?? API_ERRORS[code].message, options);
    this.name = 'DomainError';
  }
}

/**
 * Storage refused a request it understood (an S3 4xx such as NoSuchUpload or InvalidPart): the caller
 * decides what that means. `storageCode` is storage's own code; the message is storage's.
 */
export class StorageRefusal extends Error {
  constructor(
    readonly storageCode: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'StorageRefusal';
  }
}
