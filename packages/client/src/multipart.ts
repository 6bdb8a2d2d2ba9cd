import type { PartUrls } from '@darkroom/contract';
import { cancelledError, UploadError } from './errors.ts';
import { type RetryPolicy, withRetry } from './retry.ts';
import { isExpired, storageError, type Transport } from './send.ts';

export interface StoredPart {
  partNumber: number;
  etag: string;
  size: number;
}

export interface MultipartJob {
  body: Blob;
  partSize: number;
  partCount: number;
  /** Parts storage already holds (resume): never sent again. */
  done: readonly StoredPart[];
  /** Parts in flight at most. */
  parallel: number;
  signal?: AbortSignal | undefined;
  /** Presigns these parts (POST /v1/uploads/{id}/parts). */
  presign(partNumbers: number[]): Promise<PartUrls>;
  send: Transport;
  policy: RetryPolicy;
  /** Bytes of one part sent so far (goes back to 0 when the part is retried). */
  onPartProgress?(partNumber: number, sent: number, size: number): void;
  /** A part is stored; awaited, so the resume record is written before the next part counts on it. */
  onPartDone?(part: StoredPart): void | Promise<void>;
  /** Presigned URLs are refused this many times per part for expiry before giving up. Default 3. */
  maxRefreshes?: number;
  /** Clock, for expiry (tests). */
  now?: () => number;
}

/** How long before a URL's expiry it is no longer used (clock skew, a slow part). */
const EXPIRY_MARGIN_MS = 15_000;

/** The byte range of part `n` (1-based). */
export function partRange(n: number, partSize: number, total: number): { start: number; end: number } {
  const start = (n - 1) * partSize;
  return { start, end: Math.min(total, start + partSize) };
}

/**
 * Sends the missing parts with at most `parallel` in flight, each retried with backoff. Part URLs
 * are presigned lazily, in batches of at most `parallel` starting at the part that needs one, and
 * presigned again when they expire (before use, or when storage answers 403 "Request has expired").
 * Resolves with every part's ETag, in part order.
 */
export async function uploadParts(job: MultipartJob): Promise<{ partNumber: number; etag: string }[]> {
  const now = job.now ?? Date.now;
  const finished = new Map<number, string>(job.done.map((p) => [p.partNumber, p.etag]));
  const queue: number[] = [];
  for (let n = 1; n <= job.partCount; n++) if (!finished.has(n)) queue.push(n);
  const urls = new Map<number, Promise<{ url: string; useBefore: number }>>();
  const maxRefreshes = job.maxRefreshes ?? 3;

  /** Presigns `n` and the next parts that still need URLs, up to `parallel` at once. */
  const presignFrom = (n: number) => {
    const batch = [n];
    for (const m of queue) {
      if (batch.length >= Math.min(job.parallel, 100)) break;
      if (m !== n && !urls.has(m)) batch.push(m);
    }
    const requestedAt = now();
    const request = job.presign(batch).then((res) => {
      const expiresAt = Date.parse(res.expiresAt);
      // A server with a very short TTL (seconds) still gets its URLs used: the margin is at most half of it.
      const useBefore = expiresAt - Math.min(EXPIRY_MARGIN_MS, Math.max(0, (expiresAt - requestedAt) / 2));
      return new Map(res.parts.map((p) => [p.partNumber, { url: p.url, useBefore }]));
    });
    for (const m of batch) {
      const one = request.then((map) => {
        const entry = map.get(m);
        if (!entry) throw new UploadError('http_error', `The server did not presign part ${m}.`);
        return entry;
      });
      // A failed batch must not poison later attempts: forget it so the retry presigns again.
      one.catch(() => urls.get(m) === one && urls.delete(m));
      urls.set(m, one);
    }
  };

  const urlFor = async (n: number): Promise<string> => {
    for (;;) {
      if (!urls.has(n)) presignFrom(n);
      const entry = await urls.get(n)!;
      if (entry.useBefore > now()) return entry.url;
      urls.delete(n);
    }
  };

  const sendPart = async (n: number) => {
    const { start, end } = partRange(n, job.partSize, job.body.size);
    const size = end - start;
    const body = job.body.slice(start, end);
    const etag = await withRetry(
      async () => {
        for (let refresh = 0; ; refresh++) {
          const url = await urlFor(n);
          job.onPartProgress?.(n, 0, size);
          const res = await job.send({
            method: 'PUT',
            url,
            body,
            signal: job.signal,
            onProgress: (sent) => job.onPartProgress?.(n, sent, size),
          });
          if (res.status >= 200 && res.status < 300) {
            if (!res.etag) {
              throw new UploadError(
                'storage_rejected',
                'Storage did not return the part ETag (its CORS rule must expose the ETag header).',
              );
            }
            return res.etag;
          }
          job.onPartProgress?.(n, 0, size);
          if (isExpired(res) && refresh < maxRefreshes) {
            urls.delete(n);
            continue;
          }
          throw storageError(res);
        }
      },
      job.policy,
      { signal: job.signal },
    );
    // Only parts never used again may leave the cache.
    urls.delete(n);
    finished.set(n, etag);
    job.onPartProgress?.(n, size, size);
    await job.onPartDone?.({ partNumber: n, etag, size });
  };

  let failure: unknown;
  const lane = async () => {
    while (failure === undefined) {
      if (job.signal?.aborted) throw cancelledError();
      const n = queue.shift();
      if (n === undefined) return;
      try {
        await sendPart(n);
      } catch (err) {
        // First failure wins; the other lanes stop taking parts.
        failure ??= err;
        throw err;
      }
    }
  };
  const lanes = Array.from({ length: Math.max(1, Math.min(job.parallel, queue.length)) }, lane);
  const results = await Promise.allSettled(lanes);
  if (failure !== undefined) throw failure;
  const rejected = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (rejected) throw rejected.reason;
  return [...finished.entries()]
    .sort((a, b) => a[0] - b[0])
    .map(([partNumber, etag]) => ({ partNumber, etag }));
}
