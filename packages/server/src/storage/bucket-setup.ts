import {
  type CORSRule,
  CreateBucketCommand,
  PutBucketCorsCommand,
  PutBucketNotificationConfigurationCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { UPLOADS_PREFIX } from '@darkroom/contract';
import { queueArn } from '@darkroom/sqs-server';
import type { Config } from '../config.ts';
import { s3ErrorCode } from './gateway.ts';

/** The queue ARN the embedded S3 server notifies: the embedded SQS server's, in its fixed account. */
export function uploadsQueueArn(config: Config): string {
  return queueArn(config.s3.region, config.queue.name);
}

/** The bucket's CORS rule: browsers of DARKROOM_CORS_ORIGINS upload, and multipart clients read the ETag. */
export const UPLOADS_CORS_RULE = (config: Config): CORSRule => ({
  AllowedOrigins: [...config.corsOrigins],
  AllowedMethods: ['GET', 'HEAD', 'PUT', 'POST'],
  AllowedHeaders: ['*'],
  ExposeHeaders: ['ETag', 'x-amz-checksum-sha256', 'x-amz-request-id'],
  MaxAgeSeconds: 3600,
});

/**
 * Prepares the embedded server's bucket the way the CDK stack prepares an AWS one: the bucket,
 * CORS for the app's origins (ETag exposed for multipart clients), and ObjectCreated notifications
 * for `uploads/` to the uploads queue.
 */
export async function setUpEmbeddedBucket(client: S3Client, config: Config): Promise<void> {
  const Bucket = config.s3.bucket;
  await client.send(new CreateBucketCommand({ Bucket })).catch((err: unknown) => {
    if (s3ErrorCode(err) !== 'BucketAlreadyOwnedByYou') throw err;
  });
  await client.send(
    new PutBucketCorsCommand({
      Bucket,
      CORSConfiguration: {
        CORSRules: [UPLOADS_CORS_RULE(config)],
      },
    }),
  );
  await client.send(
    new PutBucketNotificationConfigurationCommand({
      Bucket,
      NotificationConfiguration: {
        QueueConfigurations: [
          {
            Id: 'darkroom-uploads',
            QueueArn: uploadsQueueArn(config),
            Events: ['s3:ObjectCreated:*'],
            Filter: { Key: { FilterRules: [{ Name: 'prefix', Value: UPLOADS_PREFIX }] } },
          },
        ],
      },
    }),
  );
}
