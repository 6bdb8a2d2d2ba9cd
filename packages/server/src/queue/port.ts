/**
 * @module The uploads queue as the rest of Darkroom sees it: a small port with two adapters held to one
 * conformance suite (test/queue/): SQS (the embedded server and Amazon SQS) and AMQP 0.9.1 (RabbitMQ).
 * Delivery is at least once; the worker's effects are idempotent, so duplicates cost only a little work.
 */

/** One message as a handler sees it. */
export interface QueueMessage {
  /** The broker's id for this message (for logs). */
  readonly id: string;
  readonly body: string;
  /**
   * How many times this message has been handed to a consumer, this time included: 1 on the first
   * receive. On `maxReceiveCount` a failure sends it to the dead-letter queue.
   */
  readonly receiveCount: number;
}

/**
 * What a consumer does with one message. Resolving means "done": only then is the message removed
 * (SQS DeleteMessage, AMQP ack). Throwing means "retry after a backoff", until the receive limit moves
 * it to the dead-letter queue.
 */
export type MessageHandler = (message: QueueMessage) => Promise<void>;

/** A running consumer. */
export interface QueueConsumer {
  /** Stops taking messages and waits for the ones in hand to finish (and be acknowledged). */
  stop(): Promise<void>;
  /** How many messages are being handled right now. */
  readonly busy: number;
}

/** Message counts, as far as the broker tells them (-1: this broker does not say). */
export interface QueueDepth {
  /** Waiting to be received. */
  visible: number;
  /** Received and not yet finished. */
  inFlight: number;
  /** Waiting out a retry backoff. */
  delayed: number;
  /** In the dead-letter queue. */
  deadLettered: number;
}

/** What a start-up check found about the queue: problems stop the role, warnings are logged. */
export interface QueueCheck {
  problems: string[];
  warnings: string[];
}

/** The uploads queue. */
export interface UploadsQueue {
  /** What it is, for logs and messages: the SQS queue URL, or the AMQP broker, vhost and queue (no password). */
  readonly description: string;
  /**
   * Puts a message on the queue; resolves once the queue holds it (SQS: SendMessage answered; AMQP: the
   * broker's publisher confirm for a persistent message), rejects otherwise, so the caller can retry.
   */
  publish(body: string): Promise<void>;
  /**
   * Starts handing messages to `handler`, at most `concurrency` at once (the AMQP prefetch). A failed
   * message comes back after a backoff that grows with its receive count.
   */
  consume(handler: MessageHandler, opts: { concurrency: number }): QueueConsumer;
  depth(): Promise<QueueDepth>;
  /** Checks that the queue and its dead-letter queue exist and may be used; names `darkroom setup` as the fix. */
  check(): Promise<QueueCheck>;
  /** Closes the connections (after stopping every consumer). */
  close(): Promise<void>;
}

/** Seconds a failed message waits before it is received again: 2, 4, 8 … up to `cap`. */
export function retryBackoffSeconds(receiveCount: number, cap: number): number {
  return Math.min(cap, 2 ** Math.min(Math.max(receiveCount, 1), 16));
}
