import type {
  ApiErrorCode,
  ImageList,
  PartUrls,
  StoredParts,
  UploadIntent,
  UploadIntentAnswer,
} from '@darkroom/contract';
import { type ClientErrorCode, cancelledError, UploadError } from './errors.ts';
import { type RetryPolicy, withRetry } from './retry.ts';
import type { ApiClientLike, ImageJson, TokenSource } from './types.ts';

/** Turns an error response into an UploadError with the server's code and message. */
export async function errorFromResponse(res: Response): Promise<UploadError> {
  const text = await res.text().catch(() => '');
  let code: ClientErrorCode = 'http_error';
  let message = `The server answered ${res.status} ${res.statusText}`.trim();
  try {
    const body = JSON.parse(text) as { error?: { code?: unknown; message?: unknown } };
    // An API error's code is one of the contract's catalogue (a newer server may add codes: passed on).
    if (typeof body.error?.code === 'string') code = body.error.code as ApiErrorCode;
    if (typeof body.error?.message === 'string') message = body.error.message;
  } catch {
    // Not JSON (a proxy's HTML page): keep the generic message.
  }
  const retryAfter = Number(res.headers.get('retry-after'));
  return new UploadError(
    code,
    message,
    res.status,
    Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter : undefined,
  );
}

/** Darkroom's HTTP API: JSON in and out, the bearer token, retries on network errors, 5xx and 429. */
export class ApiClient implements ApiClientLike {
  readonly endpoint: string;
  constructor(
    endpoint: string,
    private readonly token: TokenSource,
    private readonly policy: RetryPolicy,
    private readonly fetchImpl: typeof fetch = (...args) => globalThis.fetch(...args),
  ) {
    this.endpoint = endpoint.replace(/\/+$/, '');
  }

  /** The current token (calls the token function when there is one). */
  async bearer(): Promise<string> {
    return typeof this.token === 'string' ? this.token : await this.token();
  }

  /** One API call with retries; resolves with the parsed JSON (undefined for 204). */
  async request<T>(method: string, path: string, body?: unknown, signal?: AbortSignal): Promise<T> {
    return withRetry(
      async () => {
        const headers: Record<string, string> = { authorization: `Bearer ${await this.bearer()}` };
        if (body !== undefined) headers['content-type'] = 'application/json';
        let res: Response;
        try {
          res = await this.fetchImpl(`${this.endpoint}${path}`, {
            method,
            headers,
            ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
            ...(signal ? { signal } : {}),
          });
        } catch (err) {
          if (signal?.aborted) throw cancelledError();
          throw new UploadError(
            'network_error',
            `Could not reach the server (${this.endpoint}).`,
            undefined,
            undefined,
            {
              cause: err,
            },
          );
        }
        if (!res.ok) throw await errorFromResponse(res);
        if (res.status === 204) return undefined as T;
        return (await res.json()) as T;
      },
      this.policy,
      { signal },
    );
  }

  /** POST /v1/uploads: upload instructions (201), or the caller's ready image with these bytes (200). */
  createUpload(body: UploadIntent, signal?: AbortSignal) {
    return this.request<UploadIntentAnswer>('POST', '/v1/uploads', body, signal);
  }

  /** POST /v1/uploads/{id}/parts: presigned URLs for these parts. */
  presignParts(id: string, partNumbers: number[], signal?: AbortSignal) {
    return this.request<PartUrls>(
      'POST',
      `/v1/uploads/${encodeURIComponent(id)}/parts`,
      { partNumbers },
      signal,
    );
  }

  /** GET /v1/uploads/{id}/parts: what storage already holds. */
  listParts(id: string, signal?: AbortSignal) {
    return this.request<StoredParts>('GET', `/v1/uploads/${encodeURIComponent(id)}/parts`, undefined, signal);
  }

  /** POST /v1/uploads/{id}/complete (with parts for multipart). */
  complete(id: string, parts?: { partNumber: number; etag: string }[], signal?: AbortSignal) {
    return this.request<ImageJson>(
      'POST',
      `/v1/uploads/${encodeURIComponent(id)}/complete`,
      parts ? { parts } : {},
      signal,
    );
  }

  /** DELETE /v1/uploads/{id}. */
  abort(id: string) {
    return this.request<void>('DELETE', `/v1/uploads/${encodeURIComponent(id)}`);
  }

  /** GET /v1/images/{id}. */
  getImage(id: string, signal?: AbortSignal) {
    return this.request<ImageJson>('GET', `/v1/images/${encodeURIComponent(id)}`, undefined, signal);
  }

  /** GET /v1/images (newest first). */
  listImages(opts: { cursor?: string; limit?: number } = {}) {
    const q = new URLSearchParams();
    if (opts.cursor) q.set('cursor', opts.cursor);
    if (opts.limit) q.set('limit', String(opts.limit));
    const qs = q.toString();
    return this.request<ImageList>('GET', `/v1/images${qs ? `?${qs}` : ''}`);
  }

  /** DELETE /v1/images/{id}. */
  async deleteImage(id: string) {
    await this.request<void>('DELETE', `/v1/images/${encodeURIComponent(id)}`);
  }
}
