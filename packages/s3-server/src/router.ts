import { header, queryValue, type S3Request } from './context.ts';
import { S3Error } from './errors.ts';
import * as buckets from './handlers/buckets.ts';
import * as multipart from './handlers/multipart.ts';
import * as objects from './handlers/objects.ts';
import * as tagging from './handlers/tagging.ts';

// Subresources we answer; anything else (acl, versioning, policy, …) is refused as
// NotImplemented rather than silently treated as a plain object or bucket request.
const UNSUPPORTED = new Set([
  'acl',
  'versioning',
  'policy',
  'lifecycle',
  'website',
  'logging',
  'replication',
  'encryption',
  'accelerate',
  'requestPayment',
  'object-lock',
  'retention',
  'legal-hold',
  'versions',
  'restore',
  'select',
  'torrent',
  'attributes',
  'ownershipControls',
  'publicAccessBlock',
  'analytics',
  'metrics',
  'inventory',
  'intelligent-tiering',
]);

const has = (r: S3Request, name: string) => r.query[name] !== undefined;

function refuseUnsupported(r: S3Request): void {
  for (const name of Object.keys(r.query)) {
    if (UNSUPPORTED.has(name)) {
      throw new S3Error('NotImplemented', `The ${name} subresource is not supported by this server.`);
    }
  }
}

/** Dispatches an authenticated request to its S3 operation. */
export async function route(r: S3Request): Promise<void> {
  refuseUnsupported(r);
  const { method } = r;
  if (r.bucket === undefined) {
    if (method === 'GET') return buckets.listBuckets(r);
    throw new S3Error('MethodNotAllowed');
  }
  if (r.key === undefined) {
    // Bucket tagging is not object tagging; only the latter is implemented.
    if (has(r, 'tagging')) {
      throw new S3Error('NotImplemented', 'The tagging subresource is supported on objects only.');
    }
    switch (method) {
      case 'PUT':
        if (has(r, 'cors')) return buckets.putBucketCors(r);
        if (has(r, 'notification')) return buckets.putBucketNotification(r);
        return buckets.createBucket(r);
      case 'GET':
        if (has(r, 'cors')) return buckets.getBucketCors(r);
        if (has(r, 'notification')) return buckets.getBucketNotification(r);
        if (has(r, 'location')) return buckets.getBucketLocation(r);
        if (has(r, 'uploads')) return multipart.listMultipartUploads(r);
        return buckets.listObjects(r);
      case 'HEAD':
        return buckets.headBucket(r);
      case 'DELETE':
        if (has(r, 'cors')) return buckets.deleteBucketCors(r);
        return buckets.deleteBucket(r);
      case 'POST':
        if (has(r, 'delete')) return buckets.deleteObjects(r);
        break;
    }
    throw new S3Error('MethodNotAllowed');
  }
  if (has(r, 'tagging')) {
    if (method === 'GET') return tagging.getObjectTagging(r);
    if (method === 'PUT') return tagging.putObjectTagging(r);
    if (method === 'DELETE') return tagging.deleteObjectTagging(r);
    throw new S3Error('MethodNotAllowed');
  }
  switch (method) {
    case 'PUT':
      if (has(r, 'uploadId') || has(r, 'partNumber')) return multipart.uploadPart(r);
      if (header(r, 'x-amz-copy-source') !== undefined) return objects.copyObject(r);
      return objects.putObject(r);
    case 'GET':
      if (has(r, 'uploadId')) return multipart.listParts(r);
      return objects.getObject(r, false);
    case 'HEAD':
      return objects.getObject(r, true);
    case 'DELETE':
      if (queryValue(r, 'uploadId') !== undefined) return multipart.abortMultipartUpload(r);
      return objects.deleteObject(r);
    case 'POST':
      if (has(r, 'uploads')) return multipart.createMultipartUpload(r);
      if (has(r, 'uploadId')) return multipart.completeMultipartUpload(r);
      break;
  }
  throw new S3Error('MethodNotAllowed');
}
