import { GetQueueUrlCommand, SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { NotificationSender } from '@darkroom/s3-server';
import type { SqsStore } from '@darkroom/sqs-server';

// The seam between the two embedded servers: the S3 server notifies through a NotificationSender, and these
// put its events on an SQS queue. Neither server knows the other; the roles wire them together.

/**
 * Delivers S3 event notifications straight into an embedded SQS store (S3 and SQS in one process).
 * The queue ARN must name an existing queue of the store's region and account; otherwise the promise
 * rejects (QueueDoesNotExist) and the S3 outbox retries later. Nothing is created.
 */
export function createSqsNotificationSender(store: SqsStore): NotificationSender {
  return {
    async send(queueArn: string, body: string): Promise<void> {
      store.sendMessage(queueArn, body);
    },
  };
}

/**
 * The same over HTTP with the real SQS client, for an S3 server whose queue lives elsewhere (a separate
 * `darkroom sqs` process, or Amazon SQS). The ARN's name and account resolve to a URL with GetQueueUrl
 * (cached); a missing queue, or an ARN of another region than the client's, rejects, so the outbox retries.
 */
export function createSqsClientNotificationSender(client: SQSClient): NotificationSender {
  const urls = new Map<string, string>();
  return {
    async send(queueArn: string, body: string): Promise<void> {
      let url = urls.get(queueArn);
      if (url === undefined) {
        const m = /^arn:[^:]+:sqs:([^:]*):([^:]*):(.+)$/.exec(queueArn);
        if (!m) throw new Error(`not an SQS queue ARN: ${queueArn}`);
        const region = await client.config.region();
        if (m[1] !== region) throw new Error(`${queueArn} is not in the SQS client's region (${region})`);
        const out = await client.send(
          new GetQueueUrlCommand({ QueueName: m[3], QueueOwnerAWSAccountId: m[2] || undefined }),
        );
        if (!out.QueueUrl) throw new Error(`no URL for ${queueArn}`);
        url = out.QueueUrl;
        urls.set(queueArn, url);
      }
      try {
        await client.send(new SendMessageCommand({ QueueUrl: url, MessageBody: body }));
      } catch (err) {
        // The queue may have been deleted and recreated under a new URL: look it up again next time.
        urls.delete(queueArn);
        throw err;
      }
    },
  };
}
