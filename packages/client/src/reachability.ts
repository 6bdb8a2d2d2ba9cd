import { cancelledError } from './errors.ts';

/** First wait before probing again, and the longest: a light probe, never a flood of requests. */
const FIRST_PROBE_MS = 1000;
const MAX_PROBE_MS = 10_000;

export interface ReachabilityWait {
  /** One light request: true when the server answers (and says its storage is reachable). */
  probe(): Promise<boolean>;
  signal: AbortSignal;
  /** Lets the caller (Retry now) end the current wait early; returns a function that stops listening. */
  onWake(listener: () => void): () => void;
  /** Stop waiting at this time (Date.now() clock); undefined waits until the server answers or abort. */
  giveUpAt?: number | undefined;
}

/** True when the runtime says it has no network at all (browsers); Node always claims a network. */
function knownOffline(): boolean {
  return typeof navigator !== 'undefined' && navigator.onLine === false;
}

/**
 * Resolves once the server is reachable again: probes after 1 s, doubling to 10 s, and at once when the
 * browser fires `online` or the caller wakes it; while the browser knows it is offline it only listens.
 * Resolves false when `giveUpAt` passes first. Rejects with `cancelled` when the signal aborts.
 */
export async function waitUntilReachable(w: ReachabilityWait): Promise<boolean> {
  for (let delay = FIRST_PROBE_MS; ; delay = Math.min(MAX_PROBE_MS, delay * 2)) {
    if (w.giveUpAt !== undefined && Date.now() >= w.giveUpAt) return false;
    const wait = w.giveUpAt === undefined ? delay : Math.max(0, Math.min(delay, w.giveUpAt - Date.now()));
    await new Promise<void>((resolve, reject) => {
      const target = globalThis as unknown as Partial<EventTarget>;
      const done = () => {
        clearTimeout(timer);
        stopWake();
        target.removeEventListener?.('online', wake);
        w.signal.removeEventListener('abort', onAbort);
      };
      const wake = () => {
        done();
        resolve();
      };
      const onAbort = () => {
        done();
        reject(cancelledError());
      };
      if (w.signal.aborted) return reject(cancelledError());
      const timer = setTimeout(() => {
        // A browser that knows it has no network waits for `online` instead of probing.
        if (!knownOffline() || (w.giveUpAt !== undefined && Date.now() >= w.giveUpAt)) wake();
      }, wait);
      const stopWake = w.onWake(wake);
      target.addEventListener?.('online', wake);
      w.signal.addEventListener('abort', onAbort, { once: true });
    });
    if (await w.probe().catch(() => false)) return true;
    if (w.signal.aborted) throw cancelledError();
  }
}

/**
 * A probe of `{endpoint}/healthz` (reachable when it answers anything but a 5xx: 503 = its storage is
 * down) and, once known, of the storage origin this client sends to (any answer will do: an opaque
 * `no-cors` HEAD, so no CORS rule is needed), which the server may reach while this client cannot.
 */
export function healthProbe(
  endpoint: string,
  storageOrigin: () => string | undefined,
  fetchImpl: typeof fetch,
  signal: AbortSignal,
) {
  return async (): Promise<boolean> => {
    const res = await fetchImpl(`${endpoint}/healthz`, { signal, cache: 'no-store' });
    await res.body?.cancel().catch(() => {});
    if (res.status >= 500) return false;
    const storage = storageOrigin();
    if (storage === undefined) return true;
    const answer = await fetchImpl(`${storage}/`, {
      method: 'HEAD',
      mode: 'no-cors',
      signal,
      cache: 'no-store',
    });
    await answer.body?.cancel().catch(() => {});
    return true;
  };
}
