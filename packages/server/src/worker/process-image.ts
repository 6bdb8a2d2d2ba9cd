import { createHash } from 'node:crypto';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { type ImageErrorCode, originalKey, variantPrefix } from '@darkroom/contract';
import type { Logger } from 'pino';
import type { ImageRepository, ImageRow } from '../db/images.ts';
import type { VariantRecord } from '../domain/image-view.ts';
import { developImage, isPipelineError, type PipelineLimits, type VariantSpec } from '../pipeline/index.ts';
import type { StorageGateway } from '../storage/gateway.ts';
import { imageIdFromKey, type ObjectCreatedRecord } from './s3-events.ts';

/** Variants never change once written (per-image keys, written create-once), so the edge may keep them forever. */
export const IMMUTABLE = 'public, max-age=31536000, immutable';

export interface ProcessDeps {
  bucket: string;
  images: ImageRepository;
  storage: StorageGateway;
  variants: readonly VariantSpec[];
  limits: PipelineLimits;
  /** Scratch space; each job works in a folder of its own and removes it. */
  workRoot: string;
  log: Logger;
  /** Observes how long each stage took. */
  onStage?: (stage: 'download' | 'develop' | 'upload', seconds: number) => void;
}

async function timed<T>(
  deps: ProcessDeps,
  stage: 'download' | 'develop' | 'upload',
  fn: () => Promise<T>,
): Promise<T> {
  const started = performance.now();
  try {
    return await fn();
  } finally {
    deps.onStage?.(stage, (performance.now() - started) / 1000);
  }
}

/**
 * What became of one record; every outcome but an exception means the message may be deleted.
 * `rejected`: the event's object is not the image's approved original (a replayed upload URL), and was removed.
 * `deleted`: the image was deleted while it was being developed; what was written for it was removed.
 */
export type ProcessOutcome =
  | 'ready'
  | 'failed'
  | 'not-ours'
  | 'duplicate'
  | 'stale'
  | 'orphan-deleted'
  | 'rejected'
  | 'deleted';

/** How long a claim lasts unless renewed; its holder renews it every third of that while it works. */
export const CLAIM_MS = 60_000;

/** Marks the image failed with a stable code, unless it already reached a final state. */
async function fail(
  deps: ProcessDeps,
  row: ImageRow,
  code: ImageErrorCode,
  message: string,
  claim: { token: string } | { etag: string; bytes: number },
): Promise<'failed'> {
  const patch = { status: 'failed' as const, error_code: code, error_message: message };
  const failed =
    'token' in claim
      ? await deps.images.finishClaim(row.id, claim.token, patch)
      : // Not claimed yet: the failing original becomes the approved one, so a later replay is refused.
        await deps.images.transition(row.id, ['pending', 'uploaded'], {
          ...patch,
          etag: claim.etag,
          bytes: claim.bytes,
        });
  if (!failed) return 'failed';
  deps.log.info({ imageId: row.id, code }, 'image failed');
  // Its original will never be developed: tagged, the bucket's lifecycle rule expires it (POST and
  // multipart originals carry the tag from the upload; a PUT's gets it here).
  await deps.storage.tagUnprocessed(originalKey(row.id)).catch((err: unknown) => {
    deps.log.warn({ imageId: row.id, err }, 'could not tag the failed original unprocessed');
  });
  return 'failed';
}

/** Statuses in which the image's original is settled: claimed by a worker, or final. */
const SETTLED = new Set(['processing', 'ready', 'failed']);

/**
 * Develops the original named by one ObjectCreated record, at most once per approved original however
 * many messages name it. The first original storage reports for an image is recorded as its approved
 * original (a newer one written through the same URL replaces it only until a worker claims the image);
 * a worker claims the image on that ETag before downloading anything, and the claim is what every later
 * step checks. A message naming the approved original while another worker holds the claim is dropped
 * (`duplicate`) without decoding; one naming any other object is refused and that object removed
 * (`rejected`). `claimant` identifies the message: the same message delivered again takes its claim over.
 */
export async function processRecord(
  deps: ProcessDeps,
  record: ObjectCreatedRecord,
  claimant: string,
): Promise<ProcessOutcome> {
  const id = imageIdFromKey(record.key);
  if (record.bucket !== deps.bucket || !id) return 'not-ours';
  const row = await deps.images.findById(id);
  if (!row) {
    // The intent was cancelled or the image deleted while its presigned URL was still valid: the
    // bytes belong to nobody and would escape the owner's quota, so they go.
    await deps.storage.deleteAll([record.key]);
    deps.log.info({ key: record.key }, 'deleted an original that has no image record');
    return 'orphan-deleted';
  }
  if (SETTLED.has(row.status)) {
    const etag = record.eTag || (await deps.storage.head(record.key))?.etag;
    if (etag !== row.etag) return rejectReplacement(deps, row, etag);
    if (row.status === 'ready') {
      // A worker that died between `ready` and clearing the tag left it on; the redelivery finishes the job.
      await clearUnprocessedTag(deps, id);
      return 'duplicate';
    }
    if (row.status === 'failed') return 'duplicate';
    // Processing: taken over only if its claim lapsed or is this message's own.
    return develop(deps, row, row.etag, claimant);
  }

  const info = await deps.storage.head(record.key);
  // Gone, or replaced since this event: a newer event describes what is there now.
  if (!info || (record.eTag && info.etag !== record.eTag)) return 'stale';
  const exact = row.upload_method !== 'post';
  if (exact ? info.size !== row.declared_bytes : info.size > row.declared_bytes) {
    return fail(
      deps,
      row,
      'size_mismatch',
      `The upload is ${info.size} bytes; ${exact ? '' : 'at most '}${row.declared_bytes} were declared.`,
      { etag: info.etag, bytes: info.size },
    );
  }
  await deps.images.recordOriginal(id, info.size, info.etag);
  return develop(deps, row, info.etag, claimant);
}

/**
 * Refuses an event whose object is not the approved original: the approved variants stay as they are,
 * and whatever now sits at the original's key that is not the approved object is removed (it was written
 * through a replayed URL after approval, unchecked and outside the owner's quota). Logged and counted.
 */
async function rejectReplacement(
  deps: ProcessDeps,
  row: ImageRow,
  etag: string | undefined,
): Promise<'rejected'> {
  const key = originalKey(row.id);
  const stored = await deps.storage.head(key);
  const removed = stored !== undefined && stored.etag !== row.etag;
  if (removed) await deps.storage.deleteAll([key]);
  deps.log.warn(
    {
      imageId: row.id,
      owner: row.owner,
      status: row.status,
      approvedEtag: row.etag,
      eventEtag: etag,
      removed,
    },
    'refused an upload that replaced an approved original',
  );
  return 'rejected';
}

/** Claims the image on `etag`, then downloads, develops and publishes it while the claim holds. */
async function develop(
  deps: ProcessDeps,
  row: ImageRow,
  etag: string | null,
  token: string,
): Promise<ProcessOutcome> {
  const { id } = row;
  if (etag === null || !(await deps.images.claim(id, etag, token, CLAIM_MS))) return 'duplicate';
  const claim = { token };
  const renewing = setInterval(() => {
    deps.images.renewClaim(id, token, CLAIM_MS).catch((err: unknown) => {
      deps.log.warn({ imageId: id, err }, 'could not renew the claim on an image');
    });
  }, CLAIM_MS / 3);
  renewing.unref();
  const workDir = await fsp.mkdtemp(path.join(deps.workRoot, `${id}-`));
  try {
    const original = path.join(workDir, 'original');
    // Always hashed: a ready image's sha256 is this digest, which intents for the same bytes are matched on.
    const sha = createHash('sha256');
    // If-Match: storage hands over the approved original or nothing, never what a replay put there since.
    const got = await timed(deps, 'download', () =>
      deps.storage.downloadTo(originalKey(id), original, (c) => sha.update(c), { ifMatch: etag }),
    );
    if (!got) {
      return fail(
        deps,
        row,
        'upload_replaced',
        'The original was replaced or removed after it was accepted (its upload URL was used again); upload the image again.',
        claim,
      );
    }
    const sha256 = sha.digest('base64');
    if (row.sha256 && sha256 !== row.sha256) {
      return fail(
        deps,
        row,
        'checksum_mismatch',
        'The bytes do not match the SHA-256 declared with the upload.',
        claim,
      );
    }
    let developed: Awaited<ReturnType<typeof developImage>>;
    try {
      developed = await timed(deps, 'develop', () =>
        developImage(original, workDir, deps.variants, deps.limits),
      );
    } catch (err) {
      if (isPipelineError(err)) return fail(deps, row, err.code, err.message, claim);
      throw err;
    }
    // Nothing is written for an image that was deleted, or whose claim another worker took over.
    if (!(await deps.images.renewClaim(id, token, CLAIM_MS))) return afterLostClaim(deps, row);
    const variants: Record<string, VariantRecord> = {};
    // Private images' variants live apart, where only the CDN's signed-URL behaviour reads; they carry no
    // Cache-Control (that behaviour gives viewers a private one).
    const prefix = variantPrefix(id, row.visibility);
    const cacheControl = row.visibility === 'private' ? undefined : IMMUTABLE;
    for (const v of developed.variants) {
      const key = `${prefix}${v.name}.${extensionOf(v.file, v.format)}`;
      if (!(await publish(deps, row, token, key, v.file, v.contentType, cacheControl))) {
        return afterLostClaim(deps, row);
      }
      const record: VariantRecord = {
        key,
        width: v.width,
        height: v.height,
        bytes: v.bytes,
        contentType: v.contentType,
      };
      // Other formats of the same pixels sit beside the primary, under the same key pattern.
      const alternates: NonNullable<VariantRecord['alternates']> = [];
      for (const alt of v.alternates ?? []) {
        const altKey = `${prefix}${v.name}.${extensionOf(alt.file, alt.format)}`;
        if (!(await publish(deps, row, token, altKey, alt.file, alt.contentType, cacheControl))) {
          return afterLostClaim(deps, row);
        }
        alternates.push({ format: alt.format, key: altKey, bytes: alt.bytes, contentType: alt.contentType });
      }
      if (alternates.length > 0) record.alternates = alternates;
      variants[v.name] = record;
    }
    const done = await deps.images.finishClaim(id, token, {
      status: 'ready',
      width: developed.width,
      height: developed.height,
      format: developed.format,
      thumbhash: developed.thumbhash,
      dominant_color: developed.dominantColor,
      transparent: developed.transparent ? 1 : 0,
      variants: JSON.stringify(variants),
      sha256,
      error_code: null,
      error_message: null,
    });
    if (!done) return afterLostClaim(deps, row);
    deps.log.info({ imageId: id, variants: Object.keys(variants).length }, 'image ready');
    await clearUnprocessedTag(deps, id);
    return 'ready';
  } finally {
    clearInterval(renewing);
    await fsp.rm(workDir, { recursive: true, force: true });
  }
}

/**
 * Writes one developed file under its variant key, create-once (`If-None-Match: *`): a variant's bytes never
 * change once written, whatever runs late. The same bytes already there (a redelivered job re-writing what
 * it wrote before a crash) count as written. Other bytes are replaced only by the claim's holder, while the
 * image is not ready: they come from an earlier attempt at the same approved original whose claim lapsed
 * (a crash or a stall, perhaps under another version of the pipeline), and nothing has served them yet.
 * False when the claim is lost: then this job writes nothing more and what is there stays.
 */
async function publish(
  deps: ProcessDeps,
  row: ImageRow,
  token: string,
  key: string,
  file: string,
  contentType: string,
  cacheControl: string | undefined,
): Promise<boolean> {
  const put = await deps.storage.putFileOnce(key, file, contentType, cacheControl);
  if (put.written || put.sameBytes) return true;
  if (!(await deps.images.renewClaim(row.id, token, CLAIM_MS))) return false;
  if (!(await deps.storage.replaceFile(key, file, contentType, cacheControl, put.etag))) {
    // Changed again since it was looked at: the job fails, and its redelivery looks afresh.
    throw new Error(`variant ${key} changed while this job, holding the claim, was replacing it`);
  }
  deps.log.warn(
    { imageId: row.id, key, replacedEtag: put.etag },
    'replaced a variant an earlier attempt at this image had written with other bytes',
  );
  return true;
}

/**
 * The claim is gone. If the image was deleted meanwhile, whatever this job wrote under its prefixes
 * would belong to nobody (and be served by anyone who guesses the key): it goes. Otherwise another
 * worker took the claim over and publishes the same original's variants.
 */
async function afterLostClaim(deps: ProcessDeps, row: ImageRow): Promise<'deleted' | 'duplicate'> {
  if (await deps.images.findById(row.id)) {
    deps.log.info({ imageId: row.id }, 'image finished elsewhere');
    return 'duplicate';
  }
  await deps.storage.deleteAll([], [variantPrefix(row.id, 'public'), variantPrefix(row.id, 'private')]);
  deps.log.info({ imageId: row.id }, 'image deleted while it was developed; removed what was written for it');
  return 'deleted';
}

/**
 * Takes the unprocessed tag off a ready image's original so the bucket's lifecycle rule keeps it. The
 * image is ready whatever happens here: a failure is logged, and the original then expires with the
 * unprocessed ones (its variants stay, re-processing and transforms lose their source).
 */
async function clearUnprocessedTag(deps: ProcessDeps, id: string): Promise<void> {
  try {
    await deps.storage.clearTags(originalKey(id));
  } catch (err) {
    deps.log.warn({ imageId: id, err }, 'could not clear the unprocessed tag of the original');
  }
}

function extensionOf(file: string, format: string): string {
  return path.extname(file).slice(1) || format;
}
