import { CreateQueueCommand, GetQueueAttributesCommand, SQSClient } from '@aws-sdk/client-sqs';
import { ACCOUNT_ID } from '@darkroom/sqs-server';
import { type Config, localEndpointHost } from '../config.ts';

/** The embedded SQS server's endpoint at HOST:SQS_PORT. */
export function embeddedSqsEndpoint(config: Config): string {
  return `http://${localEndpointHost(config)}:${config.sqs.port}`;
}

/** The SQS queue that receives ObjectCreated events: DARKROOM_QUEUE_URL (SQS), or the embedded one. */
export function uploadsQueueUrl(config: Config): string {
  return config.sqs.queueUrl ?? `${embeddedSqsEndpoint(config)}/${ACCOUNT_ID}/${config.queue.name}`;
}

/** An SQS client for Darkroom's queue: the embedded server's keys, or the AWS chain for Amazon SQS. */
export function createSqsClient(config: Config): SQSClient {
  const embedded = config.queue.kind === 'embedded';
  const key = config.s3.accessKeys[0]!;
  return new SQSClient({
    region: config.s3.region,
    ...(embedded ? { endpoint: embeddedSqsEndpoint(config) } : {}),
    ...(embedded || config.s3.accessKeySource === 'configured'
      ? { credentials: { accessKeyId: key.accessKeyId, secretAccessKey: key.secretAccessKey } }
      : {}),
  });
}

/**
 * Creates the embedded uploads queue and its dead-letter queue, the way the CDK stack does on AWS:
 * after DARKROOM_MAX_RECEIVE_COUNT receives a message moves to `<DARKROOM_QUEUE_NAME>-dlq`.
 */
export async function setUpEmbeddedQueues(client: SQSClient, config: Config): Promise<void> {
  const dlq = await client.send(
    new CreateQueueCommand({
      QueueName: config.queue.deadLetterName,
      Attributes: { MessageRetentionPeriod: '1209600' },
    }),
  );
  const { Attributes } = await client.send(
    new GetQueueAttributesCommand({ QueueUrl: dlq.QueueUrl, AttributeNames: ['QueueArn'] }),
  );
  await client.send(
    new CreateQueueCommand({
      QueueName: config.queue.name,
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
