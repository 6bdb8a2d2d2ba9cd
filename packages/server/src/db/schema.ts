import type { ImageStatus, UploadMethod, Visibility } from '@darkroom/contract';
import type { Generated } from 'kysely';

// The columns hold the contract's values as they are, so the API renders rows without translation.
export type { ImageStatus, UploadMethod, Visibility };

/** One row per image; times are epoch milliseconds so SQLite and PostgreSQL store them alike. */
export interface ImagesTable {
  id: string;
  owner: string;
  status: ImageStatus;
  filename: string;
  content_type: string;
  /** The size the client declared (exact for PUT and multipart, the maximum for POST). */
  declared_bytes: number;
  /** The size storage reported once the original arrived. */
  bytes: number | null;
  /**
   * SHA-256 of the original, base64: the client's claim (checked by storage or the worker) until the image
   * is ready; on a ready image, the digest the worker computed of the original it developed.
   */
  sha256: string | null;
  client_thumbhash: string | null;
  visibility: Visibility;
  upload_method: UploadMethod;
  multipart_upload_id: string | null;
  part_size: number | null;
  part_count: number | null;
  /**
   * The ETag of the approved original: set when the original is first seen (its event, or `complete`),
   * re-set only while no worker has claimed the image; after that any other ETag is refused (issue 18.1).
   */
  etag: string | null;
  /** The claim on a `processing` image: the claimant's token (its message), and until when it holds. */
  lease_token: string | null;
  lease_until: number | null;
  width: number | null;
  height: number | null;
  format: string | null;
  thumbhash: string | null;
  dominant_color: string | null;
  /** 1 when some pixel is not fully opaque, 0 when none is, null until developed (and for older rows). */
  transparent: number | null;
  /** JSON object: variant name → { key, width, height, bytes, contentType }. */
  variants: string;
  error_code: string | null;
  error_message: string | null;
  created_at: number;
  updated_at: number;
}

/** Every upload intent, kept for an hour, so per-minute limits survive deletes and aborts. */
export interface IntentLogTable {
  owner: string;
  created_at: number;
}

/** Running total of each owner's stored bytes, kept with every write so quota checks are O(1). */
export interface OwnerUsageTable {
  owner: string;
  bytes: number;
}

/** One status change of one image, in order; `id` is the SSE event id. */
export interface ImageEventsTable {
  id: Generated<number>;
  owner: string;
  image_id: string;
  status: ImageStatus;
  created_at: number;
}

/**
 * One signed webhook to the application per status change worth telling it (`ready`, `failed`,
 * `deleted`); `id` is the image_events id, so the tailers of several processes insert it once.
 */
export interface WebhookDeliveriesTable {
  id: number;
  owner: string;
  image_id: string;
  status: ImageStatus;
  /** The JSON body, rendered once so every attempt sends the same bytes. */
  payload: string;
  attempts: number;
  /** When the next attempt is due (ms epoch); null once delivered or given up. */
  next_attempt_at: number | null;
  last_error: string | null;
  delivered_at: number | null;
  created_at: number;
}

/** How far each webhook tailer has read image_events (one row per tailer name). */
export interface WebhookCursorTable {
  name: string;
  last_event_id: number;
}

export interface Database {
  image_events: ImageEventsTable;
  images: ImagesTable;
  intent_log: IntentLogTable;
  owner_usage: OwnerUsageTable;
  webhook_cursor: WebhookCursorTable;
  webhook_deliveries: WebhookDeliveriesTable;
}
