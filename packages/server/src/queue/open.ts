import type { Logger } from 'pino';
import type { Config } from '../config.ts';
import { syntheticObjectCreated } from '../worker/s3-events.ts';
import { AmqpUploadsQueue } from './amqp-queue.ts';
import type { UploadsQueue } from './port.ts';
import { createSqsClient, uploadsQueueUrl } from './sqs-client.ts';
import { SqsUploadsQueue } from './sqs-queue.ts';

/** The uploads queue DARKROOM_QUEUE_URL names: RabbitMQ for amqp(s)://, SQS otherwise (the embedded one when unset). */
export function openUploadsQueue(config: Config, log: Logger, role: string): UploadsQueue {
  if (config.queue.kind === 'amqp') {
    return new AmqpUploadsQueue({
      url: config.queue.url!,
      name: config.queue.name,
      maxReceiveCount: config.sqs.maxReceiveCount,
      maxBackoffSeconds: config.sqs.visibilityTimeoutSeconds,
      connectionName: `darkroom-${role}-${process.pid}`,
      log: log.child({ component: 'queue' }),
    });
  }
  return new SqsUploadsQueue({
    client: createSqsClient(config),
    queueUrl: uploadsQueueUrl(config),
    visibilityTimeoutSeconds: config.sqs.visibilityTimeoutSeconds,
    embedded: config.queue.kind === 'embedded',
    log: log.child({ component: 'queue' }),
  });
}

/**
 * Puts an ObjectCreated event for an original on the uploads queue, shaped exactly as S3 sends it, for
 * storage without notifications and for the reconciliation sweep. The worker is idempotent, so a
 * duplicate of a real notification costs one HEAD.
 */
export function createProcessingEnqueuer(queue: UploadsQueue, config: Config) {
  return (key: string, size: number, eTag: string): Promise<void> =>
    queue.publish(
      syntheticObjectCreated({ region: config.s3.region, bucket: config.s3.bucket, key, size, eTag }),
    );
}
