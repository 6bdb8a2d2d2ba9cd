import { queryValue, type S3Request, sendEmpty, sendXml } from '../context.ts';
import { S3Error } from '../errors.ts';
import { receiveSmallBody } from '../receive.ts';
import { parseTaggingXml, taggingXml } from '../tagging.ts';

// A full tag set (10 tags of 128 + 256 characters, UTF-8) fits well inside this.
const MAX_TAGGING_BODY = 64 * 1024;

/** Versions do not exist here; naming one is refused rather than silently ignored. */
function refuseVersion(r: S3Request): void {
  if (queryValue(r, 'versionId') !== undefined) {
    throw new S3Error('NotImplemented', 'Object versions are not supported by this server.');
  }
}

/** GetObjectTagging (GET ?tagging): the object's tag set, empty when it has none. */
export function getObjectTagging(r: S3Request): void {
  r.store.requireBucket(r.bucket!);
  refuseVersion(r);
  const rec = r.store.getObject(r.bucket!, r.key!);
  if (!rec) throw new S3Error('NoSuchKey', undefined, { Key: r.key! });
  sendXml(r, 200, taggingXml(rec.tags));
}

/** PutObjectTagging (PUT ?tagging): replaces the whole tag set; bytes and Last-Modified stay. */
export async function putObjectTagging(r: S3Request): Promise<void> {
  r.store.requireBucket(r.bucket!);
  refuseVersion(r);
  const body = await receiveSmallBody(r, MAX_TAGGING_BODY);
  r.store.setObjectTags(r.bucket!, r.key!, parseTaggingXml(body.toString('utf8')));
  sendEmpty(r, 200);
}

/** DeleteObjectTagging (DELETE ?tagging): 204, and the object keeps everything but its tags. */
export function deleteObjectTagging(r: S3Request): void {
  r.store.requireBucket(r.bucket!);
  refuseVersion(r);
  r.store.setObjectTags(r.bucket!, r.key!, {});
  sendEmpty(r, 204);
}
