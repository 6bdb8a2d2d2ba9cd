import { header, quoteEtag, type S3Request } from '../context.ts';
import { S3Error } from '../errors.ts';
import type { ObjectRecord, StoredHeaders } from '../store/object-store.ts';

const METADATA_LIMIT = 2048;
const KEY_LIMIT = 1024;

/** S3's default type for objects stored without one. */
export const DEFAULT_CONTENT_TYPE = 'binary/octet-stream';

/** Checks a key against S3's limits. */
export function assertKey(key: string): void {
  if (Buffer.byteLength(key) > KEY_LIMIT)
    throw new S3Error('KeyTooLongError', undefined, { MaxSizeAllowed: KEY_LIMIT });
  if (key.includes('\0'))
    throw new S3Error('InvalidArgument', 'Object keys must not contain NUL characters.');
}

/** The representation headers and user metadata a write request asks S3 to store. */
export function storedHeadersFrom(r: S3Request): {
  headers: StoredHeaders;
  metadata: Record<string, string>;
} {
  // aws-chunked is a transfer framing, not a property of the object; S3 drops it.
  const encoding = header(r, 'content-encoding')
    ?.split(',')
    .map((s) => s.trim())
    .filter((s) => s && s !== 'aws-chunked')
    .join(', ');
  const headers: StoredHeaders = {
    contentType: header(r, 'content-type') ?? DEFAULT_CONTENT_TYPE,
    ...optional('cacheControl', header(r, 'cache-control')),
    ...optional('contentDisposition', header(r, 'content-disposition')),
    ...optional('contentEncoding', encoding || undefined),
    ...optional('contentLanguage', header(r, 'content-language')),
    ...optional('expires', header(r, 'expires')),
  };
  return { headers, metadata: metadataFrom(r.req.headers) };
}

function optional<K extends string>(name: K, value: string | undefined): { [P in K]?: string } {
  return (value === undefined ? {} : { [name]: value }) as { [P in K]?: string };
}

/** Collects `x-amz-meta-*` headers and enforces S3's 2 KB limit. */
export function metadataFrom(headers: Record<string, string | string[] | undefined>): Record<string, string> {
  const metadata: Record<string, string> = {};
  let size = 0;
  for (const [name, value] of Object.entries(headers)) {
    if (!name.startsWith('x-amz-meta-') || value === undefined) continue;
    const v = Array.isArray(value) ? value.join(',') : value;
    const key = name.slice('x-amz-meta-'.length);
    metadata[key] = v;
    size += key.length + Buffer.byteLength(v);
  }
  if (size > METADATA_LIMIT)
    throw new S3Error('MetadataTooLarge', undefined, { MaxSizeAllowed: METADATA_LIMIT });
  return metadata;
}

/** The headers GET and HEAD return for an object. */
export function representationHeaders(rec: ObjectRecord): Record<string, string | number> {
  const h = rec.headers;
  const out: Record<string, string | number> = {
    'last-modified': new Date(rec.lastModified).toUTCString(),
    etag: quoteEtag(rec.etag),
    'accept-ranges': 'bytes',
    'content-type': h.contentType ?? DEFAULT_CONTENT_TYPE,
  };
  if (h.cacheControl) out['cache-control'] = h.cacheControl;
  if (h.contentDisposition) out['content-disposition'] = h.contentDisposition;
  if (h.contentEncoding) out['content-encoding'] = h.contentEncoding;
  if (h.contentLanguage) out['content-language'] = h.contentLanguage;
  if (h.expires) out.expires = h.expires;
  for (const [k, v] of Object.entries(rec.metadata)) out[`x-amz-meta-${k}`] = v;
  return out;
}
