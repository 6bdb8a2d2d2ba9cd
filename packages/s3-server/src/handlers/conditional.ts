import { header, type S3Request } from '../context.ts';
import { S3Error } from '../errors.ts';
import type { ObjectRecord } from '../store/object-store.ts';

function etagMatches(list: string, etag: string): boolean {
  return list.split(',').some((t) => {
    const v = t.trim().replace(/^W\//, '');
    return v === '*' || v.replace(/^"|"$/g, '') === etag;
  });
}

function parseDate(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const t = Date.parse(value);
  return Number.isNaN(t) ? undefined : t;
}

// HTTP dates have second precision; S3 compares at that precision.
const seconds = (ms: number) => Math.floor(ms / 1000);

/**
 * Evaluates preconditions as S3 does (RFC 9110 order): 412 PreconditionFailed for If-Match /
 * If-Unmodified-Since, 'not-modified' for If-None-Match / If-Modified-Since on GET and HEAD.
 */
export function evaluatePreconditions(
  r: S3Request,
  rec: ObjectRecord,
  names = {
    ifMatch: 'if-match',
    ifNoneMatch: 'if-none-match',
    ifModifiedSince: 'if-modified-since',
    ifUnmodifiedSince: 'if-unmodified-since',
  },
): 'ok' | 'not-modified' {
  const ifMatch = header(r, names.ifMatch);
  const ifNoneMatch = header(r, names.ifNoneMatch);
  const ifUnmodified = parseDate(header(r, names.ifUnmodifiedSince));
  const ifModified = parseDate(header(r, names.ifModifiedSince));
  if (ifMatch !== undefined && !etagMatches(ifMatch, rec.etag)) {
    throw new S3Error('PreconditionFailed', undefined, { Condition: 'If-Match' });
  }
  if (
    ifMatch === undefined &&
    ifUnmodified !== undefined &&
    seconds(rec.lastModified) > seconds(ifUnmodified)
  ) {
    throw new S3Error('PreconditionFailed', undefined, { Condition: 'If-Unmodified-Since' });
  }
  if (ifNoneMatch !== undefined && etagMatches(ifNoneMatch, rec.etag)) return 'not-modified';
  if (
    ifNoneMatch === undefined &&
    ifModified !== undefined &&
    seconds(rec.lastModified) <= seconds(ifModified)
  ) {
    return 'not-modified';
  }
  return 'ok';
}

/** A single byte range resolved against a size; undefined means "send the whole object". */
export function parseRange(
  value: string | undefined,
  size: number,
): { start: number; end: number } | undefined {
  if (value === undefined) return undefined;
  const m = /^bytes=(\d*)-(\d*)$/.exec(value.trim());
  // Malformed or multi-range headers are ignored, as RFC 9110 allows and S3 does.
  if (!m || (m[1] === '' && m[2] === '')) return undefined;
  let start: number;
  let end: number;
  if (m[1] === '') {
    const suffix = Number(m[2]);
    if (suffix === 0) throw unsatisfiable(size, value);
    start = Math.max(0, size - suffix);
    end = size - 1;
  } else {
    start = Number(m[1]);
    end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
    if (m[2] !== '' && Number(m[2]) < start) return undefined;
  }
  if (start >= size || !Number.isSafeInteger(start)) throw unsatisfiable(size, value);
  return { start, end };
}

function unsatisfiable(size: number, requested: string): S3Error {
  return new S3Error('InvalidRange', undefined, { RangeRequested: requested, ActualObjectSize: size });
}

/** S3's largest part number. */
const MAX_PARTS = 10_000;

/** A `partNumber` query value: an integer in 1..10000, or S3's InvalidArgument. */
export function parsePartNumber(raw: string): number {
  const n = Number(raw);
  if (!/^\d+$/.test(raw) || n < 1 || n > MAX_PARTS) {
    throw new S3Error('InvalidArgument', 'Part number must be an integer between 1 and 10000, inclusive', {
      ArgumentName: 'partNumber',
      ArgumentValue: raw,
    });
  }
  return n;
}

/**
 * The bytes of part `n` of an object, for GetObject/HeadObject `?partNumber` ("effectively performs a
 * 'ranged' GET request for the part specified"): a multipart object's part as uploaded, a non-multipart
 * object is its one part 1. Beyond the last part: 416 InvalidPartNumber, as S3 answers.
 */
export function partRange(
  object: { size: number; partsCount: number | undefined; partSizes: number[] | undefined },
  n: number,
): { start: number; end: number } {
  const sizes = object.partSizes ?? (object.partsCount === undefined ? [object.size] : undefined);
  if (!sizes) {
    throw new S3Error(
      'NotImplemented',
      'This object was stored before part boundaries were kept; read it whole or by byte range.',
    );
  }
  if (n > sizes.length) {
    throw new S3Error('InvalidPartNumber', undefined, {
      PartNumberRequested: n,
      ActualPartCount: sizes.length,
    });
  }
  const start = sizes.slice(0, n - 1).reduce((a, b) => a + b, 0);
  return { start, end: start + sizes[n - 1]! - 1 };
}
