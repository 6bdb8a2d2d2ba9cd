import fsp from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import { header, isoDate, queryValue, quoteEtag, type S3Request, sendEmpty, sendXml } from '../context.ts';
import { S3Error } from '../errors.ts';
import { checksumResponseHeaders, receiveBody } from '../receive.ts';
import type { ObjectRecord } from '../store/object-store.ts';
import { parseTaggingHeader, tagCountHeader } from '../tagging.ts';
import { s3Xml } from '../xml.ts';
import { evaluatePreconditions, parsePartNumber, parseRange, partRange } from './conditional.ts';
import { copySourceObject } from './copy-source.ts';
import { assertKey, representationHeaders, storedHeadersFrom } from './representation.ts';
import { guardWrite } from './write-conditions.ts';

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
  // Checked before the body is read, so a bad tag or a failed condition costs the client no upload.
  const tags = parseTaggingHeader(header(r, 'x-amz-tagging')) ?? {};
  const guard = guardWrite(r, key);
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
      partSizes: undefined,
      tags,
    },
    notifyCreated(r, 'Put'),
    guard,
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

/** GetObject and HeadObject: conditionals, one byte range or one part, response-* overrides, checksum mode. */
export async function getObject(r: S3Request, headOnly: boolean): Promise<void> {
  r.store.requireBucket(r.bucket!);
  const rawPart = queryValue(r, 'partNumber');
  const partNumber = rawPart === undefined ? undefined : parsePartNumber(rawPart);
  if (partNumber !== undefined && header(r, 'range') !== undefined) {
    throw new S3Error('InvalidRequest', 'Cannot specify both Range header and partNumber query parameter');
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
    const range =
      partNumber === undefined ? parseRange(header(r, 'range'), rec.size) : partRange(rec, partNumber);
    // The whole object's ETag stays; the part count tells the client how many parts to fetch.
    if (partNumber !== undefined && rec.partsCount !== undefined)
      headers['x-amz-mp-parts-count'] = rec.partsCount;
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
    // An empty object has no byte to name: its part 1 is answered whole.
    if (range && rec.size > 0) headers['content-range'] = `bytes ${start}-${end}/${rec.size}`;
    const status = range && rec.size > 0 ? 206 : 200;
    if (headOnly) {
      r.res.writeHead(status, headers);
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
    r.res.writeHead(status, headers);
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

/** CopyObject: server-side copy, COPY or REPLACE metadata directive, copy-source conditionals. */
export async function copyObject(r: S3Request): Promise<void> {
  const key = r.key!;
  assertKey(key);
  r.store.requireBucket(r.bucket!);
  const src = copySourceObject(r);
  const directive = (header(r, 'x-amz-metadata-directive') ?? 'COPY').toUpperCase();
  if (directive !== 'COPY' && directive !== 'REPLACE') {
    throw new S3Error('InvalidArgument', 'Unknown metadata directive.', {
      ArgumentName: 'x-amz-metadata-directive',
    });
  }
  if (directive === 'COPY' && src.bucket === r.bucket && src.key === key) {
    throw new S3Error(
      'InvalidRequest',
      "This copy request is illegal because it is trying to copy an object to itself without changing the object's metadata, storage class, website redirect location or encryption attributes.",
    );
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
  const guard = guardWrite(r, key);
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
      partSizes: src.partSizes,
      tags,
    },
    notifyCreated(r, 'Copy'),
    guard,
  );
  r.notifications.kick();
  sendXml(
    r,
    200,
    s3Xml('CopyObjectResult', { ETag: quoteEtag(rec.etag), LastModified: isoDate(rec.lastModified) }),
  );
}
