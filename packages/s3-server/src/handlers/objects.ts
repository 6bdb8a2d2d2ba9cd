import fsp from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import { header, isoDate, queryValue, quoteEtag, type S3Request, sendEmpty, sendXml } from '../context.ts';
import { S3Error } from '../errors.ts';
import { checksumResponseHeaders, receiveBody } from '../receive.ts';
import type { ObjectRecord } from '../store/object-store.ts';
import { parseTaggingHeader, tagCountHeader } from '../tagging.ts';
import { s3Xml } from '../xml.ts';
import { evaluatePreconditions, parseRange } from './conditional.ts';
import { assertKey, representationHeaders, storedHeadersFrom } from './representation.ts';

/** Who did it, as S3 names the principal in events and listings. */
export function principalOf(r: S3Request): string {
  return r.auth?.accessKeyId ?? 'anonymous';
}

/** The ObjectCreated notifications for a committed write, bound to this request. */
export function notifyCreated(r: S3Request, event: 'Put' | 'Post' | 'Copy' | 'CompleteMultipartUpload') {
  return (rec: ObjectRecord) =>
    r.notifications.objectCreated(rec, event, {
      requestId: r.id,
      principalId: principalOf(r),
      sourceIp: r.req.socket.remoteAddress ?? '',
    });
}

/** PutObject: stream to a temp file, verify, then publish atomically. */
export async function putObject(r: S3Request): Promise<void> {
  const key = r.key!;
  assertKey(key);
  r.store.requireBucket(r.bucket!);
  const { headers, metadata } = storedHeadersFrom(r);
  // Checked before the body is read, so a bad tag costs the client no upload.
  const tags = parseTaggingHeader(header(r, 'x-amz-tagging')) ?? {};
  const received = await receiveBody(r, { maxBytes: r.options.maxObjectBytes, tempPath: r.store.tempPath() });
  const rec = await r.store.commitObject(
    received,
    {
      bucket: r.bucket!,
      key,
      etag: received.md5.toString('hex'),
      headers,
      metadata,
      checksum: received.checksum && { ...received.checksum, type: 'FULL_OBJECT' },
      partsCount: undefined,
      tags,
    },
    notifyCreated(r, 'Put'),
  );
  r.notifications.kick();
  sendEmpty(r, 200, { etag: quoteEtag(rec.etag), ...checksumResponseHeaders(received.checksum) });
}

const RESPONSE_OVERRIDES: Record<string, string> = {
  'response-content-type': 'content-type',
  'response-content-language': 'content-language',
  'response-expires': 'expires',
  'response-cache-control': 'cache-control',
  'response-content-disposition': 'content-disposition',
  'response-content-encoding': 'content-encoding',
};

/** GetObject and HeadObject: conditionals, one byte range, response-* overrides, checksum mode. */
export async function getObject(r: S3Request, headOnly: boolean): Promise<void> {
  r.store.requireBucket(r.bucket!);
  if (queryValue(r, 'partNumber') !== undefined) {
    throw new S3Error('NotImplemented', 'GetObject with partNumber is not supported by this server.');
  }
  // An overwrite can unlink the blob between lookup and open; the second lookup sees the new row.
  for (let attempt = 0; ; attempt++) {
    const rec = r.store.getObject(r.bucket!, r.key!);
    if (!rec) throw new S3Error('NoSuchKey', undefined, { Key: r.key! });
    const headers = { ...representationHeaders(rec), ...tagCountHeader(rec.tags) };
    if (evaluatePreconditions(r, rec) === 'not-modified') {
      const { 'content-type': _t, ...rest } = headers;
      r.res.writeHead(304, rest);
      r.res.end();
      return;
    }
    const range = parseRange(header(r, 'range'), rec.size);
    for (const [param, name] of Object.entries(RESPONSE_OVERRIDES)) {
      const v = queryValue(r, param);
      if (v !== undefined) headers[name] = v;
    }
    if (!range && header(r, 'x-amz-checksum-mode')?.toUpperCase() === 'ENABLED') {
      Object.assign(headers, checksumResponseHeaders(rec.checksum));
    }
    const start = range?.start ?? 0;
    const end = range?.end ?? rec.size - 1;
    headers['content-length'] = end - start + 1;
    if (range) headers['content-range'] = `bytes ${start}-${end}/${rec.size}`;
    if (headOnly) {
      r.res.writeHead(range ? 206 : 200, headers);
      r.res.end();
      return;
    }
    let handle: fsp.FileHandle;
    try {
      handle = await fsp.open(r.store.blobPath(rec.blob), 'r');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT' && attempt === 0) continue;
      throw err;
    }
    r.res.writeHead(range ? 206 : 200, headers);
    if (rec.size === 0) {
      await handle.close();
      r.res.end();
      return;
    }
    await pipeline(handle.createReadStream({ start, end, highWaterMark: 256 * 1024 }), r.res);
    return;
  }
}

/** DeleteObject: 204 whether or not the key existed, as S3 answers. */
export async function deleteObject(r: S3Request): Promise<void> {
  r.store.requireBucket(r.bucket!);
  await r.store.deleteObject(r.bucket!, r.key!);
  sendEmpty(r, 204);
}

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

/** CopyObject: server-side copy, COPY or REPLACE metadata directive, copy-source conditionals. */
export async function copyObject(r: S3Request): Promise<void> {
  const key = r.key!;
  assertKey(key);
  r.store.requireBucket(r.bucket!);
  const source = parseCopySource(header(r, 'x-amz-copy-source')!);
  r.store.requireBucket(source.bucket);
  const src = r.store.getObject(source.bucket, source.key);
  if (!src) throw new S3Error('NoSuchKey', undefined, { Key: source.key });
  const directive = (header(r, 'x-amz-metadata-directive') ?? 'COPY').toUpperCase();
  if (directive !== 'COPY' && directive !== 'REPLACE') {
    throw new S3Error('InvalidArgument', 'Unknown metadata directive.', {
      ArgumentName: 'x-amz-metadata-directive',
    });
  }
  if (directive === 'COPY' && source.bucket === r.bucket && source.key === key) {
    throw new S3Error(
      'InvalidRequest',
      "This copy request is illegal because it is trying to copy an object to itself without changing the object's metadata, storage class, website redirect location or encryption attributes.",
    );
  }
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
  const tagging = (header(r, 'x-amz-tagging-directive') ?? 'COPY').toUpperCase();
  if (tagging !== 'COPY' && tagging !== 'REPLACE') {
    throw new S3Error('InvalidArgument', 'Unknown tagging directive.', {
      ArgumentName: 'x-amz-tagging-directive',
    });
  }
  // REPLACE takes the request's x-amz-tagging (none means no tags); COPY keeps the source's, as S3 does.
  const tags = tagging === 'REPLACE' ? (parseTaggingHeader(header(r, 'x-amz-tagging')) ?? {}) : src.tags;
  const replaced =
    directive === 'REPLACE' ? storedHeadersFrom(r) : { headers: src.headers, metadata: src.metadata };
  const tempPath = r.store.tempPath();
  await fsp.copyFile(r.store.blobPath(src.blob), tempPath);
  const handle = await fsp.open(tempPath, 'r+');
  await handle.datasync().finally(() => handle.close());
  const rec = await r.store.commitObject(
    { tempPath, size: src.size, md5: Buffer.alloc(0) },
    {
      bucket: r.bucket!,
      key,
      etag: src.etag,
      ...replaced,
      checksum: src.checksum,
      partsCount: src.partsCount,
      tags,
    },
    notifyCreated(r, 'Copy'),
  );
  r.notifications.kick();
  sendXml(
    r,
    200,
    s3Xml('CopyObjectResult', { ETag: quoteEtag(rec.etag), LastModified: isoDate(rec.lastModified) }),
  );
}
