// Resuming an interrupted multipart upload: storage's part list wins over the record, the file is checked
// (or asked for again) before anything is sent, and only the missing parts go.
import { platform } from '#platform';
import type { ApiClient } from './api-client.ts';
import { UploadError } from './errors.ts';
import { fingerprint, sameFile } from './fingerprint.ts';
import type { Context, Handle } from './handle.ts';
import { partRange, type StoredPart } from './multipart.ts';
import { prepare } from './prepare.ts';
import { DEFAULT_ALLOWED_TYPES, fileType, typeAllowed } from './restrictions.ts';
import { finish, sendMultipart, untilDone } from './sending.ts';
import type { ResumeRecord, UploadOptions } from './types.ts';

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
export async function storedParts(h: Handle, ctx: Context, record: ResumeRecord): Promise<StoredPart[]> {
  return adoptStored(record, await listStored(h, ctx, record.imageId));
}

export async function runResume(
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
