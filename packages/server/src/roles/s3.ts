import path from 'node:path';
import { S3Client } from '@aws-sdk/client-s3';
import {
  createS3Server,
  type EmbeddedS3Server,
  type NotificationSender,
  S3_MAX_OBJECT_BYTES,
} from '@darkroom/s3-server';
import type { Logger } from 'pino';
import type { Config } from '../config.ts';
import { createSqsClientNotificationSender } from '../queue/notification-senders.ts';
import { createSqsClient } from '../queue/sqs-client.ts';
import { resolveSecrets } from '../secrets/development.ts';
import { setUpEmbeddedBucket } from '../storage/bucket-setup.ts';

/**
 * Runs the embedded S3 server (data under `{DATA_DIR}/s3`) with Darkroom's bucket, its CORS rule and its
 * ObjectCreated notifications set up. Notifications go to `sender`, or
 * else over HTTP to the SQS endpoint (the embedded `darkroom sqs`, or Amazon SQS); undeliverable
 * events wait in the outbox and are retried.
 */
export async function runS3Role(
  configured: Config,
  log: Logger,
  sender?: NotificationSender,
): Promise<EmbeddedS3Server> {
  const config = await resolveSecrets(configured, 's3');
  const sqsClient = sender ? undefined : createSqsClient(config);
  const server = await createS3Server({
    host: config.host,
    port: config.s3.port,
    dataDir: path.join(config.dataDir, 's3'),
    region: config.s3.region,
    domain: config.s3.domain,
    accessKeys: config.s3.accessKeys,
    maxObjectBytes: S3_MAX_OBJECT_BYTES,
    log: log.child({ component: 's3' }),
    sender: sender ?? createSqsClientNotificationSender(sqsClient!),
    // Bodies up to 5 GiB: no total request timeout, they must keep moving instead.
    limits: { ...config.connections, requestTimeoutMs: 0 },
  });
  // The bucket set up as the CDK stack sets one up on AWS, through the SDK like any client.
  const key = config.s3.accessKeys[0]!;
  const client = new S3Client({
    endpoint: server.url,
    region: config.s3.region,
    forcePathStyle: true,
    credentials: { accessKeyId: key.accessKeyId, secretAccessKey: key.secretAccessKey },
  });
  try {
    await setUpEmbeddedBucket(client, config);
  } finally {
    client.destroy();
  }
  log.info(
    { url: server.url, region: config.s3.region, dataDir: path.join(config.dataDir, 's3') },
    'embedded S3 listening',
  );
  return {
    ...server,
    async close(graceMs) {
      await server.close(graceMs);
      sqsClient?.destroy();
    },
  };
}
