import { isoDate, queryValue, quoteEtag, type S3Request, sendEmpty, sendXml } from '../context.ts';
import { type CorsRule, corsXmlBody, parseCorsConfiguration } from '../cors.ts';
import { S3Error } from '../errors.ts';
import {
  notificationConfigurationXmlBody,
  parseNotificationConfiguration,
  type QueueNotification,
} from '../notifications.ts';
import { receiveSmallBody } from '../receive.ts';
import { asArray, parseS3Xml, s3Xml } from '../xml.ts';
import { principalOf } from './objects.ts';

/** Owner element: the caller's access key stands in for the canonical user. */
export function owner(r: S3Request): { ID: string; DisplayName: string } {
  const id = principalOf(r);
  return { ID: id, DisplayName: id };
}

/** S3's bucket naming rules (the subset that matters for path- and virtual-host addressing). */
export function assertBucketName(name: string): void {
  if (
    !/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(name) ||
    name.includes('..') ||
    /^\d+\.\d+\.\d+\.\d+$/.test(name) ||
    name.startsWith('xn--')
  ) {
    throw new S3Error('InvalidBucketName', undefined, { BucketName: name });
  }
}

export function listBuckets(r: S3Request): void {
  const buckets = r.store.listBuckets();
  sendXml(
    r,
    200,
    s3Xml('ListAllMyBucketsResult', {
      Owner: owner(r),
      Buckets: { Bucket: buckets.map((b) => ({ Name: b.name, CreationDate: isoDate(b.createdAt) })) },
    }),
  );
}

export async function createBucket(r: S3Request): Promise<void> {
  const name = r.bucket!;
  assertBucketName(name);
  const body = await receiveSmallBody(r);
  if (body.length > 0) {
    const doc = parseS3Xml(body.toString('utf8'), 'CreateBucketConfiguration');
    const location = doc.LocationConstraint;
    if (typeof location === 'string' && location !== '' && location !== r.options.region) {
      throw new S3Error(
        'InvalidArgument',
        `The ${location} location constraint is incompatible for the region specific endpoint this request was sent to (${r.options.region}).`,
        { ArgumentName: 'LocationConstraint' },
      );
    }
  }
  // us-east-1 answers 200 to its owner re-creating a bucket; other regions say BucketAlreadyOwnedByYou.
  if (!r.store.createBucket(name) && r.options.region !== 'us-east-1') {
    throw new S3Error('BucketAlreadyOwnedByYou', undefined, { BucketName: name });
  }
  sendEmpty(r, 200, { location: `/${name}` });
}

export function headBucket(r: S3Request): void {
  r.store.requireBucket(r.bucket!);
  sendEmpty(r, 200, { 'x-amz-bucket-region': r.options.region });
}

export function deleteBucket(r: S3Request): void {
  r.store.deleteBucket(r.bucket!);
  sendEmpty(r, 204);
}

export function getBucketLocation(r: S3Request): void {
  r.store.requireBucket(r.bucket!);
  // S3 reports us-east-1 as an empty constraint.
  const region = r.options.region === 'us-east-1' ? '' : r.options.region;
  sendXml(r, 200, s3Xml('LocationConstraint', { '#text': region }));
}

export async function putBucketCors(r: S3Request): Promise<void> {
  r.store.requireBucket(r.bucket!);
  const rules = parseCorsConfiguration(
    parseS3Xml((await receiveSmallBody(r)).toString('utf8'), 'CORSConfiguration'),
  );
  r.store.setBucketConfig(r.bucket!, 'cors', rules);
  sendEmpty(r, 200);
}

export function getBucketCors(r: S3Request): void {
  const rules = r.store.requireBucket(r.bucket!).cors as CorsRule[] | undefined;
  if (!rules) throw new S3Error('NoSuchCORSConfiguration', undefined, { BucketName: r.bucket! });
  sendXml(r, 200, s3Xml('CORSConfiguration', corsXmlBody(rules)));
}

export function deleteBucketCors(r: S3Request): void {
  r.store.setBucketConfig(r.bucket!, 'cors', undefined);
  sendEmpty(r, 204);
}

export async function putBucketNotification(r: S3Request): Promise<void> {
  r.store.requireBucket(r.bucket!);
  const configs = parseNotificationConfiguration(
    parseS3Xml((await receiveSmallBody(r)).toString('utf8'), 'NotificationConfiguration'),
  );
  const testEvents = r.notifications.testEvents(r.bucket!, configs, r.id);
  r.store.setBucketConfig(r.bucket!, 'notification', configs);
  r.store.enqueue(testEvents);
  r.notifications.kick();
  sendEmpty(r, 200);
}

export function getBucketNotification(r: S3Request): void {
  const configs = (r.store.requireBucket(r.bucket!).notification ?? []) as QueueNotification[];
  sendXml(r, 200, s3Xml('NotificationConfiguration', notificationConfigurationXmlBody(configs)));
}

function maxKeysParam(r: S3Request, name: string): number {
  const raw = queryValue(r, name);
  if (raw === undefined) return 1000;
  if (!/^\d+$/.test(raw))
    throw new S3Error('InvalidArgument', `Provided ${name} not an integer or within integer range`, {
      ArgumentName: name,
    });
  return Math.min(Number(raw), 1000);
}

function encodeIfAsked(r: S3Request): (s: string) => string {
  // With encoding-type=url S3 percent-encodes keys so XML-hostile characters survive.
  return queryValue(r, 'encoding-type') === 'url'
    ? (s) => encodeURIComponent(s).replace(/%2F/g, '/')
    : (s) => s;
}

/** ListObjectsV2 (list-type=2) and the original ListObjects, sharing one scan. */
export function listObjects(r: S3Request): void {
  r.store.requireBucket(r.bucket!);
  const v2 = queryValue(r, 'list-type') === '2';
  const prefix = queryValue(r, 'prefix') ?? '';
  const delimiter = queryValue(r, 'delimiter') ?? '';
  const maxKeys = maxKeysParam(r, 'max-keys');
  const token = queryValue(r, 'continuation-token');
  let after: string;
  // An empty token is no token (S3 lists from the start and echoes it back empty).
  if (v2 && token !== undefined && token !== '') {
    after = Buffer.from(token, 'base64url').toString('utf8');
    if (Buffer.from(after, 'utf8').toString('base64url') !== token) {
      throw new S3Error('InvalidArgument', 'The continuation token provided is incorrect', {
        ArgumentName: 'continuation-token',
      });
    }
  } else {
    after = (v2 ? queryValue(r, 'start-after') : queryValue(r, 'marker')) ?? '';
  }
  const result = r.store.listObjects(r.bucket!, { prefix, delimiter, after, maxKeys });
  const enc = encodeIfAsked(r);
  const withOwner = !v2 || queryValue(r, 'fetch-owner') === 'true';
  const contents = result.objects.map((o) => ({
    Key: enc(o.key),
    LastModified: isoDate(o.lastModified),
    ETag: quoteEtag(o.etag),
    ...(o.checksum ? { ChecksumAlgorithm: o.checksum.algorithm, ChecksumType: o.checksum.type } : {}),
    Size: o.size,
    StorageClass: 'STANDARD',
    ...(withOwner ? { Owner: owner(r) } : {}),
  }));
  const common = {
    Name: r.bucket!,
    Prefix: enc(prefix),
    ...(delimiter ? { Delimiter: enc(delimiter) } : {}),
    MaxKeys: maxKeys,
    ...(queryValue(r, 'encoding-type') === 'url' ? { EncodingType: 'url' } : {}),
    IsTruncated: result.isTruncated,
    Contents: contents,
    CommonPrefixes: result.commonPrefixes.map((p) => ({ Prefix: enc(p) })),
  };
  const body = v2
    ? {
        ...common,
        KeyCount: contents.length + result.commonPrefixes.length,
        ...(token !== undefined ? { ContinuationToken: token } : {}),
        ...(result.nextCursor !== undefined
          ? { NextContinuationToken: Buffer.from(result.nextCursor, 'utf8').toString('base64url') }
          : {}),
        ...(queryValue(r, 'start-after') !== undefined
          ? { StartAfter: enc(queryValue(r, 'start-after')!) }
          : {}),
      }
    : {
        ...common,
        Marker: enc(after),
        // V1 only returns NextMarker when a delimiter is used; clients fall back to the last key.
        ...(result.nextMarker !== undefined && delimiter ? { NextMarker: enc(result.nextMarker) } : {}),
      };
  sendXml(r, 200, s3Xml('ListBucketResult', body));
}

/** DeleteObjects: up to 1000 keys, per-key results, Quiet mode. */
export async function deleteObjects(r: S3Request): Promise<void> {
  r.store.requireBucket(r.bucket!);
  const doc = parseS3Xml((await receiveSmallBody(r, 2 * 1024 * 1024)).toString('utf8'), 'Delete');
  const objects = asArray(doc.Object as { Key?: string }[] | { Key?: string } | undefined);
  if (objects.length === 0 || objects.length > 1000) {
    throw new S3Error('MalformedXML', 'A Delete request must name between 1 and 1000 objects.');
  }
  const quiet = doc.Quiet === 'true';
  const deleted: { Key: string }[] = [];
  const errors: { Key: string; Code: string; Message: string }[] = [];
  for (const o of objects) {
    if (typeof o.Key !== 'string' || o.Key === '') {
      errors.push({ Key: String(o.Key ?? ''), Code: 'InvalidArgument', Message: 'Each Object needs a Key.' });
      continue;
    }
    await r.store.deleteObject(r.bucket!, o.Key);
    deleted.push({ Key: o.Key });
  }
  sendXml(r, 200, s3Xml('DeleteResult', { ...(quiet ? {} : { Deleted: deleted }), Error: errors }));
}
