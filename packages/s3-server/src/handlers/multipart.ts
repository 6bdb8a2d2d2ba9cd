import { createHash } from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import { finished, pipeline } from 'node:stream/promises';
import { checksumHeader, compositeChecksum, createHasher, parseChecksumAlgorithm } from '@darkroom/aws-auth';
import { header, isoDate, queryValue, quoteEtag, type S3Request, sendEmpty, sendXml } from '../context.ts';
import { S3Error } from '../errors.ts';
import { checksumResponseHeaders, HashingStream, receiveBody, receiveSmallBody } from '../receive.ts';
import {
  type CompletedUpload,
  type PartRecord,
  UploadAlreadyCompleted,
  type UploadRecord,
} from '../store/object-store.ts';
import { parseTaggingHeader } from '../tagging.ts';
import { asArray, parseS3Xml, s3Xml } from '../xml.ts';
import { owner } from './buckets.ts';
import { parsePartNumber } from './conditional.ts';
import { copySourceObject, copySourceRange } from './copy-source.ts';
import { notifyCreated } from './objects.ts';
import { assertKey, storedHeadersFrom } from './representation.ts';
import { conditionalGuard, writeConditionsOf } from './write-conditions.ts';

const MIN_PART_BYTES = 5 * 1024 * 1024;

function checksumField(algorithm: string): string {
  return `Checksum${algorithm}`;
}

function uploadOf(r: S3Request): UploadRecord {
  r.store.requireBucket(r.bucket!);
  return r.store.requireUpload(r.bucket!, r.key!, queryValue(r, 'uploadId') ?? '');
}

/** CreateMultipartUpload (POST ?uploads). */
export function createMultipartUpload(r: S3Request): void {
  assertKey(r.key!);
  const checksumAlgorithm = parseChecksumAlgorithm(header(r, 'x-amz-checksum-algorithm'));
  const checksumType = header(r, 'x-amz-checksum-type')?.toUpperCase();
  if (checksumType !== undefined && checksumType !== 'COMPOSITE') {
    throw new S3Error(
      'InvalidRequest',
      `Checksum type ${checksumType} is not supported here; use COMPOSITE.`,
    );
  }
  const { headers, metadata } = storedHeadersFrom(r);
  const upload = r.store.createUpload({
    bucket: r.bucket!,
    key: r.key!,
    headers,
    metadata,
    checksumAlgorithm,
    // The completed object gets these tags, as S3 does.
    tags: parseTaggingHeader(header(r, 'x-amz-tagging')) ?? {},
  });
  sendXml(
    r,
    200,
    s3Xml('InitiateMultipartUploadResult', {
      Bucket: upload.bucket,
      Key: upload.key,
      UploadId: upload.uploadId,
    }),
    checksumAlgorithm
      ? { 'x-amz-checksum-algorithm': checksumAlgorithm, 'x-amz-checksum-type': 'COMPOSITE' }
      : {},
  );
}

/** UploadPart (PUT ?partNumber&uploadId). */
export async function uploadPart(r: S3Request): Promise<void> {
  const upload = uploadOf(r);
  const partNumber = parsePartNumber(queryValue(r, 'partNumber') ?? '');
  if (header(r, 'x-amz-copy-source') !== undefined) return uploadPartCopy(r, upload, partNumber);
  const received = await receiveBody(r, {
    maxBytes: r.options.maxObjectBytes,
    checksumAlgorithm: upload.checksumAlgorithm,
    tempPath: r.store.tempPath(),
  });
  const etag = received.md5.toString('hex');
  await r.store.putPart(upload, partNumber, received, etag, received.checksum?.value);
  sendEmpty(r, 200, { etag: quoteEtag(etag), ...checksumResponseHeaders(received.checksum) });
}

/** UploadPartCopy (PUT ?partNumber&uploadId with x-amz-copy-source): a part cut from an existing object. */
async function uploadPartCopy(r: S3Request, upload: UploadRecord, partNumber: number): Promise<void> {
  const src = copySourceObject(r);
  const { start, end } = copySourceRange(header(r, 'x-amz-copy-source-range'), src.size);
  const md5 = createHasher('MD5');
  const checksum = upload.checksumAlgorithm ? createHasher(upload.checksumAlgorithm) : undefined;
  const hashing = new HashingStream([md5, ...(checksum ? [checksum] : [])], r.options.maxObjectBytes);
  const tempPath = r.store.tempPath();
  try {
    // An empty source has no byte to read (createReadStream would read from 0 to EOF).
    const source = end >= start ? fs.createReadStream(r.store.blobPath(src.blob), { start, end }) : [];
    await pipeline(source, hashing, fs.createWriteStream(tempPath, { flush: true }));
  } catch (err) {
    await fsp.rm(tempPath, { force: true });
    throw err;
  }
  const digest = md5.digest();
  const etag = digest.toString('hex');
  const checksumValue = checksum?.digest().toString('base64');
  await r.store.putPart(
    upload,
    partNumber,
    { tempPath, size: hashing.bytes, md5: digest },
    etag,
    checksumValue,
  );
  sendXml(
    r,
    200,
    s3Xml('CopyPartResult', {
      ETag: quoteEtag(etag),
      LastModified: isoDate(Date.now()),
      ...(upload.checksumAlgorithm && checksumValue
        ? { [checksumField(upload.checksumAlgorithm)]: checksumValue }
        : {}),
    }),
  );
}

function partXml(p: PartRecord, upload: UploadRecord): Record<string, unknown> {
  return {
    PartNumber: p.partNumber,
    LastModified: isoDate(p.lastModified),
    ETag: quoteEtag(p.etag),
    Size: p.size,
    ...(upload.checksumAlgorithm && p.checksumValue
      ? { [checksumField(upload.checksumAlgorithm)]: p.checksumValue }
      : {}),
  };
}

/** ListParts (GET ?uploadId): the truth a resuming client starts from. */
export function listParts(r: S3Request): void {
  const upload = uploadOf(r);
  const marker = Number(queryValue(r, 'part-number-marker') ?? 0) || 0;
  const maxParts = Math.min(Number(queryValue(r, 'max-parts') ?? 1000) || 1000, 1000);
  const parts = r.store.listParts(upload.uploadId, marker, maxParts + 1);
  const page = parts.slice(0, maxParts);
  const truncated = parts.length > maxParts;
  sendXml(
    r,
    200,
    s3Xml('ListPartsResult', {
      Bucket: upload.bucket,
      Key: upload.key,
      UploadId: upload.uploadId,
      PartNumberMarker: marker,
      ...(truncated ? { NextPartNumberMarker: page[page.length - 1]!.partNumber } : {}),
      MaxParts: maxParts,
      IsTruncated: truncated,
      Part: page.map((p) => partXml(p, upload)),
      Initiator: owner(r),
      Owner: owner(r),
      StorageClass: 'STANDARD',
      ...(upload.checksumAlgorithm
        ? { ChecksumAlgorithm: upload.checksumAlgorithm, ChecksumType: 'COMPOSITE' }
        : {}),
    }),
  );
}

type RequestedPart = { PartNumber?: string; ETag?: string } & Record<string, string | undefined>;

const unquote = (etag: string) => etag.replace(/^"|"$/g, '');

/**
 * The part list of a Complete: in ascending order, where a part number given twice names the same part
 * and its last entry counts (the part last uploaded under a number is the one that exists; ceph's
 * s3-tests `test_multipart_resend_first_finishes_last` completes with such a list, and S3 accepts it).
 */
function requestedParts(
  doc: Record<string, unknown>,
): { number: number; etag: string; want: RequestedPart }[] {
  const requested = asArray(doc.Part as RequestedPart | RequestedPart[] | undefined);
  if (requested.length === 0) throw new S3Error('MalformedXML', 'You must specify at least one part.');
  const parts: { number: number; etag: string; want: RequestedPart }[] = [];
  for (const want of requested) {
    const number = Number(want.PartNumber);
    const last = parts.at(-1);
    if (!Number.isInteger(number) || number < 1 || (last && number < last.number))
      throw new S3Error('InvalidPartOrder');
    const part = { number, etag: unquote(want.ETag ?? ''), want };
    if (last?.number === number) parts[parts.length - 1] = part;
    else parts.push(part);
  }
  return parts;
}

/** The answer to a completed upload, first time or retried: the same Location, ETag and checksum. */
function sendCompleted(r: S3Request, result: Omit<CompletedUpload, 'parts'>): void {
  const host = header(r, 'host') ?? 'localhost';
  const { checksum } = result;
  sendXml(
    r,
    200,
    s3Xml('CompleteMultipartUploadResult', {
      Location: `http://${host}/${encodeURIComponent(r.bucket!)}/${r.key!.split('/').map(encodeURIComponent).join('/')}`,
      Bucket: r.bucket!,
      Key: r.key!,
      ETag: quoteEtag(result.etag),
      ...(checksum
        ? { [checksumField(checksum.algorithm)]: checksum.value, ChecksumType: checksum.type }
        : {}),
    }),
    checksum ? { [checksumHeader(checksum.algorithm)]: checksum.value } : {},
  );
}

/** A part's bytes vanished while a Complete read them. */
class PartGone extends Error {
  constructor(readonly partNumber: number) {
    super(`part ${partNumber} was removed while completing`);
  }
}

/** Streams the chosen parts, in order, into one temp file (PartGone when one vanishes meanwhile). */
async function assemble(
  r: S3Request,
  chosen: readonly PartRecord[],
): Promise<{ tempPath: string; size: number }> {
  const tempPath = r.store.tempPath();
  let size = 0;
  try {
    const sink = fs.createWriteStream(tempPath, { flush: true });
    for (const part of chosen) {
      try {
        await pipeline(fs.createReadStream(r.store.blobPath(part.blob)), sink, { end: false });
      } catch (err) {
        // A concurrent Complete of this upload, or UploadPart of this number, removed the part's bytes.
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new PartGone(part.partNumber);
        throw err;
      }
      size += part.size;
    }
    await finished(sink.end());
  } catch (err) {
    await fsp.rm(tempPath, { force: true });
    throw err;
  }
  return { tempPath, size };
}

/**
 * CompleteMultipartUpload: checks order, ETags, sizes and checksums, then assembles by streaming. Retried
 * with the same parts after it succeeded, it answers the same 200 and ETag (for COMPLETED_UPLOAD_TTL_MS),
 * so a client whose first answer was lost can retry; S3 does the same. `If-None-Match: *` / `If-Match`
 * make it conditional (write-conditions.ts), judged against the object the key held when the upload began.
 */
export async function completeMultipartUpload(r: S3Request): Promise<void> {
  r.store.requireBucket(r.bucket!);
  const uploadId = queryValue(r, 'uploadId') ?? '';
  const conditions = writeConditionsOf(r);
  const doc = parseS3Xml(
    (await receiveSmallBody(r, 4 * 1024 * 1024)).toString('utf8'),
    'CompleteMultipartUpload',
  );
  const parts = requestedParts(doc);
  const partList: [number, string][] = parts.map((p) => [p.number, p.etag]);
  const upload = r.store.findUpload(r.bucket!, r.key!, uploadId);
  if (!upload) {
    const done = r.store.completedUpload(r.bucket!, r.key!, uploadId);
    if (done && JSON.stringify(done.parts) === JSON.stringify(partList)) return sendCompleted(r, done);
    throw new S3Error('NoSuchUpload', undefined, { UploadId: uploadId });
  }
  const guard = conditionalGuard(conditions, upload.key, upload.keyVersion);
  guard?.(r.store.getObject(upload.bucket, upload.key));

  const stored = new Map(r.store.listParts(upload.uploadId).map((p) => [p.partNumber, p]));
  // S3 checks the whole list's order first (above), then each part, then the sizes.
  const chosen = parts.map(({ number, etag, want }) => {
    const part = stored.get(number);
    if (!part || part.etag !== etag)
      throw new S3Error('InvalidPart', undefined, { PartNumber: number, ETag: want.ETag ?? '' });
    const algorithm = upload.checksumAlgorithm;
    const given = algorithm ? want[checksumField(algorithm)] : undefined;
    if (given !== undefined && given !== part.checksumValue) {
      throw new S3Error('InvalidPart', `The ${algorithm} checksum of part ${number} does not match.`, {
        PartNumber: number,
      });
    }
    return part;
  });
  for (const part of chosen.slice(0, -1)) {
    if (part.size < MIN_PART_BYTES) {
      throw new S3Error('EntityTooSmall', undefined, {
        ProposedSize: part.size,
        MinSizeAllowed: MIN_PART_BYTES,
        PartNumber: part.partNumber,
        ETag: quoteEtag(part.etag),
      });
    }
  }

  let assembled: { tempPath: string; size: number };
  try {
    assembled = await assemble(r, chosen);
  } catch (err) {
    if (!(err instanceof PartGone)) throw err;
    // Another Complete of this upload finished first (same parts: its answer), or the part was replaced.
    const done = r.store.completedUpload(r.bucket!, r.key!, uploadId);
    if (done && JSON.stringify(done.parts) === JSON.stringify(partList)) return sendCompleted(r, done);
    if (done || !r.store.findUpload(r.bucket!, r.key!, uploadId))
      throw new S3Error('NoSuchUpload', undefined, { UploadId: uploadId });
    throw new S3Error('InvalidPart', `Part ${err.partNumber} was replaced while completing.`, {
      PartNumber: err.partNumber,
    });
  }
  const { tempPath, size } = assembled;
  const md5s = createHash('md5');
  for (const p of chosen) md5s.update(Buffer.from(p.etag, 'hex'));
  const etag = `${md5s.digest('hex')}-${chosen.length}`;
  const checksum =
    upload.checksumAlgorithm && chosen.every((p) => p.checksumValue)
      ? {
          algorithm: upload.checksumAlgorithm,
          value: compositeChecksum(
            upload.checksumAlgorithm,
            chosen.map((p) => p.checksumValue!),
          ),
          type: 'COMPOSITE' as const,
        }
      : undefined;
  try {
    await r.store.completeUpload(
      upload,
      { tempPath, size, md5: Buffer.alloc(0) },
      {
        bucket: upload.bucket,
        key: upload.key,
        etag,
        headers: upload.headers,
        metadata: upload.metadata,
        checksum,
        partSizes: chosen.map((p) => p.size),
        tags: upload.tags,
      },
      { parts: partList, etag, checksum },
      notifyCreated(r, 'CompleteMultipartUpload'),
      guard,
    );
  } catch (err) {
    // A concurrent Complete of this upload won: the same parts get its answer, other parts cannot.
    if (err instanceof UploadAlreadyCompleted) {
      if (JSON.stringify(err.completed.parts) === JSON.stringify(partList))
        return sendCompleted(r, err.completed);
      throw new S3Error('NoSuchUpload', undefined, { UploadId: uploadId });
    }
    throw err;
  }
  r.notifications.kick();
  sendCompleted(r, { etag, checksum });
}

/** AbortMultipartUpload (DELETE ?uploadId). */
export async function abortMultipartUpload(r: S3Request): Promise<void> {
  r.store.requireBucket(r.bucket!);
  await r.store.abortUpload(r.bucket!, r.key!, queryValue(r, 'uploadId') ?? '');
  sendEmpty(r, 204);
}

/** ListMultipartUploads (GET ?uploads), by key then initiation time. */
export function listMultipartUploads(r: S3Request): void {
  r.store.requireBucket(r.bucket!);
  const maxUploads = Math.min(Number(queryValue(r, 'max-uploads') ?? 1000) || 1000, 1000);
  const keyMarker = queryValue(r, 'key-marker') ?? '';
  const uploadIdMarker = queryValue(r, 'upload-id-marker') ?? '';
  const prefix = queryValue(r, 'prefix') ?? '';
  const { uploads, isTruncated } = r.store.listUploads(r.bucket!, {
    prefix,
    keyMarker,
    uploadIdMarker,
    maxUploads,
  });
  const last = uploads[uploads.length - 1];
  sendXml(
    r,
    200,
    s3Xml('ListMultipartUploadsResult', {
      Bucket: r.bucket!,
      KeyMarker: keyMarker,
      UploadIdMarker: uploadIdMarker,
      ...(isTruncated && last ? { NextKeyMarker: last.key, NextUploadIdMarker: last.uploadId } : {}),
      Prefix: prefix,
      MaxUploads: maxUploads,
      IsTruncated: isTruncated,
      Upload: uploads.map((u) => ({
        Key: u.key,
        UploadId: u.uploadId,
        Initiator: owner(r),
        Owner: owner(r),
        StorageClass: 'STANDARD',
        Initiated: isoDate(u.initiated),
        ...(u.checksumAlgorithm ? { ChecksumAlgorithm: u.checksumAlgorithm } : {}),
      })),
    }),
  );
}
