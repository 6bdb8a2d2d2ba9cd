// Sending an upload's bytes (one PUT or POST, or multipart parts), riding out outages, then following the
// image until it is ready or failed.
import type { UploadInstructions } from '@darkroom/contract';
import { type ClientErrorCode, cancelledError, isOutage, UploadError } from './errors.ts';
import type { Context, Handle } from './handle.ts';
import { type StoredPart, uploadParts } from './multipart.ts';
import { healthProbe, waitUntilReachable } from './reachability.ts';
import { withRetry } from './retry.ts';
import { isExpired, storageError } from './send.ts';
import type { StatusEvent } from './status-stream.ts';
import type { ImageJson, ResumeRecord } from './types.ts';

/** Image statuses that end a wait. */
const TERMINAL = new Set(['ready', 'failed', 'deleted']);

/**
 * Runs `attempt` until it succeeds. An outage (network, 5xx after the usual retries) puts the handle
 * `offline` and waits quietly until the server answers again, then runs `attempt(true)` (which resumes
 * rather than starts over) in the state the handle was in. Any other error is the caller's.
 */
export async function untilDone<T>(
  h: Handle,
  ctx: Context,
  attempt: (again: boolean) => Promise<T>,
): Promise<T> {
  for (let again = false; ; again = true) {
    try {
      return await attempt(again);
    } catch (err) {
      if (h.signal.aborted || !isOutage(err)) throw err;
      const before = h.state;
      const { code, message } = err as UploadError;
      h.setState('offline', { error: { code, message } });
      const limit = ctx.options.offlineGiveUpMs;
      const back = await waitUntilReachable({
        probe: healthProbe(ctx.api.endpoint, () => h.storageOrigin, ctx.fetch, h.signal),
        signal: h.signal,
        onWake: (l) => h.onWake(l),
        giveUpAt: limit === undefined ? undefined : Date.now() + limit,
      });
      // Given up: the outage's own error, with the resume record kept for a later run.
      if (!back) throw err;
      h.setState(before);
    }
  }
}

/** Follows the image until it is ready or failed (SSE events, with polling as a safety net). */
async function waitForImage(
  h: Handle,
  ctx: Context,
  id: string,
  first: ImageJson | undefined,
): Promise<ImageJson> {
  let latest = first;
  let wake: (() => void) | undefined;
  const nudge = () => wake?.();
  const unsubscribe = ctx.stream?.subscribe((e: StatusEvent) => {
    if (e.imageId !== id) return;
    if (e.image) latest = e.image;
    else if (latest) latest = { ...latest, status: e.status };
    nudge();
  });
  const unOpen = ctx.stream?.onOpen(() => {
    latest = undefined; // events may have been missed while disconnected: ask the API
    nudge();
  });
  try {
    for (let polls = 0; ; polls++) {
      if (!latest) {
        const fetched = await untilDone(h, ctx, () => ctx.api.getImage(id, h.signal));
        // An event that arrived while the GET was in flight is newer: keep it.
        latest ??= fetched;
      }
      if ((latest.status === 'processing' || latest.status === 'uploaded') && h.state !== latest.status) {
        h.setState(latest.status, { image: latest });
      }
      if (TERMINAL.has(latest.status)) return latest;
      // With live events, polls are rare; without, every 2 s.
      const interval = ctx.stream ? 10_000 : Math.min(2000, 250 * 2 ** polls);
      await new Promise<void>((resolve, reject) => {
        const done = () => {
          clearTimeout(timer);
          h.signal.removeEventListener('abort', onAbort);
          wake = undefined;
        };
        const onAbort = () => {
          done();
          reject(cancelledError());
        };
        const timer = setTimeout(() => {
          done();
          latest = undefined;
          resolve();
        }, interval);
        wake = () => {
          done();
          resolve();
        };
        h.signal.addEventListener('abort', onAbort, { once: true });
      });
    }
  } finally {
    unsubscribe?.();
    unOpen?.();
  }
}

/** After the bytes are stored: report `uploaded`, then wait for processing unless told not to. */
export async function finish(h: Handle, ctx: Context, id: string, completed: ImageJson): Promise<ImageJson> {
  h.markStored();
  h.setState('uploaded', { image: completed });
  if (!h.waitForServer) return completed;
  const image = await waitForImage(h, ctx, id, TERMINAL.has(completed.status) ? completed : undefined);
  if (image.status === 'ready') {
    h.setState('ready', { image });
    return image;
  }
  const error = image.error ?? { code: 'processing_failed', message: `The image is ${image.status}.` };
  h.setState('failed', { image, error });
  // The image's own code (corrupt_image, too_many_pixels…) says whether trying again can help.
  throw new UploadError(error.code as ClientErrorCode, error.message);
}

/** The origin of a storage URL (undefined when there is none or it does not parse). */
function originOf(url: string | undefined): string | undefined {
  if (!url) return undefined;
  try {
    return new URL(url).origin;
  } catch {
    return undefined;
  }
}

/** The server already holds these bytes as one of the owner's ready images: the upload is that image. */
export function alreadyStored(h: Handle, image: ImageJson): ImageJson {
  h.existing = true;
  h.markStored();
  h.setState('ready', { image, existing: true });
  return image;
}

/** One PUT or POST to storage, retried with backoff; an expired URL cannot be renewed (the intent is one-shot). */
export async function sendSingle(
  h: Handle,
  ctx: Context,
  upload: UploadInstructions,
  body: Blob,
): Promise<void> {
  if (upload.method === 'multipart') throw new Error('unreachable');
  const send = ctx.transport;
  h.storageOrigin = originOf(upload.url);
  h.startProgress(body.size, body.size, 1);
  await withRetry(
    async () => {
      h.partProgress(1, 0);
      const res = await send({
        method: upload.method === 'put' ? 'PUT' : 'POST',
        url: upload.url,
        body,
        ...(upload.method === 'put' ? { headers: upload.headers } : { fields: upload.fields }),
        signal: h.signal,
        onProgress: (sent) => h.partProgress(1, sent),
      });
      if (res.status >= 200 && res.status < 300) return;
      h.partProgress(1, 0);
      if (isExpired(res)) {
        throw new UploadError(
          'storage_rejected',
          'The upload URL expired before the file was sent; try again.',
          403,
        );
      }
      throw storageError(res);
    },
    ctx.policy,
    { signal: h.signal },
  );
  h.partProgress(1, body.size, true);
}

/** Sends the multipart parts (those storage lacks), keeping the resume record current, then completes. */
export async function sendMultipart(
  h: Handle,
  ctx: Context,
  id: string,
  body: Blob,
  record: ResumeRecord,
  done: StoredPart[],
  parallel: number,
): Promise<ImageJson> {
  h.startProgress(body.size, record.partSize, record.partCount, done);
  const send = ctx.transport;
  // Record writes are serialised: parts finish concurrently.
  let saving = Promise.resolve();
  const parts = await uploadParts({
    body,
    partSize: record.partSize,
    partCount: record.partCount,
    done,
    parallel,
    signal: h.signal,
    presign: async (numbers) => {
      const urls = await ctx.api.presignParts(id, numbers, h.signal);
      h.storageOrigin ??= originOf(urls.parts[0]?.url);
      return urls;
    },
    send,
    policy: ctx.policy,
    onPartProgress: (n, sent) => h.partProgress(n, sent),
    onPartDone: async (part) => {
      h.partProgress(part.partNumber, part.size, true);
      record.parts = [...record.parts.filter((p) => p.partNumber !== part.partNumber), part];
      record.updatedAt = Date.now();
      saving = saving.then(() => ctx.store?.put(record)).catch(() => {});
      await saving;
    },
  });
  const completed = await ctx.api.complete(id, parts, h.signal);
  await ctx.store?.delete(id).catch(() => {});
  return completed;
}
