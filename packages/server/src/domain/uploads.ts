import { randomUUID } from 'node:crypto';
import {
  type Image,
  originalKey,
  type UploadInstructions,
  type UploadIntent,
  type UploadIntentAnswer,
  variantPrefix,
} from '@darkroom/contract';
import type { Config } from '../config.ts';
import { type ImageRepository, type ImageRow, newImageRow } from '../db/images.ts';
import type { UploadMethod } from '../db/schema.ts';
import { DomainError, StorageRefusal } from './errors.ts';
import { toImageView } from './image-view.ts';
import type { ObjectStorage, Presigner, UrlSigning } from './ports.ts';

/** S3 allows at most this many parts and this much in one PUT or POST. */
const MAX_PARTS = 10_000;
const MAX_SINGLE_UPLOAD = 5 * 1024 ** 3;
const MiB = 1024 * 1024;

export interface UploadDeps {
  config: Config;
  images: ImageRepository;
  storage: Presigner & ObjectStorage;
  /** Signs private images' variant URLs. */
  signedUrls: UrlSigning;
  /** Called once per intent with its method and outcome, for metrics. */
  onIntent?: (method: UploadMethod | 'unknown', outcome: string) => void;
  /**
   * Hands an uploaded original to the workers (an S3-shaped event on the uploads queue), for storage
   * that sends no notifications. Duplicates of real notifications are harmless: the worker is idempotent.
   */
  enqueueProcessing?: (key: string, size: number, etag: string) => Promise<void>;
  /** The CDN in front of delivery, told which cached paths a deleted image leaves behind. */
  cdn?: CdnInvalidator;
}

/** Evicts paths from a CDN's caches (CloudFront: batched CreateInvalidation); fire and forget. */
export interface CdnInvalidator {
  invalidate(paths: readonly string[]): void;
}

/** SHA-256 arrives as hex or base64; S3 wants base64. */
export function normaliseSha256(value: string): string {
  if (/^[0-9a-fA-F]{64}$/.test(value)) return Buffer.from(value, 'hex').toString('base64');
  const bytes = Buffer.from(value, 'base64');
  if (bytes.length !== 32 || !/^[A-Za-z0-9+/]{43}=$/.test(value)) {
    throw new DomainError(
      'invalid_request',
      'body/sha256 must be a SHA-256 digest in hex (64 chars) or base64 (44 chars)',
    );
  }
  return value;
}

/** Part size for an upload: the configured size, grown so the part count stays within S3's 10,000. */
export function planParts(size: number, configured: number): { partSize: number; partCount: number } {
  const partSize = Math.max(configured, Math.ceil(size / MAX_PARTS / MiB) * MiB);
  return { partSize, partCount: Math.max(1, Math.ceil(size / partSize)) };
}

function chooseMethod(input: UploadIntent, config: Config): UploadMethod {
  const method = input.method ?? (input.size > config.uploads.multipartThreshold ? 'multipart' : 'put');
  if (method !== 'multipart' && input.size > MAX_SINGLE_UPLOAD) {
    throw new DomainError(
      'invalid_request',
      `body/method '${method}' cannot carry more than 5 GiB; use 'multipart'`,
    );
  }
  return method;
}

function expiresAt(config: Config, now: number): string {
  return new Date(now + config.uploads.presignTtlSeconds * 1000).toISOString();
}

/** Checks type and size against configuration before anything is recorded. */
function checkDeclared(input: UploadIntent, config: Config): void {
  const type = input.contentType.toLowerCase();
  if (!config.uploads.allowedTypes.includes(type)) {
    throw new DomainError(
      'unsupported_type',
      `body/contentType '${input.contentType}' is not accepted; allowed: ${config.uploads.allowedTypes.join(', ')}`,
    );
  }
  if (input.size > config.uploads.maxBytes) {
    throw new DomainError(
      'too_large',
      `body/size ${input.size} is larger than the maximum of ${config.uploads.maxBytes} bytes`,
    );
  }
}

/** Refuses an intent that would break one of the owner's limits, with a Retry-After that means something. */
async function checkLimits(repo: ImageRepository, owner: string, size: number, config: Config, now: number) {
  const usage = await repo.usage(owner, now, {
    perMinute: config.uploads.perMinute,
    maxPending: config.uploads.maxPending,
  });
  const limits = config.uploads;
  if (usage.intentsLastMinute >= limits.perMinute) {
    const wait = Math.max(1, Math.ceil(((usage.oldestIntentAt ?? now) + 60_000 - now) / 1000));
    throw new DomainError(
      'rate_limited',
      `at most ${limits.perMinute} uploads per minute; try again in ${wait} s`,
      wait,
    );
  }
  if (usage.pending >= limits.maxPending) {
    throw new DomainError(
      'too_many_pending',
      `at most ${limits.maxPending} uploads may be pending at once`,
      30,
    );
  }
  if (usage.bytes + size > limits.quotaBytes) {
    throw new DomainError(
      'quota_exceeded',
      `this upload would take you to ${usage.bytes + size} of your ${limits.quotaBytes} bytes`,
      3600,
    );
  }
}

/**
 * The owner's ready image that already holds the intent's bytes, if any: same SHA-256 (the worker's digest
 * of the stored original, never a client's claim), same size (at most the declared one for POST, whose
 * size is a maximum) and the visibility asked for.
 */
async function storedAlready(
  deps: UploadDeps,
  owner: string,
  input: UploadIntent,
  sha256: string,
  method: UploadMethod,
): Promise<ImageRow | undefined> {
  return deps.images.findReadyBySha256(
    owner,
    sha256,
    input.visibility ?? 'public',
    input.size,
    method === 'post',
  );
}

/**
 * POST /v1/uploads: records a pending image and returns how to send its bytes straight to storage; or,
 * when one of the owner's ready images already holds these bytes (and no `copy` is asked for), that image.
 */
export async function createUploadIntent(
  deps: UploadDeps,
  owner: string,
  input: UploadIntent,
): Promise<UploadIntentAnswer> {
  const { config, images, storage } = deps;
  let method: UploadMethod | 'unknown' = input.method ?? 'unknown';
  try {
    checkDeclared(input, config);
    method = chooseMethod(input, config);
    const sha256 = input.sha256 === undefined ? undefined : normaliseSha256(input.sha256);
    if (sha256 !== undefined && input.copy !== true) {
      // Nothing is recorded, so no limit applies: the answer costs the owner nothing.
      const existing = await storedAlready(deps, owner, input, sha256, method);
      if (existing) {
        deps.onIntent?.(method, 'existing');
        return { image: imageView(deps, existing), existing: true };
      }
    }
    const now = Date.now();
    const id = randomUUID();
    const key = originalKey(id);
    const contentType = input.contentType.toLowerCase();
    const plan = method === 'multipart' ? planParts(input.size, config.uploads.partSize) : undefined;
    const row = newImageRow(
      {
        id,
        owner,
        filename: input.filename,
        content_type: contentType,
        declared_bytes: input.size,
        sha256: sha256 ?? null,
        client_thumbhash: input.thumbhash ?? null,
        visibility: input.visibility ?? 'public',
        upload_method: method,
        part_size: plan?.partSize ?? null,
        part_count: plan?.partCount ?? null,
      },
      now,
    );
    await images.withOwnerLock(owner, async (repo) => {
      await checkLimits(repo, owner, input.size, config, now);
      await repo.recordIntent(row);
    });

    const expiresIn = config.uploads.presignTtlSeconds;
    let upload: UploadInstructions;
    try {
      if (method === 'put') {
        const signed = await storage.presignPut({
          key,
          contentType,
          contentLength: input.size,
          sha256,
          expiresIn,
        });
        upload = { method, ...signed, expiresAt: expiresAt(config, now) };
      } else if (method === 'post') {
        const signed = await storage.presignPost({
          key,
          contentType,
          maxBytes: input.size,
          sha256,
          expiresIn,
        });
        upload = { method, url: signed.url, fields: signed.fields, expiresAt: expiresAt(config, now) };
      } else {
        const uploadId = await storage.createMultipart(key, contentType);
        await images.transition(id, ['pending'], { multipart_upload_id: uploadId });
        upload = {
          method,
          uploadId,
          partSize: plan!.partSize,
          partCount: plan!.partCount,
          expiresAt: expiresAt(config, now),
        };
      }
    } catch (err) {
      // No URL, no upload: the record must not linger as pending and count against the owner.
      await images.delete(id);
      throw err;
    }
    deps.onIntent?.(method, 'issued');
    return { image: { id, status: 'pending' }, upload };
  } catch (err) {
    deps.onIntent?.(method, err instanceof DomainError ? err.code : 'error');
    throw err;
  }
}

async function ownedImage(deps: UploadDeps, owner: string, id: string): Promise<ImageRow> {
  const row = await deps.images.findOwned(owner, id);
  if (!row || row.status === 'deleted') throw new DomainError('not_found', `no image ${id}`);
  return row;
}

async function pendingMultipart(deps: UploadDeps, owner: string, id: string): Promise<ImageRow> {
  const row = await ownedImage(deps, owner, id);
  if (row.upload_method !== 'multipart' || !row.multipart_upload_id) {
    throw new DomainError('conflict', `image ${id} is not a multipart upload`);
  }
  if (row.status !== 'pending')
    throw new DomainError('conflict', `image ${id} is ${row.status}, not pending`);
  return row;
}

/** POST /v1/uploads/{id}/parts: presigns the requested parts, each bound to its exact length. */
export async function presignParts(
  deps: UploadDeps,
  owner: string,
  id: string,
  partNumbers: readonly number[],
) {
  const row = await pendingMultipart(deps, owner, id);
  // Issuing part URLs is activity: the sweeper measures DARKROOM_PENDING_TTL_SECONDS from the last one.
  await deps.images.transition(id, ['pending'], {});
  const count = row.part_count!;
  const partSize = row.part_size!;
  const now = Date.now();
  const parts = [];
  for (const partNumber of [...new Set(partNumbers)].sort((a, b) => a - b)) {
    if (partNumber < 1 || partNumber > count) {
      throw new DomainError('invalid_request', `body/partNumbers ${partNumber} is outside 1..${count}`);
    }
    const contentLength = partNumber < count ? partSize : row.declared_bytes - partSize * (count - 1);
    const url = await deps.storage.presignPart({
      key: originalKey(id),
      uploadId: row.multipart_upload_id!,
      partNumber,
      contentLength,
      expiresIn: deps.config.uploads.presignTtlSeconds,
    });
    parts.push({ partNumber, url, size: contentLength });
  }
  return { parts, expiresAt: expiresAt(deps.config, now) };
}

/**
 * POST /v1/uploads/{id}/complete: finishes a multipart upload, or confirms a PUT/POST one by looking
 * at storage (for S3s without notifications). Idempotent: completing twice returns the same image.
 */
export async function completeUpload(
  deps: UploadDeps,
  owner: string,
  id: string,
  parts: readonly { partNumber: number; etag: string }[] | undefined,
): Promise<Image> {
  const row = await ownedImage(deps, owner, id);
  const key = originalKey(id);
  if (row.status === 'pending' && row.upload_method === 'multipart') {
    if (!parts || parts.length === 0) {
      throw new DomainError('invalid_request', 'body/parts is required to complete a multipart upload');
    }
    try {
      // Create-once: a Complete never replaces an object already at the key (the original is write-once).
      const completed = await deps.storage.completeMultipart(key, row.multipart_upload_id!, parts);
      if (completed.outcome === 'key-taken') {
        throw new DomainError(
          'upload_mismatch',
          completed.existing
            ? `storage already holds another object for image ${id} (ETag ${completed.existing.etag}), written outside this upload; it was left as it is and the parts were not completed`
            : `storage saw the key of image ${id} written or deleted while its upload was in progress, and refused to complete it; start a new upload`,
        );
      }
    } catch (err) {
      if (!(err instanceof StorageRefusal)) throw err;
      // NoSuchUpload after a lost response: the upload may already be complete; storage decides below.
      if (err.storageCode !== 'NoSuchUpload') {
        throw new DomainError('invalid_request', `storage refused the parts: ${err.message}`, undefined, {
          cause: err.cause,
        });
      }
    }
  }
  if (row.status === 'pending') {
    const info = await deps.storage.head(key);
    if (!info) throw new DomainError('upload_incomplete', `nothing has been uploaded for image ${id} yet`);
    const exact = row.upload_method !== 'post';
    if (exact ? info.size !== row.declared_bytes : info.size > row.declared_bytes) {
      throw new DomainError(
        'upload_mismatch',
        `storage holds ${info.size} bytes for image ${id}; ${exact ? 'declared' : 'allowed at most'} ${row.declared_bytes}`,
      );
    }
    await deps.images.recordOriginal(id, info.size, info.etag);
  }
  // Also when it was already `uploaded`: a retried complete re-sends a hand-off that may have been lost.
  const current = await ownedImage(deps, owner, id);
  if (current.status === 'uploaded' && current.etag && current.bytes !== null) {
    await deps.enqueueProcessing?.(key, current.bytes, current.etag).catch((err: unknown) => {
      throw new DomainError('queue_unavailable', undefined, 5, { cause: err });
    });
  }
  return imageView(deps, await ownedImage(deps, owner, id));
}

/** DELETE /v1/uploads/{id}: cancels a pending upload, its multipart state, any bytes and the record. */
export async function abortUpload(deps: UploadDeps, owner: string, id: string): Promise<void> {
  const row = await ownedImage(deps, owner, id);
  if (row.status !== 'pending') {
    throw new DomainError('conflict', `image ${id} is ${row.status}; delete it with DELETE /v1/images/${id}`);
  }
  if (row.multipart_upload_id) await deps.storage.abortMultipart(originalKey(id), row.multipart_upload_id);
  await deps.storage.deleteAll([originalKey(id)]);
  await deps.images.delete(id);
}

/**
 * DELETE /v1/images/{id}: removes the record, then the original and every variant from storage. The
 * record goes first: a worker developing the image, or a first render, finds it gone before it publishes
 * and removes what it wrote (what escapes both, say when storage fails here, the sweeper removes).
 */
export async function deleteImage(deps: UploadDeps, owner: string, id: string): Promise<void> {
  const row = await ownedImage(deps, owner, id);
  if (row.status === 'pending' && row.multipart_upload_id) {
    await deps.storage.abortMultipart(originalKey(id), row.multipart_upload_id);
  }
  await deps.images.delete(id);
  const deleted = await deps.storage.deleteAll(
    [originalKey(id)],
    [variantPrefix(id, 'public'), variantPrefix(id, 'private')],
  );
  if (deps.cdn) {
    // The edge caches by storage key (the function rewrites to it); CloudFront also asks that the viewer's
    // URI be invalidated. Transforms' viewer URLs are unknown, but their keys are among the deleted ones.
    const viewerPath = row.visibility === 'private' ? deps.config.delivery.privatePath : '/img';
    const names = Object.keys(JSON.parse(row.variants) as Record<string, unknown>);
    deps.cdn.invalidate([
      ...deleted.filter((k) => k !== originalKey(id)).map((k) => `/${k}`),
      ...names.map((n) => `${viewerPath}/${id}/${n}`),
    ]);
  }
}

/** Base URL for variant links: the CDN when configured, else Darkroom's own delivery routes. */
export function deliveryBase(config: Config): string {
  return config.cdnBaseUrl ?? config.publicBaseUrl;
}

/** The image JSON for a row, private images' variant URLs signed. */
export function imageView(deps: Pick<UploadDeps, 'config' | 'signedUrls'>, row: ImageRow): Image {
  return toImageView(
    row,
    deliveryBase(deps.config),
    deps.signedUrls.signer,
    deps.config.delivery.privatePath,
  );
}

/** GET /v1/images/{id}. */
export async function getImage(deps: UploadDeps, owner: string, id: string): Promise<Image> {
  return imageView(deps, await ownedImage(deps, owner, id));
}

/** GET /v1/images: newest first, with an opaque cursor. */
export async function listImages(
  deps: UploadDeps,
  owner: string,
  limit: number,
  cursor: string | undefined,
): Promise<{ images: Image[]; nextCursor: string | null }> {
  let after: { createdAt: number; id: string } | undefined;
  if (cursor) {
    try {
      const [createdAt, id] = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as [
        number,
        string,
      ];
      // Only positions this API hands out: epoch ms (a PostgreSQL bigint refuses 1.5 or 1e300 with a 500).
      if (!Number.isSafeInteger(createdAt) || createdAt < 0 || typeof id !== 'string') {
        throw new Error('shape');
      }
      after = { createdAt, id };
    } catch {
      throw new DomainError('invalid_request', 'querystring/cursor is not a cursor this API returned');
    }
  }
  const rows = await deps.images.listOwned(owner, limit + 1, after);
  const page = rows.slice(0, limit);
  const last = page[page.length - 1];
  return {
    images: page.map((r) => imageView(deps, r)),
    nextCursor:
      rows.length > limit && last
        ? Buffer.from(JSON.stringify([last.created_at, last.id])).toString('base64url')
        : null,
  };
}
