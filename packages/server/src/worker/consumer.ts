import {
  ChangeMessageVisibilityCommand,
  DeleteMessageCommand,
  type Message,
  ReceiveMessageCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import type { Logger } from 'pino';

/** What the consumer does with one message; resolving means "done, delete it", throwing means "retry". */
export type MessageHandler = (message: Message, receiveCount: number) => Promise<void>;

export interface ConsumerOptions {
  client: SQSClient;
  queueUrl: string;
  concurrency: number;
  /** The queue's visibility timeout; held messages are extended every half of it. */
  visibilityTimeoutSeconds: number;
  handler: MessageHandler;
  log: Logger;
}

/**
 * Long-polls a queue and runs up to `concurrency` messages at once. While a message is being handled
 * its visibility is extended, so a long job is not handed to another worker; a failed one is left to
 * reappear after a backoff, and after the queue's maxReceiveCount it moves to the dead-letter queue.
 */
export class QueueConsumer {
  private running = false;
  private readonly inFlight = new Set<Promise<void>>();
  private poll: AbortController | undefined;
  private loop: Promise<void> | undefined;

  constructor(private readonly opts: ConsumerOptions) {}

  start(): void {
    if (this.running) return;
    this.running = true;
    this.loop = this.run();
  }

  /** Stops receiving and waits for the messages in hand to finish. */
  async stop(): Promise<void> {
    this.running = false;
    this.poll?.abort();
    await this.loop;
    await Promise.allSettled([...this.inFlight]);
  }

  /** How many messages are being handled right now. */
  get busy(): number {
    return this.inFlight.size;
  }

  private async run(): Promise<void> {
    const { client, queueUrl, concurrency, log } = this.opts;
    let failures = 0;
    while (this.running) {
      if (this.inFlight.size >= concurrency) {
        await Promise.race(this.inFlight);
        continue;
      }
      this.poll = new AbortController();
      let messages: Message[];
      try {
        const res = await client.send(
          new ReceiveMessageCommand({
            QueueUrl: queueUrl,
            MaxNumberOfMessages: Math.min(10, concurrency - this.inFlight.size),
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
    const { client, queueUrl, visibilityTimeoutSeconds, handler, log } = this.opts;
    const receiveCount = Number(message.Attributes?.ApproximateReceiveCount ?? 1);
    const extend = setInterval(
      () => {
        client
          .send(
            new ChangeMessageVisibilityCommand({
              QueueUrl: queueUrl,
              ReceiptHandle: message.ReceiptHandle,
              VisibilityTimeout: visibilityTimeoutSeconds,
            }),
          )
          .catch((err: unknown) =>
            log.warn({ err, messageId: message.MessageId }, 'could not extend visibility'),
          );
      },
      (visibilityTimeoutSeconds * 1000) / 2,
    );
    try {
      await handler(message, receiveCount);
      clearInterval(extend);
      await client.send(
        new DeleteMessageCommand({ QueueUrl: queueUrl, ReceiptHandle: message.ReceiptHandle }),
      );
    } catch (err) {
      clearInterval(extend);
      // Back off before the retry instead of waiting out the whole visibility timeout.
      const retryIn = Math.min(visibilityTimeoutSeconds, 2 ** Math.min(receiveCount, 8));
      log.warn(
        { err, messageId: message.MessageId, receiveCount, retryInSeconds: retryIn },
        'message failed; will retry',
      );
      await client
        .send(
          new ChangeMessageVisibilityCommand({
            QueueUrl: queueUrl,
            ReceiptHandle: message.ReceiptHandle,
            VisibilityTimeout: retryIn,
          }),
        )
        .catch(() => undefined);
    }
  }
}
