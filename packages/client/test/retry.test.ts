import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { UploadError } from '../src/errors.ts';
import { backoffDelay, retryPolicy, withRetry } from '../src/retry.ts';

describe('backoff', () => {
  it('doubles the ceiling each retry up to the maximum, with full jitter', () => {
    const policy = retryPolicy({ baseDelayMs: 100, maxDelayMs: 1000 });
    expect([0, 1, 2, 3, 4, 5].map((r) => backoffDelay(r, policy, () => 1))).toEqual([
      100, 200, 400, 800, 1000, 1000,
    ]);
    expect(backoffDelay(3, policy, () => 0)).toBe(0);
    expect(backoffDelay(3, policy, () => 0.5)).toBe(400);
  });
});

describe('withRetry', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  const policy = retryPolicy({ attempts: 4, baseDelayMs: 100, maxDelayMs: 1000 });

  it('retries network errors and 5xx with growing delays, then succeeds', async () => {
    const delays: number[] = [];
    const errors = [
      new UploadError('network_error', 'down'),
      new UploadError('http_error', 'bad gateway', 502),
      new UploadError('storage_unavailable', 'busy', 503),
    ];
    let calls = 0;
    const promise = withRetry(
      async () => {
        calls++;
        const err = errors.shift();
        if (err) throw err;
        return 'ok';
      },
      policy,
      { random: () => 1, onRetry: (_e, _r, d) => delays.push(d) },
    );
    await vi.advanceTimersByTimeAsync(99);
    expect(calls).toBe(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(calls).toBe(2);
    await vi.advanceTimersByTimeAsync(200);
    expect(calls).toBe(3);
    await vi.advanceTimersByTimeAsync(400);
    await expect(promise).resolves.toBe('ok');
    expect(calls).toBe(4);
    expect(delays).toEqual([100, 200, 400]);
  });

  it('does not retry a 4xx, and gives up after the last attempt', async () => {
    let calls = 0;
    await expect(
      withRetry(async () => {
        calls++;
        throw new UploadError('unsupported_type', 'no', 415);
      }, policy),
    ).rejects.toMatchObject({ code: 'unsupported_type' });
    expect(calls).toBe(1);

    calls = 0;
    const failing = withRetry(
      async () => {
        calls++;
        throw new UploadError('http_error', 'boom', 500);
      },
      policy,
      { random: () => 1 },
    );
    const settled = expect(failing).rejects.toMatchObject({ status: 500 });
    await vi.advanceTimersByTimeAsync(10_000);
    await settled;
    expect(calls).toBe(4);
  });

  it('waits what a 429 Retry-After asks, and does not wait for a Retry-After of an hour', async () => {
    const times: number[] = [];
    const start = Date.now();
    let calls = 0;
    const promise = withRetry(
      async () => {
        times.push(Date.now() - start);
        if (calls++ === 0) throw new UploadError('rate_limited', 'slow down', 429, 3);
        return 'ok';
      },
      policy,
      { random: () => 0 },
    );
    await vi.advanceTimersByTimeAsync(2999);
    expect(calls).toBe(1);
    await vi.advanceTimersByTimeAsync(1);
    await expect(promise).resolves.toBe('ok');
    expect(times).toEqual([0, 3000]);

    let quota = 0;
    await expect(
      withRetry(async () => {
        quota++;
        throw new UploadError('quota_exceeded', 'full', 429, 3600);
      }, policy),
    ).rejects.toMatchObject({ code: 'quota_exceeded', retryAfter: 3600 });
    expect(quota).toBe(1);
  });

  it('stops waiting as soon as the signal aborts', async () => {
    const controller = new AbortController();
    const promise = withRetry(
      async () => {
        throw new UploadError('network_error', 'down');
      },
      policy,
      { signal: controller.signal, random: () => 1 },
    );
    const settled = expect(promise).rejects.toMatchObject({ code: 'cancelled' });
    await vi.advanceTimersByTimeAsync(10);
    controller.abort();
    await settled;
  });
});
