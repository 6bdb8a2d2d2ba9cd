import { createHash } from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import { finished, pipeline } from 'node:stream/promises';
import { checksumHeader, compositeChecksum, parseChecksumAlgorithm } from '@darkroom/aws-auth';
import { header, isoDate, queryValue, quoteEtag, type S3Request, sendEmpty, sendXml } from '../context.ts';
import { S3Error } from '../errors.ts';
import { checksumResponseHeaders, receiveBody, receiveSmallBody } from '../receive.ts';
import type { PartRecord, UploadRecord } from '../store/object-store.ts';
import { parseTaggingHeader } from '../tagging.ts';
import { asArray, parseS3Xml, s3Xml } from '../xml.ts';
import { owner } from './buckets.ts';
import { notifyCreated } from './objects.ts';
import { assertKey, storedHeadersFrom } from './representation.ts';

const MIN_PART_BYTES = 5 * 1024 * 1024;
const MAX_PARTS = 10_000;

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
  const raw = queryValue(r, 'partNumber') ?? '';
  const partNumber = Number(raw);
  if (!/^\d+$/.test(raw) || partNumber < 1 || partNumber > MAX_PARTS) {
    throw new S3Error('InvalidArgument', 'Part number must be an integer between 1 and 10000, inclusive', {
      ArgumentName: 'partNumber',
      ArgumentValue: raw,
    });
  }
  if (header(r, 'x-amz-copy-source') !== undefined) {
    throw new S3Error('NotImplemented', 'UploadPartCopy is not supported by this server.');
  }
  const received = await receiveBody(r, {
    maxBytes: r.options.maxObjectBytes,
    checksumAlgorithm: upload.checksumAlgorithm,
    tempPath: r.store.tempPath(),
  });
  const etag = received.md5.toString('hex');
  await r.store.putPart(upload, partNumber, received, etag, received.checksum?.value);
  sendEmpty(r, 200, { etag: quoteEtag(etag), ...checksumResponseHeaders(received.checksum) });
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

/** CompleteMultipartUpload: checks order, ETags, sizes and checksums, then assembles by streaming. */
export async function completeMultipartUpload(r: S3Request): Promise<void> {
  const upload = uploadOf(r);
  const doc = parseS3Xml(
    (await receiveSmallBody(r, 4 * 1024 * 1024)).toString('utf8'),
    'CompleteMultipartUpload',
  );
  const requested = asArray(doc.Part as RequestedPart | RequestedPart[] | undefined);
  if (requested.length === 0) throw new S3Error('MalformedXML', 'You must specify at least one part.');
  const stored = new Map(r.store.listParts(upload.uploadId).map((p) => [p.partNumber, p]));
  // S3 checks the whole list's order first, then each part, then the sizes.
  const numbers = requested.map((want) => Number(want.PartNumber));
  numbers.forEach((n, i) => {
    if (!Number.isInteger(n) || n < 1 || (i > 0 && n <= numbers[i - 1]!))
      throw new S3Error('InvalidPartOrder');
  });
  const chosen = requested.map((want, i) => {
    const number = numbers[i]!;
    const part = stored.get(number);
    const etag = (want.ETag ?? '').replace(/^"|"$/g, '');
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

  const tempPath = r.store.tempPath();
  let size = 0;
  try {
    const sink = fs.createWriteStream(tempPath, { flush: true });
    for (const part of chosen) {
      await pipeline(fs.createReadStream(r.store.blobPath(part.blob)), sink, { end: false });
      size += part.size;
    }
    await finished(sink.end());
  } catch (err) {
    await fsp.rm(tempPath, { force: true });
    throw err;
  }

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
  const rec = await r.store.completeUpload(
    upload,
    { tempPath, size, md5: Buffer.alloc(0) },
    {
      bucket: upload.bucket,
      key: upload.key,
      etag,
      headers: upload.headers,
      metadata: upload.metadata,
      checksum,
      partsCount: chosen.length,
      tags: upload.tags,
    },
    notifyCreated(r, 'CompleteMultipartUpload'),
  );
  r.notifications.kick();
  const host = header(r, 'host') ?? 'localhost';
  sendXml(
    r,
    200,
    s3Xml('CompleteMultipartUploadResult', {
      Location: `http://${host}/${encodeURIComponent(rec.bucket)}/${rec.key.split('/').map(encodeURIComponent).join('/')}`,
      Bucket: rec.bucket,
      Key: rec.key,
      ETag: quoteEtag(rec.etag),
      ...(checksum
        ? { [checksumField(checksum.algorithm)]: checksum.value, ChecksumType: checksum.type }
        : {}),
    }),
    checksum ? { [checksumHeader(checksum.algorithm)]: checksum.value } : {},
  );
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
