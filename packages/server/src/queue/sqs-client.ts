import {
  CreateQueueCommand,
  GetQueueAttributesCommand,
  SendMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { ACCOUNT_ID } from '@darkroom/sqs-server';
import { type Config, localEndpointHost } from '../config.ts';
import { UPLOADS_QUEUE_NAME } from '../storage/bucket-setup.ts';
import { syntheticObjectCreated } from '../worker/s3-events.ts';

/** The embedded SQS server's endpoint at HOST:SQS_PORT. */
export function embeddedSqsEndpoint(config: Config): string {
  return `http://${localEndpointHost(config)}:${config.sqs.port}`;
}

/** The queue that receives ObjectCreated events: DARKROOM_SQS_QUEUE_URL, or the embedded one. */
export function uploadsQueueUrl(config: Config): string {
  return config.sqs.queueUrl ?? `${embeddedSqsEndpoint(config)}/${ACCOUNT_ID}/${UPLOADS_QUEUE_NAME}`;
}

/** An SQS client for Darkroom's queue: the embedded server's keys, or the AWS chain for Amazon SQS. */
export function createSqsClient(config: Config): SQSClient {
  const embedded = config.sqs.queueUrl === undefined;
  const key = config.s3.accessKeys[0]!;
  return new SQSClient({
    region: config.s3.region,
    ...(embedded ? { endpoint: embeddedSqsEndpoint(config) } : {}),
    ...(embedded || !config.s3.usingDevCredentials
      ? { credentials: { accessKeyId: key.accessKeyId, secretAccessKey: key.secretAccessKey } }
      : {}),
  });
}

/**
 * Creates the embedded uploads queue and its dead-letter queue, the way the CDK stack does on AWS:
 * after DARKROOM_MAX_RECEIVE_COUNT receives a message moves to `darkroom-uploads-dlq`.
 */
export async function setUpEmbeddedQueues(client: SQSClient, config: Config): Promise<void> {
  const dlq = await client.send(
    new CreateQueueCommand({
      QueueName: `${UPLOADS_QUEUE_NAME}-dlq`,
      Attributes: { MessageRetentionPeriod: '1209600' },
    }),
  );
  const { Attributes } = await client.send(
    new GetQueueAttributesCommand({ QueueUrl: dlq.QueueUrl, AttributeNames: ['QueueArn'] }),
  );
  await client.send(
    new CreateQueueCommand({
      QueueName: UPLOADS_QUEUE_NAME,
      Attributes: {
        VisibilityTimeout: String(config.sqs.visibilityTimeoutSeconds),
        RedrivePolicy: JSON.stringify({
          deadLetterTargetArn: Attributes?.QueueArn,
          maxReceiveCount: config.sqs.maxReceiveCount,
        }),
      },
    }),
  );
}

/**
 * Puts an ObjectCreated event for an original on the uploads queue, shaped exactly as S3 sends it, for
 * storage without notifications and for the reconciliation sweep. The worker is idempotent, so a
 * duplicate of a real notification costs one HEAD.
 */
export function createProcessingEnqueuer(client: SQSClient, config: Config) {
  const queueUrl = uploadsQueueUrl(config);
  return async (key: string, size: number, eTag: string): Promise<void> => {
    const body = syntheticObjectCreated({
      region: config.s3.region,
      bucket: config.s3.bucket,
      key,
      size,
      eTag,
    });
    await client.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: body }));
  };
}

/** Puts a message body on the uploads queue exactly as given (S3 events relayed from storage webhooks). */
export function createEventForwarder(client: SQSClient, config: Config) {
  const queueUrl = uploadsQueueUrl(config);
  return async (body: string): Promise<void> => {
    await client.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: body }));
  };
}
