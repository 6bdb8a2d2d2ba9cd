// Retry with backoff, by hand on purpose: p-retry (7.x is the last for Node 20; 8+ needs Node 22) cannot
// take a delay from the error, so it cannot wait what a 429/503's Retry-After asks, and its jitter only
// stretches a delay (1–2×) where full jitter spreads clients that failed together; both matter here.
import { cancelledError, isRetryable, UploadError } from './errors.ts';
import type { RetryOptions } from './types.ts';

export interface RetryPolicy {
  attempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
  /** A Retry-After longer than this is not waited for: the error goes to the caller. */
  maxRetryAfterMs: number;
}

/** Defaults: 5 attempts, 0.5 s doubling to 15 s, with full jitter. */
export function retryPolicy(options: RetryOptions = {}): RetryPolicy {
  return {
    attempts: Math.max(1, options.attempts ?? 5),
    baseDelayMs: options.baseDelayMs ?? 500,
    maxDelayMs: options.maxDelayMs ?? 15_000,
    maxRetryAfterMs: 60_000,
  };
}

/**
 * Delay before retry number `retry` (0 = first retry): "full jitter" (a random point in
 * [0, min(max, base·2^retry)]), which spreads many clients out after a shared outage.
 */
export function backoffDelay(retry: number, policy: RetryPolicy, random: () => number = Math.random): number {
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** retry);
  return Math.round(random() * ceiling);
}

/** Resolves after `ms`, or rejects with `cancelled` as soon as `signal` aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(cancelledError());
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(cancelledError());
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

export interface RetryHooks {
  signal?: AbortSignal | undefined;
  /** Which errors deserve another attempt. Default: `isRetryable` (network, 5xx, 429). */
  shouldRetry?: (err: unknown) => boolean;
  /** Told before each wait (logging, UI "retrying in 2 s"). */
  onRetry?: (err: unknown, retry: number, delayMs: number) => void;
  random?: () => number;
}

/**
 * Runs `fn` until it succeeds, the error is not retryable, attempts run out or `signal` aborts.
 * A 429/503 with Retry-After waits what the server asked (when reasonable) instead of the backoff.
 */
export async function withRetry<T>(
  fn: (attempt: number) => Promise<T>,
  policy: RetryPolicy,
  hooks: RetryHooks = {},
): Promise<T> {
  const shouldRetry = hooks.shouldRetry ?? isRetryable;
  for (let attempt = 0; ; attempt++) {
    if (hooks.signal?.aborted) throw cancelledError();
    try {
      return await fn(attempt);
    } catch (err) {
      if (hooks.signal?.aborted) throw cancelledError();
      if (attempt + 1 >= policy.attempts || !shouldRetry(err)) throw err;
      const retryAfterMs =
        err instanceof UploadError && err.retryAfter !== undefined ? err.retryAfter * 1000 : undefined;
      if (retryAfterMs !== undefined && retryAfterMs > policy.maxRetryAfterMs) throw err;
      // Retry-After is a floor; a little jitter on top keeps clients that were told the same apart.
      const delay =
        retryAfterMs !== undefined
          ? retryAfterMs + backoffDelay(0, policy, hooks.random)
          : backoffDelay(attempt, policy, hooks.random);
      hooks.onRetry?.(err, attempt, delay);
      await sleep(delay, hooks.signal);
    }
  }
}
