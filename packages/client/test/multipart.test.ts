import type { PartUrls } from '@darkroom/contract';
import { describe, expect, it } from 'vitest';
import { UploadError } from '../src/errors.ts';
import { uploadParts } from '../src/multipart.ts';
import { retryPolicy } from '../src/retry.ts';
import type { SendRequest, SendResponse } from '../src/send.ts';

const PART = 10;

/** A fake storage + presign endpoint with knobs for failures. */
function fakeStorage(
  opts: { total: number; delayMs?: number; expiresInMs?: number; now?: () => number } = { total: 0 },
) {
  const presignCalls: number[][] = [];
  const sent: number[] = [];
  let inFlight = 0;
  let maxInFlight = 0;
  let version = 0;
  const expiredUrls = new Set<string>();
  const failures = new Map<number, number[]>(); // part → statuses to answer first
  const partOf = (url: string) => Number(/part=(\d+)/.exec(url)![1]);
  const presign = async (partNumbers: number[]): Promise<PartUrls> => {
    presignCalls.push([...partNumbers]);
    version++;
    const expiresAt = new Date((opts.now ?? Date.now)() + (opts.expiresInMs ?? 600_000)).toISOString();
    return {
      parts: partNumbers.map((n) => ({
        partNumber: n,
        url: `https://s3/x?part=${n}&v=${version}`,
        size: PART,
      })),
      expiresAt,
    };
  };
  const send = async (req: SendRequest): Promise<SendResponse> => {
    inFlight++;
    maxInFlight = Math.max(maxInFlight, inFlight);
    try {
      await new Promise((r) => setTimeout(r, opts.delayMs ?? 5));
      const n = partOf(req.url);
      if (expiredUrls.has(req.url)) {
        return {
          status: 403,
          etag: undefined,
          text: '<Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>',
        };
      }
      const queued = failures.get(n);
      const status = queued?.shift();
      if (status) return { status, etag: undefined, text: '<Error><Code>InternalError</Code></Error>' };
      req.onProgress?.(req.body.size);
      sent.push(n);
      return { status: 200, etag: `"etag-${n}"`, text: '' };
    } finally {
      inFlight--;
    }
  };
  return {
    presign,
    send,
    presignCalls,
    sent,
    expiredUrls,
    failures,
    get maxInFlight() {
      return maxInFlight;
    },
  };
}

const policy = retryPolicy({ attempts: 3, baseDelayMs: 1, maxDelayMs: 2 });

describe('multipart scheduling', () => {
  it('keeps at most `parallel` parts in flight and presigns lazily, in batches of at most `parallel`', async () => {
    const body = new Blob([new Uint8Array(95)]);
    const s = fakeStorage({ total: 95 });
    const progress = new Map<number, number>();
    const parts = await uploadParts({
      body,
      partSize: PART,
      partCount: 10,
      done: [],
      parallel: 3,
      presign: s.presign,
      send: s.send,
      policy,
      onPartProgress: (n, sent) => progress.set(n, sent),
    });
    expect(parts).toEqual(
      Array.from({ length: 10 }, (_, i) => ({ partNumber: i + 1, etag: `"etag-${i + 1}"` })),
    );
    expect(s.maxInFlight).toBe(3);
    expect(s.presignCalls[0]).toEqual([1, 2, 3]);
    for (const batch of s.presignCalls) expect(batch.length).toBeLessThanOrEqual(3);
    // Every part presigned exactly once.
    expect(s.presignCalls.flat().sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(progress.get(10)).toBe(5); // the short last part
    expect(progress.get(1)).toBe(PART);
  });

  it('never sends parts that are already stored', async () => {
    const s = fakeStorage({ total: 40 });
    const parts = await uploadParts({
      body: new Blob([new Uint8Array(40)]),
      partSize: PART,
      partCount: 4,
      done: [
        { partNumber: 1, etag: '"old-1"', size: PART },
        { partNumber: 3, etag: '"old-3"', size: PART },
      ],
      parallel: 4,
      presign: s.presign,
      send: s.send,
      policy,
    });
    expect(s.sent.sort()).toEqual([2, 4]);
    expect(s.presignCalls.flat().sort()).toEqual([2, 4]);
    expect(parts.map((p) => p.etag)).toEqual(['"old-1"', '"etag-2"', '"old-3"', '"etag-4"']);
  });

  it('presigns again when storage says the URL expired, and before using a URL about to expire', async () => {
    const s = fakeStorage({ total: 30 });
    // Every URL of the first batch is expired at storage.
    const presign = async (numbers: number[]) => {
      const res = await s.presign(numbers);
      if (s.presignCalls.length === 1) for (const p of res.parts) s.expiredUrls.add(p.url);
      return res;
    };
    await uploadParts({
      body: new Blob([new Uint8Array(30)]),
      partSize: PART,
      partCount: 3,
      done: [],
      parallel: 1,
      presign,
      send: s.send,
      policy,
    });
    expect(s.sent).toEqual([1, 2, 3]);
    expect(s.presignCalls[0]).toEqual([1]);
    expect(s.presignCalls.length).toBe(4);

    // URLs that the clock says are (nearly) expired are not used at all.
    let now = 1_000_000;
    const t = fakeStorage({ total: 30, now: () => now });
    const sentUrls: string[] = [];
    await uploadParts({
      body: new Blob([new Uint8Array(30)]),
      partSize: PART,
      partCount: 3,
      done: [],
      parallel: 1,
      presign: async (n) => {
        const res = await t.presign(n);
        // Every other batch arrives 595 s into its 600 s life: inside the 15 s margin, so presigned again.
        if (t.presignCalls.length % 2 === 1) now += 595_000;
        return res;
      },
      send: async (req) => {
        sentUrls.push(req.url);
        return t.send(req);
      },
      policy,
      now: () => now,
    });
    expect(t.sent).toEqual([1, 2, 3]);
    expect(sentUrls.every((u) => Number(/v=(\d+)/.exec(u)![1]) % 2 === 0)).toBe(true);
  });

  it('uses URLs from a server whose TTL is shorter than the safety margin', async () => {
    const s = fakeStorage({ total: 20, expiresInMs: 2000 });
    await uploadParts({
      body: new Blob([new Uint8Array(20)]),
      partSize: PART,
      partCount: 2,
      done: [],
      parallel: 2,
      presign: s.presign,
      send: s.send,
      policy,
    });
    expect(s.presignCalls).toEqual([[1, 2]]);
  });

  it('retries a part on 5xx, and fails with the storage error when retries run out', async () => {
    const s = fakeStorage({ total: 20 });
    s.failures.set(2, [500, 503]);
    await uploadParts({
      body: new Blob([new Uint8Array(20)]),
      partSize: PART,
      partCount: 2,
      done: [],
      parallel: 2,
      presign: s.presign,
      send: s.send,
      policy,
    });
    expect(s.sent.sort()).toEqual([1, 2]);

    const f = fakeStorage({ total: 20 });
    f.failures.set(1, [500, 500, 500, 500]);
    const err = await uploadParts({
      body: new Blob([new Uint8Array(20)]),
      partSize: PART,
      partCount: 2,
      done: [],
      parallel: 1,
      presign: f.presign,
      send: f.send,
      policy,
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UploadError);
    expect(err).toMatchObject({ status: 500 });
    expect((err as Error).message).toMatch(/Storage is unavailable \(500 InternalError\)/);
    expect(f.sent).toEqual([]); // the failure stopped the scheduler before part 2
  });

  it('stops when the signal aborts', async () => {
    const s = fakeStorage({ total: 100, delayMs: 20 });
    const controller = new AbortController();
    const promise = uploadParts({
      body: new Blob([new Uint8Array(100)]),
      partSize: PART,
      partCount: 10,
      done: [],
      parallel: 2,
      signal: controller.signal,
      presign: s.presign,
      send: s.send,
      policy,
    });
    setTimeout(() => controller.abort(), 30);
    await expect(promise).rejects.toMatchObject({ code: 'cancelled' });
    expect(s.sent.length).toBeLessThan(10);
  });
});
