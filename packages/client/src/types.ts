// Public types of the Darkroom client SDK. Kept in one module so the web app and the CLI can import
// them without pulling any implementation.
import type { Image, ImageStatus, ImageVariant, UploadMethod, Visibility } from '@darkroom/contract';
import type { ClientErrorCode } from './errors.ts';
import type { Transport } from './send.ts';

/** The image JSON the API returns (GET /v1/images/{id}, SSE, complete): the contract's `Image`. */
export type ImageJson = Image;
/** Server-side image status (GET /v1/images/{id}, SSE `status` events). */
export type { ImageStatus, ImageVariant };

/**
 * The state of one upload handle, in order. `preparing` = processing on this device (resize, re-encode,
 * hash); `pending` = intent created; `uploading` = bytes on the wire; then the server's statuses.
 * `needs-file` = a resumed upload whose bytes this browser can no longer read: call `handle.provideFile()`.
 * `offline` = the server or the network is away: the upload waits quietly (a light probe, `online`
 * events) and resumes the same intent on its own once the server answers (`handle.retryNow()` probes now).
 */
export type UploadState =
  | 'checking'
  | 'preparing'
  | 'pending'
  | 'uploading'
  | 'uploaded'
  | 'processing'
  | 'ready'
  | 'failed'
  | 'cancelled'
  | 'needs-file'
  | 'offline';

/** A token, or a function returning a fresh one (called before each API request; cache it yourself). */
export type TokenSource = string | (() => string | Promise<string>);

/** What may be uploaded; checked before any byte is sent. */
export interface Restrictions {
  /**
   * MIME types (`image/jpeg`) or wildcards (`image/*`) the server takes, sent as they are (or processed).
   * Default: the contract's `ACCEPTED_UPLOAD_TYPES`, the server's default DARKROOM_ALLOWED_TYPES.
   */
  allowedTypes?: readonly string[];
  /**
   * Types taken only to be converted on this device into an allowed type, never sent as they are: when
   * the conversion fails (or processing is off) the upload fails before anything is sent, with
   * `unsupported_type`. Default: what this runtime's processor converts: TIFF in Node (sharp); nothing
   * in browsers (Chromium and Firefox cannot decode TIFF), so `checkFiles` refuses TIFF there up front.
   */
  convertTypes?: readonly string[];
  /** Largest file in bytes (of the source file, before processing). Default: none. */
  maxFileBytes?: number;
  /** Smallest file in bytes. Default 1. */
  minFileBytes?: number;
  /** Most files in one `checkFiles` call / one batch. Default: none. */
  maxFiles?: number;
}

/** Processing on the device before upload. */
export interface ProcessOptions {
  /** Longest edge in pixels after resizing; never upscales. Default 2560. */
  maxEdge?: number;
  /** Output format. Default `webp` (JPEG when the browser cannot encode WebP). */
  format?: 'webp' | 'jpeg';
  /** Encoder quality 0..1. Default 0.82. */
  quality?: number;
}

/** What processing did to one file. */
export interface PrepareResult {
  /** Bytes of the file as picked. */
  originalBytes: number;
  /** Bytes that will be sent. */
  bytes: number;
  /** True when the sent bytes are a re-encode; false when the original is sent as is. */
  processed: boolean;
  /**
   * Why the original was kept: `disabled`, `animated`, `not_smaller`, `unsupported` (cannot decode),
   * `no_encoder`, `no_processor` (Node without sharp), `type_not_allowed` (the output type is not in
   * `restrictions.allowedTypes`), `too_large_to_process` (above 256 MiB). A file whose type must be
   * converted (`restrictions.convertTypes`) is never kept: its upload fails instead.
   */
  keptOriginalReason?: string;
  contentType: string;
  /** Pixel size of what is sent, when known. */
  width?: number;
  height?: number;
  /** SHA-256 of the sent bytes, base64 (sent as the intent's `sha256`). */
  sha256: string;
  /** ThumbHash of the image, base64, when it could be computed. */
  thumbhash?: string;
  /** Milliseconds spent processing and hashing. */
  ms: number;
}

/** Bytes of one multipart part (or of the single part of a PUT/POST upload). */
export interface PartProgress {
  partNumber: number;
  sent: number;
  total: number;
  done: boolean;
}

/** Progress of the byte transfer. */
export interface UploadProgress {
  /** Bytes acknowledged or in flight so far (never goes backwards on retries past completed parts). */
  sent: number;
  /** Bytes to send in total. */
  total: number;
  /** sent / total, 0..1. */
  fraction: number;
  /**
   * Of `sent`, the bytes storage already held when this handle started (a resumed upload's stored
   * parts): `sent - alreadyStored` is what this handle sent.
   */
  alreadyStored: number;
  parts: PartProgress[];
}

/** A state change of an upload handle. */
export interface StatusChange {
  state: UploadState;
  imageId?: string;
  /** The image JSON when the server sent one (SSE, complete, final GET). */
  image?: ImageJson;
  /** For `failed` / `cancelled`: why. */
  error?: { code: ClientErrorCode; message: string };
  /** On `ready`: the server already held these bytes as this image of the owner's; nothing was sent. */
  existing?: true;
}

/** Per-upload options. */
export interface UploadOptions {
  /** Name shown to the owner. Default: the file's name (or the path's base name in Node). */
  filename?: string;
  /** Declared type. Default: the file's type, else guessed from the extension. */
  contentType?: string;
  visibility?: Visibility;
  /** Force an upload method; default lets the server choose (multipart above its threshold). */
  method?: UploadMethod;
  /**
   * Store a new image even when one of the owner's ready images already holds the same bytes. Default
   * false: such an upload finishes at once with that image (`handle.existing`), sending nothing.
   */
  copy?: boolean;
  /** Processing before upload; `false` sends the file as is. Default: the uploader's setting. */
  process?: ProcessOptions | false;
  /** Parallel multipart parts. Default: the uploader's (4). */
  parallel?: number;
  /** Wait for the server to finish processing (ready/failed) before `result` resolves. Default true. */
  wait?: boolean;
  /** Aborting it cancels the upload (same as `handle.cancel()`). */
  signal?: AbortSignal;
}

/** Retry policy for network errors, 5xx and 429. */
export interface RetryOptions {
  /** Attempts in total, including the first. Default 5. */
  attempts?: number;
  /** First delay in ms; doubles each time, with full jitter. Default 500. */
  baseDelayMs?: number;
  /** Largest delay in ms. Default 15000. */
  maxDelayMs?: number;
}

/** A file's identity, good enough to recognise it again after a reload. */
export interface FileFingerprint {
  name: string;
  size: number;
  lastModified: number;
  /** SHA-256 (hex) of the first and last 64 KiB. */
  edgesHash: string;
}

/** What is kept to resume an interrupted multipart upload (IndexedDB in browsers). */
export interface ResumeRecord {
  /** Image id (the key). */
  imageId: string;
  endpoint: string;
  uploadId: string;
  partSize: number;
  partCount: number;
  /** Fingerprint of the file the user picked. */
  source: FileFingerprint;
  /** Intent as sent: filename, contentType, size, sha256 of the bytes sent. */
  filename: string;
  contentType: string;
  size: number;
  sha256?: string;
  thumbhash?: string;
  /** Whether the sent bytes were a re-encode of the source (then the source is processed again). */
  processed: boolean;
  process?: ProcessOptions;
  /** Parts known to be stored, with their ETags (the server's list wins on resume). */
  parts: { partNumber: number; etag: string; size: number }[];
  /** The bytes being sent, when the store could keep them (a File/Blob in IndexedDB). */
  blob?: Blob;
  /** Node: the path the file was read from (a file store keeps no bytes; the file is read again). */
  sourcePath?: string;
  createdAt: number;
  updatedAt: number;
}

/** Where resume records live. `createIndexedDbResumeStore()` and `createMemoryResumeStore()` exist. */
export interface ResumeStore {
  get(imageId: string): Promise<ResumeRecord | undefined>;
  put(record: ResumeRecord): Promise<void>;
  delete(imageId: string): Promise<void>;
  list(): Promise<ResumeRecord[]>;
}

/** Options of `createUploader`. */
export interface UploaderOptions {
  /** API base URL, e.g. `http://127.0.0.1:3000` (or `''` / `location.origin` in the web app). */
  endpoint: string;
  token: TokenSource;
  restrictions?: Restrictions;
  /** Default processing; `false` to send files as they are. Default `{}` (WebP, 2560 px). */
  process?: ProcessOptions | false;
  /** Parallel multipart parts. Default 4. */
  parallel?: number;
  retry?: RetryOptions;
  /** Resume records. Default: IndexedDB in browsers, memory in Node; `false` disables resume. */
  resumeStore?: ResumeStore | false;
  /** Live status over SSE (GET /v1/events). Default true; when false, status is polled. */
  liveStatus?: boolean;
  /** fetch to use for API calls (tests). Default globalThis.fetch. */
  fetch?: typeof fetch;
  /** What sends bytes to storage (tests, instrumentation). Default: XHR in browsers, node:http(s) in Node. */
  transport?: Transport;
  /**
   * How long an upload stays `offline` (server or network away) before it fails with the outage's error,
   * its resume record kept. Default: it waits until the server answers or it is cancelled.
   */
  offlineGiveUpMs?: number;
}

/** An upload in progress. */
export interface UploadHandle {
  /** Local id of the handle (stable, before the image id exists). */
  readonly key: string;
  /** The image id once the intent is created. */
  readonly imageId: string | undefined;
  readonly state: UploadState;
  readonly progress: UploadProgress;
  /** Set once processing finished. */
  readonly prepared: PrepareResult | undefined;
  /** True when the server already held these bytes: `result` is that image and nothing was sent. */
  readonly existing: boolean;
  /** The final image JSON (ready, or uploaded when `wait: false`); rejects with an `UploadError`. */
  readonly result: Promise<ImageJson>;
  on(event: 'progress', listener: (p: UploadProgress) => void): () => void;
  on(event: 'status', listener: (s: StatusChange) => void): () => void;
  on(event: 'prepared', listener: (p: PrepareResult) => void): () => void;
  /** Stops the transfer and aborts the intent on the server. Idempotent. */
  cancel(): Promise<void>;
  /** For a `needs-file` handle: the file picked again; resumes if it is the same file. */
  provideFile(file: Blob): void;
  /** For an `offline` handle: probe the server now instead of at the next scheduled probe. */
  retryNow(): void;
}

/** Result of `checkFiles`. */
export interface FileCheck<F = Blob> {
  accepted: F[];
  rejected: { file: F; code: RestrictionCode; message: string }[];
}

export type RestrictionCode = 'unsupported_type' | 'too_large' | 'too_small' | 'too_many_files';

/** What an upload input may be: a Blob/File, or in Node a file path. */
export type UploadInput = Blob | string;

/** The uploader. */
export interface Uploader {
  /** Starts uploading one file (checks restrictions first; the handle fails with a clear message). */
  upload(file: UploadInput, options?: UploadOptions): UploadHandle;
  /** Splits files into accepted and rejected ones, with messages a person understands. */
  checkFiles<F extends Blob>(files: readonly F[]): FileCheck<F>;
  /** Interrupted uploads that can be resumed (from the resume store, this endpoint only). */
  pendingResumes(): Promise<ResumeRecord[]>;
  /**
   * Resumes an interrupted upload. With no file, uses the bytes the store kept (or, in Node, the
   * record's `sourcePath`); when those cannot be read the handle goes to `needs-file` (call
   * `handle.provideFile(file)`). In Node `file` may be a path.
   */
  resume(record: ResumeRecord, file?: Blob | string, options?: UploadOptions): UploadHandle;
  /**
   * Tries a failed upload again: a multipart upload resumes the same intent (only the parts storage lacks
   * are sent); otherwise the old intent is aborted and the file uploaded afresh. Check `isPermanent` on
   * the failure first: a corrupt file fails again.
   */
  retry(failed: UploadHandle, options?: UploadOptions): UploadHandle;
  /** Forgets an interrupted upload and aborts it on the server. */
  discardResume(record: ResumeRecord): Promise<void>;
  /** Subscribes to the owner's status events (SSE); returns an unsubscribe function. */
  onImageEvent(
    listener: (e: { imageId: string; status: ImageStatus; image?: ImageJson }) => void,
  ): () => void;
  /** The plain API client (images list/get/delete) with the same token and retries. */
  readonly api: ApiClientLike;
  /** Closes the event stream. */
  close(): void;
}

/** The API client surface the web app may use directly. */
export interface ApiClientLike {
  getImage(id: string, signal?: AbortSignal): Promise<ImageJson>;
  listImages(opts?: {
    cursor?: string;
    limit?: number;
  }): Promise<{ images: ImageJson[]; nextCursor: string | null }>;
  deleteImage(id: string): Promise<void>;
}
