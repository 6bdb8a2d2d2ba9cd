import type { UploadInstructions, UploadIntent } from '@darkroom/contract';
import { platform } from '#platform';
import { ApiClient } from './api-client.ts';
import { type ClientErrorCode, cancelledError, isOutage, UploadError } from './errors.ts';
import { fingerprint, sameFile } from './fingerprint.ts';
import { partRange, type StoredPart, uploadParts } from './multipart.ts';
import { type Processor, prepare, renameFor } from './prepare.ts';
import { healthProbe, waitUntilReachable } from './reachability.ts';
import {
  checkFile,
  checkFiles,
  DEFAULT_ALLOWED_TYPES,
  describeTypes,
  fileName,
  fileType,
  typeAllowed,
  typeLabel,
} from './restrictions.ts';
import { type RetryPolicy, retryPolicy, withRetry } from './retry.ts';
import { isExpired, storageError, type Transport } from './send.ts';
import { type StatusEvent, StatusStream } from './status-stream.ts';
import type {
  ImageJson,
  PartProgress,
  PrepareResult,
  ProcessOptions,
  Restrictions,
  ResumeRecord,
  ResumeStore,
  StatusChange,
  Uploader,
  UploaderOptions,
  UploadHandle,
  UploadInput,
  UploadOptions,
  UploadProgress,
  UploadState,
} from './types.ts';

const TERMINAL = new Set(['ready', 'failed', 'deleted']);
/** Everything a handle needs from its uploader. */
interface Context {
  api: ApiClient;
  /** fetch for the reachability probe (the API client's). */
  fetch: typeof fetch;
  policy: RetryPolicy;
  transport: Transport;
  processor: () => Promise<Processor | undefined>;
  store: ResumeStore | undefined;
  stream: StatusStream | undefined;
  options: UploaderOptions;
  /** The uploader's restrictions with this runtime's defaults filled in. */
  restrictions: Restrictions;
  active: Set<string>;
}

type Listener<T> = (value: T) => void;

let handles = 0;

class Handle implements UploadHandle {
  readonly key = `upload-${++handles}-${Date.now().toString(36)}`;
  imageId: string | undefined;
  state: UploadState = 'checking';
  prepared: PrepareResult | undefined;
  existing = false;
  progress: UploadProgress = { sent: 0, total: 0, fraction: 0, alreadyStored: 0, parts: [] };
  /** A multipart upload's resume record once its intent exists: what a retry resumes. */
  record: ResumeRecord | undefined;
  /** Why the handle failed (set when it did). */
  failure: UploadError | undefined;
  /** Where this upload's bytes go (the reachability probe checks it too). */
  storageOrigin: string | undefined;
  readonly result: Promise<ImageJson>;
  private readonly abort = new AbortController();
  private readonly listeners = {
    progress: new Set<Listener<UploadProgress>>(),
    status: new Set<Listener<StatusChange>>(),
    prepared: new Set<Listener<PrepareResult>>(),
  };
  private fileWanted: ((file: Blob) => void) | undefined;
  private lastProgressAt = 0;
  private cancelling: Promise<void> | undefined;
  /** Set once bytes are stored: cancelling then only stops following the image. */
  private stored = false;
  /** Bytes storage held when this handle first counted progress (kept across outages). */
  private storedAtStart: number | undefined;
  private readonly wakers = new Set<() => void>();

  constructor(
    private readonly ctx: Context,
    readonly options: UploadOptions,
    run: (h: Handle) => Promise<ImageJson>,
    /** What `upload()` was given, for a retry that has to start afresh (undefined for resumes). */
    readonly input?: UploadInput,
  ) {
    if (options.signal) {
      if (options.signal.aborted) queueMicrotask(() => void this.cancel());
      else options.signal.addEventListener('abort', () => void this.cancel(), { once: true });
    }
    this.result = run(this).then(
      (image) => image,
      async (err: unknown) => {
        const error =
          err instanceof UploadError
            ? err
            : new UploadError(
                'http_error',
                err instanceof Error ? err.message : String(err),
                undefined,
                undefined,
                {
                  cause: err,
                },
              );
        if (this.abort.signal.aborted || error.code === 'cancelled') {
          await this.discardIntent();
          this.setState('cancelled', { error: { code: 'cancelled', message: 'The upload was cancelled.' } });
          throw cancelledError();
        }
        this.failure = error;
        this.setState('failed', { error: { code: error.code, message: error.message } });
        throw error;
      },
    );
    // Callers that only listen to events must not see an unhandled rejection.
    this.result.catch(() => {});
  }

  get signal(): AbortSignal {
    return this.abort.signal;
  }

  on(event: 'progress', listener: Listener<UploadProgress>): () => void;
  on(event: 'status', listener: Listener<StatusChange>): () => void;
  on(event: 'prepared', listener: Listener<PrepareResult>): () => void;
  on(event: 'progress' | 'status' | 'prepared', listener: Listener<never>): () => void {
    const set = this.listeners[event] as Set<Listener<never>>;
    set.add(listener);
    return () => set.delete(listener);
  }

  setState(state: UploadState, extra: Omit<StatusChange, 'state'> = {}): void {
    if (this.state === state && !extra.image && !extra.error) return;
    if (this.state === 'cancelled' || (this.state === 'failed' && state !== 'failed')) return;
    this.state = state;
    const change: StatusChange = { state, ...(this.imageId ? { imageId: this.imageId } : {}), ...extra };
    for (const l of this.listeners.status) l(change);
  }

  setPrepared(p: PrepareResult): void {
    this.prepared = p;
    for (const l of this.listeners.prepared) l(p);
  }

  /** Starts progress accounting for `total` bytes in parts of `partSize`. */
  startProgress(total: number, partSize: number, partCount: number, done: readonly StoredPart[] = []): void {
    const finished = new Set(done.map((p) => p.partNumber));
    const parts: PartProgress[] = [];
    for (let n = 1; n <= partCount; n++) {
      const { start, end } = partRange(n, partSize, total);
      parts.push({
        partNumber: n,
        sent: finished.has(n) ? end - start : 0,
        total: end - start,
        done: finished.has(n),
      });
    }
    this.storedAtStart ??= parts.reduce((s, p) => s + (p.done ? p.total : 0), 0);
    this.progress = { sent: 0, total, fraction: 0, alreadyStored: this.storedAtStart, parts };
    this.updateProgress(true);
  }

  partProgress(partNumber: number, sent: number, done = false): void {
    const part = this.progress.parts[partNumber - 1];
    if (!part || part.done) return;
    part.sent = sent;
    part.done = done;
    this.updateProgress(done);
  }

  private updateProgress(force: boolean): void {
    const sent = this.progress.parts.reduce((s, p) => s + p.sent, 0);
    this.progress.sent = sent;
    this.progress.fraction = this.progress.total ? sent / this.progress.total : 0;
    const now = Date.now();
    // Node reports every 64 KiB; listeners (progress bars) need no more than ~20 updates a second.
    if (!force && now - this.lastProgressAt < 50 && sent < this.progress.total) return;
    this.lastProgressAt = now;
    const snapshot: UploadProgress = { ...this.progress, parts: this.progress.parts.map((p) => ({ ...p })) };
    for (const l of this.listeners.progress) l(snapshot);
  }

  markStored(): void {
    this.stored = true;
  }

  /** True once the bytes are in storage. */
  get isStored(): boolean {
    return this.stored;
  }

  retryNow(): void {
    for (const wake of [...this.wakers]) wake();
  }

  /** Listens for `retryNow` (the offline wait); returns the unsubscribe function. */
  onWake(listener: () => void): () => void {
    this.wakers.add(listener);
    return () => this.wakers.delete(listener);
  }

  /** Waits for `provideFile` (state needs-file). */
  waitForFile(): Promise<Blob> {
    this.setState('needs-file');
    return new Promise((resolve, reject) => {
      this.fileWanted = resolve;
      this.abort.signal.addEventListener('abort', () => reject(cancelledError()), { once: true });
    });
  }

  provideFile(file: Blob): void {
    const wanted = this.fileWanted;
    this.fileWanted = undefined;
    wanted?.(file);
  }

  /**
   * Stops the upload. Before the bytes are stored, the intent is aborted on the server (no pending
   * record, no multipart upload, no resume record); afterwards it only stops following the image.
   * Resolves once that clean-up is done.
   */
  cancel(): Promise<void> {
    if (this.state === 'ready' || this.state === 'failed' || this.state === 'cancelled')
      return Promise.resolve();
    this.abort.abort();
    return this.result.then(
      () => {},
      () => {},
    );
  }

  /** Runs after the upload stopped: the intent may exist even when cancel came before its id did. */
  private discardIntent(): Promise<void> {
    this.cancelling ??= (async () => {
      const id = this.imageId;
      if (id && !this.stored) {
        await this.ctx.api.abort(id).catch(() => {});
        await this.ctx.store?.delete(id).catch(() => {});
      }
    })();
    return this.cancelling;
  }

  get waitForServer(): boolean {
    return this.options.wait ?? true;
  }
}

/** Resolves the file name, type and restrictions of an input, failing the handle with a clear message. */
async function openInput(input: UploadInput, options: UploadOptions, ctx: Context) {
  let file: Blob;
  if (typeof input === 'string') {
    try {
      file = await platform.openPath(input);
    } catch (err) {
      throw new UploadError(
        'file_unreadable',
        `Cannot read ${input}: ${(err as Error).message}`,
        undefined,
        undefined,
        {
          cause: err,
        },
      );
    }
  } else {
    file = input;
  }
  const name = options.filename ?? (fileName(file) || 'image');
  const contentType = (options.contentType ?? fileType(file, name)).toLowerCase();
  const problem = checkFile(file, ctx.restrictions, name, contentType);
  if (problem) throw new UploadError(problem.code, problem.message);
  return { file, name, contentType };
}

/**
 * Runs `attempt` until it succeeds. An outage (network, 5xx after the usual retries) puts the handle
 * `offline` and waits quietly until the server answers again, then runs `attempt(true)` (which resumes
 * rather than starts over) in the state the handle was in. Any other error is the caller's.
 */
async function untilDone<T>(h: Handle, ctx: Context, attempt: (again: boolean) => Promise<T>): Promise<T> {
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
async function finish(h: Handle, ctx: Context, id: string, completed: ImageJson): Promise<ImageJson> {
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
function alreadyStored(h: Handle, image: ImageJson): ImageJson {
  h.existing = true;
  h.markStored();
  h.setState('ready', { image, existing: true });
  return image;
}

/** One PUT or POST to storage, retried with backoff; an expired URL cannot be renewed (the intent is one-shot). */
async function sendSingle(h: Handle, ctx: Context, upload: UploadInstructions, body: Blob): Promise<void> {
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
async function sendMultipart(
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

async function runUpload(
  h: Handle,
  ctx: Context,
  input: UploadInput,
  options: UploadOptions,
): Promise<ImageJson> {
  h.setState('checking');
  const { file, name, contentType } = await openInput(input, options, ctx);
  if (h.signal.aborted) throw cancelledError();
  h.setState('preparing');
  const processOptions: ProcessOptions | false = options.process ?? ctx.options.process ?? {};
  const allowed = ctx.restrictions.allowedTypes ?? DEFAULT_ALLOWED_TYPES;
  // A type the server does not take (TIFF) is sent converted or not at all: never refused by the API.
  const mustConvert = !typeAllowed(contentType, allowed);
  const prepared = await prepare(
    file,
    contentType,
    processOptions,
    processOptions === false ? undefined : await ctx.processor(),
    (type) => typeAllowed(type, allowed),
    mustConvert,
  );
  if (mustConvert && !prepared.result.processed) {
    throw new UploadError('unsupported_type', notConverted(name, contentType, prepared.result, allowed));
  }
  h.setPrepared(prepared.result);
  if (h.signal.aborted) throw cancelledError();

  const body: UploadIntent = {
    filename: prepared.result.processed ? renameFor(name, prepared.contentType) : name,
    contentType: prepared.contentType,
    size: prepared.blob.size,
    ...(prepared.result.sha256 ? { sha256: prepared.result.sha256 } : {}),
    ...(prepared.result.thumbhash && prepared.result.thumbhash.length <= 100
      ? { thumbhash: prepared.result.thumbhash }
      : {}),
    ...(options.visibility ? { visibility: options.visibility } : {}),
    ...(options.method ? { method: options.method } : {}),
    ...(options.copy ? { copy: true } : {}),
  };
  const intent = await untilDone(h, ctx, () => ctx.api.createUpload(body, h.signal));
  const id = intent.image.id;
  h.imageId = id;
  if ('existing' in intent) return alreadyStored(h, intent.image);
  ctx.active.add(id);
  try {
    if (h.signal.aborted) throw cancelledError();
    h.setState('pending');
    const upload = intent.upload;
    h.setState('uploading');
    if (upload.method !== 'multipart') {
      const completed = await untilDone(h, ctx, async () => {
        await sendSingle(h, ctx, upload, prepared.blob);
        // Confirms the object and hands it to the workers even where storage sends no notifications.
        return ctx.api.complete(id, undefined, h.signal);
      });
      return finish(h, ctx, id, completed);
    }
    const now = Date.now();
    const record: ResumeRecord = {
      imageId: id,
      endpoint: ctx.api.endpoint,
      uploadId: upload.uploadId,
      partSize: upload.partSize,
      partCount: upload.partCount,
      source: await fingerprint(file, name),
      filename: body.filename,
      contentType: body.contentType,
      size: body.size,
      ...(body.sha256 ? { sha256: body.sha256 } : {}),
      ...(body.thumbhash ? { thumbhash: body.thumbhash } : {}),
      processed: prepared.result.processed,
      ...(processOptions !== false ? { process: processOptions } : {}),
      parts: [],
      blob: prepared.blob,
      ...(typeof input === 'string' ? { sourcePath: platform.absolutePath(input) } : {}),
      createdAt: now,
      updatedAt: now,
    };
    await ctx.store?.put(record).catch(() => {});
    h.record = record;
    const parallel = options.parallel ?? ctx.options.parallel ?? 4;
    const completed = await untilDone(h, ctx, async (again) =>
      sendMultipart(
        h,
        ctx,
        id,
        prepared.blob,
        record,
        again ? await storedParts(h, ctx, record) : [],
        parallel,
      ),
    );
    return finish(h, ctx, id, completed);
  } finally {
    ctx.active.delete(id);
  }
}

const NOT_CONVERTED_BECAUSE: Record<string, string> = {
  disabled: 'processing is turned off',
  no_processor: 'this device has no image processor',
  unsupported: 'it could not be read here',
  no_encoder: 'this device cannot encode WebP or JPEG',
  too_large_to_process: 'it is larger than 256 MiB',
  animated: 'it is animated',
  type_not_allowed: 'the server takes none of the types it can be converted to',
};

/** Why a file of a type the server does not take was not sent, in words. */
function notConverted(name: string, type: string, result: PrepareResult, allowed: readonly string[]): string {
  const reason = result.keptOriginalReason ?? 'unsupported';
  const why = NOT_CONVERTED_BECAUSE[reason] ?? reason.replace(/_/g, ' ');
  return `“${name}” is a ${typeLabel(type)} image, which is uploaded only once converted, and it could not be converted (${why}); convert it to ${describeTypes(allowed)} first.`;
}

/** True when every byte of the Blob can still be read (a File from before a reload may not be). */
async function readable(blob: Blob | undefined, size: number): Promise<boolean> {
  if (!blob || blob.size !== size) return false;
  try {
    await blob.slice(0, 1).arrayBuffer();
    await blob.slice(Math.max(0, size - 1)).arrayBuffer();
    return true;
  } catch {
    return false;
  }
}

/** The bytes to resume with, from the picked file: the file itself, or its processing again. */
async function bytesFromFile(h: Handle, ctx: Context, record: ResumeRecord, file: Blob): Promise<Blob> {
  if (!sameFile(record.source, await fingerprint(file, record.source.name))) {
    throw new UploadError(
      'file_mismatch',
      `This is not the file that was being uploaded (“${record.source.name}”, ${record.source.size} bytes). Pick that file again.`,
    );
  }
  if (!record.processed) return file;
  h.setState('preparing');
  const type = fileType(file, record.source.name);
  const allowed = ctx.restrictions.allowedTypes ?? DEFAULT_ALLOWED_TYPES;
  const again = await prepare(
    file,
    type,
    record.process ?? {},
    await ctx.processor(),
    (t) => typeAllowed(t, allowed),
    !typeAllowed(type, allowed),
  );
  if (again.blob.size !== record.size || (record.sha256 && again.result.sha256 !== record.sha256)) {
    throw new UploadError(
      'file_mismatch',
      'Processing this file again gave different bytes than before, so the upload cannot continue; upload it again.',
    );
  }
  h.setPrepared(again.result);
  return again.blob;
}

/** What storage holds of the upload; one that can no longer be resumed fails with `resume_unavailable`. */
async function listStored(h: Handle, ctx: Context, id: string) {
  try {
    return await ctx.api.listParts(id, h.signal);
  } catch (err) {
    if (err instanceof UploadError && (err.status === 404 || err.status === 409)) {
      await ctx.store?.delete(id).catch(() => {});
      throw new UploadError(
        'resume_unavailable',
        `This upload can no longer be resumed (${err.message}); upload the file again.`,
        err.status,
      );
    }
    throw err;
  }
}

/** Storage's list is the truth: a part counts only if storage has it at the planned size. */
function adoptStored(
  record: ResumeRecord,
  stored: Awaited<ReturnType<ApiClient['listParts']>>,
): StoredPart[] {
  const done = stored.parts
    .filter((p) => {
      const { start, end } = partRange(p.partNumber, stored.partSize, record.size);
      return p.size === end - start;
    })
    .map((p) => ({ partNumber: p.partNumber, etag: p.etag, size: p.size }));
  record.parts = done;
  record.partSize = stored.partSize;
  record.partCount = stored.partCount;
  return done;
}

/** The parts storage already holds of this handle's upload (after an outage). */
async function storedParts(h: Handle, ctx: Context, record: ResumeRecord): Promise<StoredPart[]> {
  return adoptStored(record, await listStored(h, ctx, record.imageId));
}

async function runResume(
  h: Handle,
  ctx: Context,
  record: ResumeRecord,
  file: Blob | string | undefined,
  options: UploadOptions,
) {
  const id = record.imageId;
  h.imageId = id;
  ctx.active.add(id);
  try {
    h.setState('checking');
    const stored = await untilDone(h, ctx, () => listStored(h, ctx, id));
    let body: Blob;
    const path = typeof file === 'string' ? file : !file && !record.blob ? record.sourcePath : undefined;
    const given =
      path !== undefined ? await platform.openPath(path).catch(() => undefined) : (file as Blob | undefined);
    if (given) body = await bytesFromFile(h, ctx, record, given);
    else if (await readable(record.blob, record.size)) body = record.blob!;
    else {
      // The browser lost the bytes (File handle gone after a reload): ask for the file again.
      for (;;) {
        const picked = await h.waitForFile();
        try {
          body = await bytesFromFile(h, ctx, record, picked);
          break;
        } catch (err) {
          if (!(err instanceof UploadError && err.code === 'file_mismatch')) throw err;
          h.setState('needs-file', { error: { code: err.code, message: err.message } });
        }
      }
      record.blob = body;
      await ctx.store?.put(record).catch(() => {});
    }
    h.record = record;
    h.setState('uploading');
    const parallel = options.parallel ?? ctx.options.parallel ?? 4;
    const completed = await untilDone(h, ctx, async (again) =>
      sendMultipart(
        h,
        ctx,
        id,
        body,
        record,
        adoptStored(record, again ? await listStored(h, ctx, id) : stored),
        parallel,
      ),
    );
    return await finish(h, ctx, id, completed);
  } finally {
    ctx.active.delete(id);
  }
}

/** Creates an uploader bound to one API endpoint and token. */
export function createUploader(options: UploaderOptions): Uploader {
  const policy = retryPolicy(options.retry);
  const fetchImpl = options.fetch ?? ((...args: Parameters<typeof fetch>) => globalThis.fetch(...args));
  const api = new ApiClient(options.endpoint, options.token, policy, fetchImpl);
  let processor: Promise<Processor | undefined> | undefined;
  const stream = options.liveStatus === false ? undefined : new StatusStream(api, fetchImpl);
  const ctx: Context = {
    api,
    fetch: fetchImpl,
    policy,
    transport: options.transport ?? platform.transport,
    processor: () => {
      processor ??= platform.processor();
      return processor;
    },
    store: options.resumeStore === false ? undefined : (options.resumeStore ?? platform.resumeStore()),
    stream,
    options,
    restrictions: {
      ...options.restrictions,
      convertTypes:
        options.restrictions?.convertTypes ?? (options.process === false ? [] : platform.convertTypes),
    },
    active: new Set(),
  };
  return {
    api,
    upload(file, uploadOptions = {}) {
      return new Handle(ctx, uploadOptions, (h) => runUpload(h, ctx, file, uploadOptions), file);
    },
    retry(failed, uploadOptions) {
      if (!(failed instanceof Handle)) throw new TypeError('retry() takes a handle of this uploader.');
      const options = uploadOptions ?? failed.options;
      const record = failed.record;
      // The same intent, from where storage stopped: the parts it holds are not sent again.
      const resumable =
        failed.state === 'failed' && !failed.isStored && failed.failure?.code !== 'resume_unavailable';
      if (record && resumable) {
        return new Handle(ctx, options, (h) => runResume(h, ctx, record, undefined, options));
      }
      // Nothing to resume (a single PUT, or the server forgot the upload): the old intent must not stay
      // pending (it counts against the owner's pending limit), so it goes before the fresh upload.
      const oldId = failed.isStored ? undefined : failed.imageId;
      const input = failed.input ?? record?.blob ?? record?.sourcePath;
      if (input === undefined) throw new TypeError('This upload has no file left to send again.');
      const fresh =
        failed.input === undefined && record
          ? {
              ...options,
              filename: record.filename,
              contentType: record.contentType,
              process: false as const,
            }
          : options;
      return new Handle(
        ctx,
        fresh,
        async (h) => {
          if (oldId) {
            await api.abort(oldId).catch(() => {});
            await ctx.store?.delete(oldId).catch(() => {});
          }
          return runUpload(h, ctx, input, fresh);
        },
        input,
      );
    },
    checkFiles(files) {
      return checkFiles(files, ctx.restrictions);
    },
    async pendingResumes() {
      if (!ctx.store) return [];
      const records = await ctx.store.list();
      return records
        .filter((r) => r.endpoint === api.endpoint && !ctx.active.has(r.imageId))
        .sort((a, b) => a.createdAt - b.createdAt);
    },
    resume(record, file, uploadOptions = {}) {
      return new Handle(ctx, uploadOptions, (h) => runResume(h, ctx, record, file, uploadOptions));
    },
    async discardResume(record) {
      await api.abort(record.imageId).catch((err: unknown) => {
        if (!(err instanceof UploadError && (err.status === 404 || err.status === 409))) throw err;
      });
      await ctx.store?.delete(record.imageId);
    },
    onImageEvent(listener) {
      if (!stream) throw new UploadError('http_error', 'Live status is disabled (liveStatus: false).');
      return stream.subscribe((e) =>
        listener({ imageId: e.imageId, status: e.status, ...(e.image ? { image: e.image } : {}) }),
      );
    },
    close() {
      stream?.close();
    },
  };
}
