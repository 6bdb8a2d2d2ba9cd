import fs from 'node:fs';
import fsp from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import { createHasher } from '@darkroom/aws-auth';
import { quoteEtag, type S3Request, sendEmpty, sendXml } from '../context.ts';
import { S3Error } from '../errors.ts';
import { readPostUpload } from '../post-form.ts';
import { HashingStream } from '../receive.ts';
import { parseTaggingField } from '../tagging.ts';
import { s3Xml } from '../xml.ts';
import { notifyCreated } from './objects.ts';
import { assertKey, DEFAULT_CONTENT_TYPE } from './representation.ts';

/** PostObject: a browser form upload authorised by a signed policy instead of a signed request. */
export async function postObject(r: S3Request): Promise<void> {
  r.store.requireBucket(r.bucket!);
  const upload = await readPostUpload(r.req, r.bucket!, {
    keys: r.options.accessKeys,
    region: r.options.region,
    now: new Date(),
    maxObjectBytes: r.options.maxObjectBytes,
  });
  assertKey(upload.key);
  // The policy already pinned the field (every field needs a condition); here only its form is checked.
  let tags: ReturnType<typeof parseTaggingField>;
  try {
    tags = parseTaggingField(upload.fields.tagging);
  } catch (err) {
    upload.file.destroy(err as Error);
    throw err;
  }
  const md5 = createHasher('MD5');
  const checksumHasher = upload.checksum ? createHasher(upload.checksum.algorithm) : undefined;
  const tempPath = r.store.tempPath();
  // The policy's length range is enforced by the form reader; this only hashes and counts.
  const hashing = new HashingStream(
    [md5, ...(checksumHasher ? [checksumHasher] : [])],
    Number.POSITIVE_INFINITY,
  );
  try {
    await pipeline(upload.file, hashing, fs.createWriteStream(tempPath, { flush: true }));
    await upload.done;
  } catch (err) {
    upload.file.destroy();
    await fsp.rm(tempPath, { force: true });
    throw err;
  }
  const size = hashing.bytes;
  const digest = md5.digest();
  const checksumValue = checksumHasher?.digest().toString('base64');
  try {
    if (upload.contentMd5 !== undefined && digest.toString('base64') !== upload.contentMd5)
      throw new S3Error('BadDigest');
    if (upload.checksum && checksumValue !== upload.checksum.value) {
      throw new S3Error(
        'BadDigest',
        `The ${upload.checksum.algorithm} you specified did not match the calculated checksum.`,
      );
    }
  } catch (err) {
    await fsp.rm(tempPath, { force: true });
    throw err;
  }
  const rec = await r.store.commitObject(
    { tempPath, size, md5: digest },
    {
      bucket: r.bucket!,
      key: upload.key,
      etag: digest.toString('hex'),
      headers: {
        contentType: upload.contentType ?? DEFAULT_CONTENT_TYPE,
        ...(upload.cacheControl ? { cacheControl: upload.cacheControl } : {}),
        ...(upload.contentDisposition ? { contentDisposition: upload.contentDisposition } : {}),
      },
      metadata: upload.metadata,
      checksum:
        upload.checksum && checksumValue
          ? { algorithm: upload.checksum.algorithm, value: checksumValue, type: 'FULL_OBJECT' }
          : undefined,
      partSizes: undefined,
      tags: tags ?? {},
    },
    notifyCreated(r, 'Post'),
  );
  r.notifications.kick();
  const location = `/${encodeURIComponent(rec.bucket)}/${rec.key.split('/').map(encodeURIComponent).join('/')}`;
  const headers = { etag: quoteEtag(rec.etag), location };
  if (upload.successActionRedirect) {
    const target = new URL(upload.successActionRedirect);
    target.searchParams.set('bucket', rec.bucket);
    target.searchParams.set('key', rec.key);
    target.searchParams.set('etag', quoteEtag(rec.etag));
    sendEmpty(r, 303, { ...headers, location: target.toString() });
  } else if (upload.successActionStatus === 201) {
    sendXml(
      r,
      201,
      s3Xml('PostResponse', {
        Location: location,
        Bucket: rec.bucket,
        Key: rec.key,
        ETag: quoteEtag(rec.etag),
      }),
      headers,
    );
  } else {
    sendEmpty(r, upload.successActionStatus ?? 204, headers);
  }
}
