import { createHash } from 'node:crypto';
import fsp from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from 'pino';
import type { ImageRepository, ImageRow } from '../db/images.ts';
import { originalKey, type VariantRecord, variantPrefix } from '../domain/image-view.ts';
import { developImage, isPipelineError, type PipelineLimits, type VariantSpec } from '../pipeline/index.ts';
import type { StorageGateway } from '../storage/gateway.ts';
import { imageIdFromKey, type ObjectCreatedRecord } from './s3-events.ts';

/** Variants never change once written (their keys are per image), so the edge may keep them forever. */
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

/** What became of one record; every outcome but an exception means the message may be deleted. */
export type ProcessOutcome = 'ready' | 'failed' | 'not-ours' | 'duplicate' | 'stale' | 'orphan-deleted';

/** Marks the image failed with a stable code, unless it already reached a final state. */
async function fail(deps: ProcessDeps, row: ImageRow, code: string, message: string): Promise<'failed'> {
  await deps.images.transition(row.id, ['pending', 'uploaded', 'processing'], {
    status: 'failed',
    error_code: code,
    error_message: message,
  });
  deps.log.info({ imageId: row.id, code }, 'image failed');
  // Its original will never be developed: tagged, the bucket's lifecycle rule expires it (POST and
  // multipart originals carry the tag from the upload; a PUT's gets it here).
  await deps.storage.tagUnprocessed(originalKey(row.id)).catch((err: unknown) => {
    deps.log.warn({ imageId: row.id, err }, 'could not tag the failed original unprocessed');
  });
  return 'failed';
}

/**
 * Develops the original named by one ObjectCreated record. Safe to run any number of times for the
 * same record, concurrently or after a crash: status changes are compare-and-set, variant keys are
 * fixed per image and written whole, and the record only turns `ready` after every variant is stored.
 */
export async function processRecord(deps: ProcessDeps, record: ObjectCreatedRecord): Promise<ProcessOutcome> {
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
  if (row.status === 'ready') {
    // A worker that died between `ready` and clearing the tag left it on; the redelivery finishes the job.
    await clearUnprocessedTag(deps, id);
    return 'duplicate';
  }
  if (row.status === 'failed' || row.status === 'deleted') return 'duplicate';

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
    );
  }
  if (row.status === 'pending') await deps.images.markUploaded(id, info.size, info.etag);
  if (!(await deps.images.transition(id, ['uploaded', 'processing'], { status: 'processing' })))
    return 'duplicate';

  const workDir = await fsp.mkdtemp(path.join(deps.workRoot, `${id}-`));
  try {
    const original = path.join(workDir, 'original');
    const sha = row.sha256 ? createHash('sha256') : undefined;
    const got = await timed(deps, 'download', () =>
      deps.storage.downloadTo(originalKey(id), original, sha && ((c) => sha.update(c))),
    );
    if (!got || got.etag !== info.etag) return 'stale';
    if (sha && sha.digest('base64') !== row.sha256) {
      return fail(
        deps,
        row,
        'checksum_mismatch',
        'The bytes do not match the SHA-256 declared with the upload.',
      );
    }
    let developed: Awaited<ReturnType<typeof developImage>>;
    try {
      developed = await timed(deps, 'develop', () =>
        developImage(original, workDir, deps.variants, deps.limits),
      );
    } catch (err) {
      if (isPipelineError(err)) return fail(deps, row, err.code, err.message);
      throw err;
    }
    const variants: Record<string, VariantRecord> = {};
    // Private images' variants live apart, where only the CDN's signed-URL behaviour reads; they carry no
    // Cache-Control (that behaviour gives viewers a private one).
    const prefix = variantPrefix(id, row.visibility);
    const cacheControl = row.visibility === 'private' ? undefined : IMMUTABLE;
    for (const v of developed.variants) {
      const key = `${prefix}${v.name}.${extensionOf(v.file, v.format)}`;
      await deps.storage.putFile(key, v.file, v.contentType, cacheControl);
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
        await deps.storage.putFile(altKey, alt.file, alt.contentType, cacheControl);
        alternates.push({ format: alt.format, key: altKey, bytes: alt.bytes, contentType: alt.contentType });
      }
      if (alternates.length > 0) record.alternates = alternates;
      variants[v.name] = record;
    }
    const done = await deps.images.transition(id, ['processing'], {
      status: 'ready',
      width: developed.width,
      height: developed.height,
      format: developed.format,
      thumbhash: developed.thumbhash,
      dominant_color: developed.dominantColor,
      variants: JSON.stringify(variants),
      error_code: null,
      error_message: null,
    });
    deps.log.info(
      { imageId: id, variants: Object.keys(variants).length },
      done ? 'image ready' : 'image finished elsewhere',
    );
    if (done) await clearUnprocessedTag(deps, id);
    return done ? 'ready' : 'duplicate';
  } finally {
    await fsp.rm(workDir, { recursive: true, force: true });
  }
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
