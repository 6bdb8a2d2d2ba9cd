import {
  ChangeMessageVisibilityCommand,
  DeleteMessageCommand,
  GetQueueAttributesCommand,
  GetQueueUrlCommand,
  type Message,
  ReceiveMessageCommand,
  SendMessageCommand,
  type SQSClient,
  SQSServiceException,
} from '@aws-sdk/client-sqs';
import type { Logger } from 'pino';
import {
  type MessageHandler,
  type QueueCheck,
  type QueueConsumer,
  type QueueDepth,
  retryBackoffSeconds,
  type UploadsQueue,
} from './port.ts';

const CHECK_TIMEOUT_MS = 5_000;

export interface SqsQueueOptions {
  client: SQSClient;
  queueUrl: string;
  /** The queue's visibility timeout; held messages are extended every half of it. */
  visibilityTimeoutSeconds: number;
  /** An embedded server that may still be starting: unreachable is a warning, not a problem. */
  embedded: boolean;
  log: Logger;
}

/**
 * The SQS adapter (embedded `darkroom sqs` or Amazon SQS, through the AWS SDK v3). Redelivery and the
 * dead-letter queue are SQS's own: visibility timeout, ApproximateReceiveCount and the redrive policy.
 */
export class SqsUploadsQueue implements UploadsQueue {
  readonly description: string;
  /** The queue's ARN once check() has read it (bucket notifications name it). */
  arn: string | undefined;

  constructor(private readonly opts: SqsQueueOptions) {
    this.description = opts.embedded
      ? `the embedded SQS queue ${opts.queueUrl} (darkroom sqs)`
      : `queue ${opts.queueUrl}`;
  }

  async publish(body: string): Promise<void> {
    await this.opts.client.send(new SendMessageCommand({ QueueUrl: this.opts.queueUrl, MessageBody: body }));
  }

  consume(handler: MessageHandler, opts: { concurrency: number }): QueueConsumer {
    const consumer = new SqsConsumer(this.opts, handler, opts.concurrency);
    consumer.start();
    return consumer;
  }

  async depth(): Promise<QueueDepth> {
    const { client, queueUrl } = this.opts;
    const { Attributes: a = {} } = await client.send(
      new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['All'] }),
    );
    let deadLettered = -1;
    const target = a.RedrivePolicy
      ? (JSON.parse(a.RedrivePolicy) as { deadLetterTargetArn?: string }).deadLetterTargetArn
      : undefined;
    const m = target ? /^arn:[^:]+:sqs:[^:]*:([^:]*):(.+)$/.exec(target) : null;
    if (m) {
      const { QueueUrl } = await client.send(
        new GetQueueUrlCommand({ QueueName: m[2], QueueOwnerAWSAccountId: m[1] || undefined }),
      );
      const { Attributes: d = {} } = await client.send(
        new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ['ApproximateNumberOfMessages'] }),
      );
      deadLettered = Number(d.ApproximateNumberOfMessages ?? 0);
    }
    return {
      visible: Number(a.ApproximateNumberOfMessages ?? 0),
      inFlight: Number(a.ApproximateNumberOfMessagesNotVisible ?? 0),
      delayed: Number(a.ApproximateNumberOfMessagesDelayed ?? 0),
      deadLettered,
    };
  }

  async check(): Promise<QueueCheck> {
    const report: QueueCheck = { problems: [], warnings: [] };
    try {
      const { Attributes } = await this.opts.client.send(
        new GetQueueAttributesCommand({ QueueUrl: this.opts.queueUrl, AttributeNames: ['QueueArn'] }),
        { abortSignal: AbortSignal.timeout(CHECK_TIMEOUT_MS) },
      );
      this.arn = Attributes?.QueueArn;
    } catch (err) {
      const name = err instanceof Error ? err.name : '';
      const status = err instanceof SQSServiceException ? err.$metadata.httpStatusCode : undefined;
      if (/NonExistentQueue|QueueDoesNotExist/.test(name)) {
        report.problems.push(
          `${this.description} does not exist: run \`darkroom setup\` (on AWS the CDK stack creates it) or set DARKROOM_QUEUE_URL`,
        );
      } else if (status === 403 || /AccessDenied/.test(name)) {
        report.problems.push(
          `access to ${this.description} is denied: the credentials need sqs:GetQueueAttributes, and sqs:SendMessage (api) or sqs:ReceiveMessage/DeleteMessage/ChangeMessageVisibility (worker)`,
        );
      } else {
        const message = `cannot reach ${this.description} (${err instanceof Error ? `${err.name}: ${err.message}` : String(err)})`;
        if (this.opts.embedded) report.warnings.push(`${message}; uploads fail until it is up`);
        else report.problems.push(message);
      }
    }
    return report;
  }

  async close(): Promise<void> {
    this.opts.client.destroy();
  }
}

/**
 * Long-polls the queue and runs up to `concurrency` messages at once. While a message is being handled
 * its visibility is extended, so a long job is not handed to another worker; a failed one is left to
 * reappear after a backoff, and after the queue's maxReceiveCount SQS moves it to the dead-letter queue.
 */
class SqsConsumer implements QueueConsumer {
  private running = false;
  private readonly inFlight = new Set<Promise<void>>();
  private poll: AbortController | undefined;
  private loop: Promise<void> | undefined;

  constructor(
    private readonly opts: SqsQueueOptions,
    private readonly handler: MessageHandler,
    private readonly concurrency: number,
  ) {}

  start(): void {
    this.running = true;
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.running = false;
    this.poll?.abort();
    await this.loop;
    await Promise.allSettled([...this.inFlight]);
  }

  get busy(): number {
    return this.inFlight.size;
  }

  private async run(): Promise<void> {
    const { client, queueUrl, log } = this.opts;
    let failures = 0;
    while (this.running) {
      if (this.inFlight.size >= this.concurrency) {
        await Promise.race(this.inFlight);
        continue;
      }
      this.poll = new AbortController();
      let messages: Message[];
      try {
        const res = await client.send(
          new ReceiveMessageCommand({
            QueueUrl: queueUrl,
            MaxNumberOfMessages: Math.min(10, this.concurrency - this.inFlight.size),
            WaitTimeSeconds: 20,
            MessageSystemAttributeNames: ['ApproximateReceiveCount'],
          }),
          { abortSignal: this.poll.signal },
        );
        messages = res.Messages ?? [];
        failures = 0;
      } catch (err) {
        if (!this.running) break;
        failures++;
        const wait = Math.min(30_000, 500 * 2 ** Math.min(failures, 6));
        log.warn({ err, retryInMs: wait }, 'receiving from the queue failed; retrying');
        await new Promise((r) => setTimeout(r, wait));
        continue;
      }
      for (const message of messages) {
        const job = this.handle(message).finally(() => this.inFlight.delete(job));
        this.inFlight.add(job);
      }
    }
  }

  private async handle(message: Message): Promise<void> {
    const { client, queueUrl, visibilityTimeoutSeconds, log } = this.opts;
    const receiveCount = Number(message.Attributes?.ApproximateReceiveCount ?? 1);
    const setVisibility = (seconds: number) =>
      client.send(
        new ChangeMessageVisibilityCommand({
          QueueUrl: queueUrl,
          ReceiptHandle: message.ReceiptHandle,
          VisibilityTimeout: seconds,
        }),
      );
    const extend = setInterval(
      () =>
        void setVisibility(visibilityTimeoutSeconds).catch((err: unknown) =>
          log.warn({ err, messageId: message.MessageId }, 'could not extend visibility'),
        ),
      (visibilityTimeoutSeconds * 1000) / 2,
    );
    try {
      await this.handler({ id: message.MessageId ?? '', body: message.Body ?? '', receiveCount });
      clearInterval(extend);
      await client.send(
        new DeleteMessageCommand({ QueueUrl: queueUrl, ReceiptHandle: message.ReceiptHandle }),
      );
    } catch (err) {
      clearInterval(extend);
      // Back off before the retry instead of waiting out the whole visibility timeout.
      const retryIn = retryBackoffSeconds(receiveCount, visibilityTimeoutSeconds);
      log.warn(
        { err, messageId: message.MessageId, receiveCount, retryInSeconds: retryIn },
        'message failed; will retry',
      );
      await setVisibility(retryIn).catch(() => undefined);
    }
  }
}
