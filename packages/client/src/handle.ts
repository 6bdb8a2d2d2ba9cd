// An upload's handle: its state machine (states and their listeners, byte progress, cancel, waiting for a
// file or for the server), which sending and resume drive. Split from uploader.ts (issue 15 point 5).
import type { ApiClient } from './api-client.ts';
import { cancelledError, UploadError } from './errors.ts';
import { partRange, type StoredPart } from './multipart.ts';
import type { Processor } from './prepare.ts';
import type { RetryPolicy } from './retry.ts';
import type { Transport } from './send.ts';
import type { StatusStream } from './status-stream.ts';
import type {
  ImageJson,
  PartProgress,
  PrepareResult,
  Restrictions,
  ResumeRecord,
  ResumeStore,
  StatusChange,
  UploaderOptions,
  UploadHandle,
  UploadInput,
  UploadOptions,
  UploadProgress,
  UploadState,
} from './types.ts';

/** Everything a handle needs from its uploader. */
export interface Context {
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

export class Handle implements UploadHandle {
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
