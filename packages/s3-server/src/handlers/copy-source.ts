import { header, type S3Request } from '../context.ts';
import { S3Error } from '../errors.ts';
import type { ObjectRecord } from '../store/object-store.ts';
import { evaluatePreconditions } from './conditional.ts';

/** Parses `x-amz-copy-source` (`bucket/key` or `/bucket/key`, URL-encoded, optional `?versionId=`). */
function parseCopySource(value: string): { bucket: string; key: string } {
  const withoutVersion = value.split('?')[0]!;
  let decoded: string;
  try {
    decoded = decodeURIComponent(withoutVersion.replace(/^\//, ''));
  } catch {
    throw new S3Error(
      'InvalidArgument',
      'Copy Source must mention the source bucket and key: sourcebucket/sourcekey.',
    );
  }
  const slash = decoded.indexOf('/');
  if (slash <= 0 || slash === decoded.length - 1) {
    throw new S3Error(
      'InvalidArgument',
      'Copy Source must mention the source bucket and key: sourcebucket/sourcekey.',
    );
  }
  return { bucket: decoded.slice(0, slash), key: decoded.slice(slash + 1) };
}

/**
 * The object `x-amz-copy-source` names (CopyObject, UploadPartCopy): NoSuchBucket / NoSuchKey when it is
 * not there, 412 PreconditionFailed when its `x-amz-copy-source-if-*` conditions do not hold.
 */
export function copySourceObject(r: S3Request): ObjectRecord {
  const source = parseCopySource(header(r, 'x-amz-copy-source')!);
  r.store.requireBucket(source.bucket);
  const src = r.store.getObject(source.bucket, source.key);
  if (!src) throw new S3Error('NoSuchKey', undefined, { Key: source.key });
  if (
    evaluatePreconditions(r, src, {
      ifMatch: 'x-amz-copy-source-if-match',
      ifNoneMatch: 'x-amz-copy-source-if-none-match',
      ifModifiedSince: 'x-amz-copy-source-if-modified-since',
      ifUnmodifiedSince: 'x-amz-copy-source-if-unmodified-since',
    }) === 'not-modified'
  ) {
    throw new S3Error('PreconditionFailed');
  }
  return src;
}

const RANGE_FORM =
  'The x-amz-copy-source-range value must be of the form bytes=first-last where first and last are the zero-based offsets of the first and last bytes to copy';

/**
 * `x-amz-copy-source-range` of UploadPartCopy against the source's size: the whole object when absent.
 * Unlike a GET Range, only `bytes=first-last` is accepted; the errors are the ones Amazon S3 answers
 * (InvalidArgument for the form or an end past the object, InvalidRequest for a start past it).
 */
export function copySourceRange(value: string | undefined, size: number): { start: number; end: number } {
  if (value === undefined) return { start: 0, end: size - 1 };
  const m = /^bytes=(\d+)-(\d+)$/.exec(value.trim());
  const start = Number(m?.[1]);
  const end = Number(m?.[2]);
  if (!m || end < start) {
    throw new S3Error('InvalidArgument', RANGE_FORM, {
      ArgumentName: 'x-amz-copy-source-range',
      ArgumentValue: value,
    });
  }
  if (start >= size)
    throw new S3Error('InvalidRequest', 'The specified copy range is invalid for the source object size');
  if (end >= size) {
    throw new S3Error('InvalidArgument', `Range specified is not valid for source object of size: ${size}`, {
      ArgumentName: 'x-amz-copy-source-range',
      ArgumentValue: value,
    });
  }
  return { start, end };
}
