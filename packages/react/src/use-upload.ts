// useUpload(): one upload at a time over the SDK's uploader, as React state: what it is doing, the bytes
// sent, the image's status on the server until it is ready, and cancel / retry / resume.
import {
  type ImageJson,
  type ImageStatus,
  isPermanent,
  type PrepareResult,
  type ResumeRecord,
  type StatusChange,
  type Uploader,
  type UploadHandle,
  type UploadOptions,
  type UploadProgress,
  type UploadState,
} from '@darkroom/client';
import { useCallback, useEffect, useRef, useState } from 'react';
import { useDarkroom } from './context.ts';

/** The state of the hook's current upload; `idle` before the first one. */
export interface UploadSnapshot {
  state: UploadState | 'idle';
  /** Bytes of the transfer: `sent` of `total` (0..1 as `fraction`); resumed parts count as sent. */
  progress: { sent: number; total: number; fraction: number };
  imageId: string | undefined;
  /** The image's status on the server as last heard (intent, storage, the worker's status events). */
  status: ImageStatus | undefined;
  /** The image JSON once the server sent one (always when `state` is `ready`). */
  image: ImageJson | undefined;
  /** What processing on this device did, once it finished. */
  prepared: PrepareResult | undefined;
  /** Why the upload failed or was cancelled: a stable SDK code and a message a person can read. */
  error: StatusChange['error'];
  /** True when `retry()` may succeed: failed for a reason that can pass (network, server), or cancelled. */
  canRetry: boolean;
}

/** What `useUpload()` returns: the snapshot and what to do with it. */
export interface UseUploadResult extends UploadSnapshot {
  /** Starts uploading `file` (replacing the upload the hook followed; that one keeps running). */
  upload(file: Blob, options?: UploadOptions): UploadHandle;
  /** Stops the upload; before the bytes are stored it is aborted on the server too. */
  cancel(): Promise<void>;
  /**
   * Tries a failed or cancelled upload again: continues the same multipart upload when the resume store
   * still has it (only the missing parts are sent), else starts over with the same file. Undefined when
   * there is nothing to retry (see `canRetry`).
   */
  retry(): Promise<UploadHandle | undefined>;
  /** Continues an interrupted upload from `uploader.pendingResumes()` (e.g. after a reload). */
  resume(record: ResumeRecord, file?: Blob, options?: UploadOptions): UploadHandle;
  /** For state `needs-file`: the file picked again by the user. */
  provideFile(file: Blob): void;
  /** Forgets the current upload (the hook goes back to `idle`; a running upload is not cancelled). */
  reset(): void;
  /** The SDK's handle of the current upload, for anything the hook does not surface. */
  handle: UploadHandle | undefined;
}

/** Options of {@link useUpload}. */
export interface UseUploadOptions extends UploadOptions {
  /** Default: the nearest <DarkroomProvider>'s uploader. */
  uploader?: Uploader;
}

const IDLE: UploadSnapshot = {
  state: 'idle',
  progress: { sent: 0, total: 0, fraction: 0 },
  imageId: undefined,
  status: undefined,
  image: undefined,
  prepared: undefined,
  error: undefined,
  canRetry: false,
};

/** Handle states that are the image's status on the server. */
const SERVER_STATES: ReadonlySet<UploadState> = new Set(['pending', 'uploaded', 'processing', 'ready']);
/** Where a handle's bytes came from, to start it again. */
interface Attempt {
  handle: UploadHandle;
  file: Blob | undefined;
  record: ResumeRecord | undefined;
  options: UploadOptions;
}

/**
 * One upload as React state, over the SDK's uploader (from `options.uploader` or a <DarkroomProvider>).
 * Unmounting stops following the upload, not the upload itself (call `cancel()` for that).
 * @example
 * const { upload, state, progress, status, image, error, cancel, retry, canRetry } = useUpload();
 * <input type="file" onChange={(e) => e.target.files?.[0] && upload(e.target.files[0])} />
 */
export function useUpload(options: UseUploadOptions = {}): UseUploadResult {
  const { uploader: given, ...defaults } = options;
  const context = useDarkroom();
  const uploader = given ?? context.uploader;
  const [snapshot, setSnapshot] = useState<UploadSnapshot>(IDLE);
  const attempt = useRef<Attempt | undefined>(undefined);
  const unsubscribe = useRef<(() => void) | undefined>(undefined);
  // The latest defaults without making every callback change identity on each render.
  const defaultsRef = useRef(defaults);
  defaultsRef.current = defaults;

  useEffect(() => () => unsubscribe.current?.(), []);

  const follow = useCallback((next: Attempt): UploadHandle => {
    unsubscribe.current?.();
    attempt.current = next;
    const { handle } = next;
    // Events of a handle the hook no longer follows are dropped, however late they come.
    const update = (change: (s: UploadSnapshot) => UploadSnapshot) =>
      setSnapshot((s) => (attempt.current?.handle === handle ? change(s) : s));
    const offStatus = handle.on('status', (c) =>
      update((s) => {
        const image = c.image ?? s.image;
        const state = c.state;
        // The SDK reports a failed image twice: with the worker's reason, then as processing_failed.
        // The first says why.
        const error = s.state === 'failed' && state === 'failed' && s.error ? s.error : c.error;
        return {
          ...s,
          state,
          imageId: c.imageId ?? handle.imageId ?? s.imageId,
          image,
          status: c.image?.status ?? (SERVER_STATES.has(state) ? (state as ImageStatus) : s.status),
          progress: progressOf(handle.progress),
          prepared: handle.prepared ?? s.prepared,
          error,
          canRetry: (state === 'failed' || state === 'cancelled') && !(error && isPermanent(error.code)),
        };
      }),
    );
    const offProgress = handle.on('progress', (p) => update((s) => ({ ...s, progress: progressOf(p) })));
    const offPrepared = handle.on('prepared', (p) => update((s) => ({ ...s, prepared: p })));
    unsubscribe.current = () => {
      offStatus();
      offProgress();
      offPrepared();
    };
    setSnapshot({
      ...IDLE,
      state: handle.state,
      imageId: handle.imageId,
      progress: progressOf(handle.progress),
    });
    return handle;
  }, []);

  const need = useCallback((): Uploader => {
    if (!uploader) {
      throw new Error(
        'useUpload: no uploader. Wrap the component in <DarkroomProvider uploader={createUploader(…)}> or pass useUpload({ uploader }).',
      );
    }
    return uploader;
  }, [uploader]);

  const upload = useCallback(
    (file: Blob, uploadOptions: UploadOptions = {}) => {
      const merged = { ...defaultsRef.current, ...uploadOptions };
      return follow({ handle: need().upload(file, merged), file, record: undefined, options: merged });
    },
    [follow, need],
  );

  const resume = useCallback(
    (record: ResumeRecord, file?: Blob, uploadOptions: UploadOptions = {}) => {
      const merged = { ...defaultsRef.current, ...uploadOptions };
      return follow({ handle: need().resume(record, file, merged), file, record, options: merged });
    },
    [follow, need],
  );

  const retry = useCallback(async () => {
    const last = attempt.current;
    if (!last || (last.handle.state !== 'failed' && last.handle.state !== 'cancelled')) return undefined;
    const up = need();
    const id = last.handle.imageId;
    // The resume store keeps a multipart upload that failed (not one that was cancelled): continue it.
    const record = id ? (await up.pendingResumes()).find((r) => r.imageId === id) : undefined;
    if (attempt.current !== last) return undefined; // another upload started meanwhile
    if (record) {
      return follow({ ...last, handle: up.resume(record, last.file, last.options), record });
    }
    if (last.file) return follow({ ...last, handle: up.upload(last.file, last.options), record: undefined });
    if (last.record) return follow({ ...last, handle: up.resume(last.record, undefined, last.options) });
    return undefined;
  }, [follow, need]);

  const cancel = useCallback(async () => {
    await attempt.current?.handle.cancel();
  }, []);

  const provideFile = useCallback((file: Blob) => {
    attempt.current?.handle.provideFile(file);
  }, []);

  const reset = useCallback(() => {
    unsubscribe.current?.();
    unsubscribe.current = undefined;
    attempt.current = undefined;
    setSnapshot(IDLE);
  }, []);

  return {
    ...snapshot,
    upload,
    cancel,
    retry,
    resume,
    provideFile,
    reset,
    handle: attempt.current?.handle,
  };
}

function progressOf(p: UploadProgress): UploadSnapshot['progress'] {
  return { sent: p.sent, total: p.total, fraction: p.fraction };
}
