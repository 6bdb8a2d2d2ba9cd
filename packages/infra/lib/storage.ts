import { UNPROCESSED_TAG, UPLOADS_PREFIX } from '@darkroom/contract';
import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as s3 from 'aws-cdk-lib/aws-s3';
import type { Construct } from 'constructs';
import type { DarkroomParams } from './params.ts';

/** The private, encrypted, TLS-only bucket that browsers upload into and workers publish variants to. */
export function createBucket(scope: Construct, p: DarkroomParams): s3.Bucket {
  const uploadsExpiry: s3.LifecycleRule = {
    id: 'expire-unprocessed-uploads',
    prefix: UPLOADS_PREFIX,
    expiration: Duration.days(p.uploadsExpirationDays),
    // Processed originals stay (re-processing and transforms read them): only tagged ones expire unless the
    // deployment says originals are disposable.
    ...(p.expireAllUploads ? {} : { tagFilters: { [UNPROCESSED_TAG.key]: UNPROCESSED_TAG.value } }),
  };
  return new s3.Bucket(scope, 'Bucket', {
    bucketName: p.bucketName,
    blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
    encryption: s3.BucketEncryption.S3_MANAGED,
    enforceSSL: true,
    minimumTLSVersion: 1.2,
    objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
    transferAcceleration: p.transferAcceleration,
    cors:
      p.corsOrigins.length === 0
        ? undefined
        : [
            {
              allowedOrigins: [...p.corsOrigins],
              allowedMethods: [
                s3.HttpMethods.PUT,
                s3.HttpMethods.POST,
                s3.HttpMethods.GET,
                s3.HttpMethods.HEAD,
              ],
              // Presigned PUTs carry content-type, content-length, x-amz-tagging and x-amz-* checksum headers.
              allowedHeaders: ['*'],
              // The browser needs each part's ETag to complete a multipart upload; the checksum and request
              // id are exposed as the embedded server exposes them, so clients behave the same on both.
              exposedHeaders: ['ETag', 'x-amz-checksum-sha256', 'x-amz-request-id'],
              maxAge: 3600,
            },
          ],
    lifecycleRules: [
      { id: 'abort-incomplete-multipart', abortIncompleteMultipartUploadAfter: Duration.days(1) },
      uploadsExpiry,
    ],
    removalPolicy: p.destroyOnRemoval ? RemovalPolicy.DESTROY : RemovalPolicy.RETAIN,
    autoDeleteObjects: p.destroyOnRemoval,
  });
}
