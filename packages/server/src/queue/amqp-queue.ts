import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import {
  type AsyncMessage,
  Connection,
  type Consumer,
  ConsumerStatus,
  type Envelope,
  type Publisher,
} from 'rabbitmq-client';
import { type AmqpTopology, ATTEMPTS_HEADER, amqpTopology, retryQueueFor } from './amqp-topology.ts';
import {
  type MessageHandler,
  type QueueCheck,
  type QueueConsumer,
  type QueueDepth,
  retryBackoffSeconds,
  type UploadsQueue,
} from './port.ts';

const CHECK_TIMEOUT_MS = 5_000;

export interface AmqpQueueOptions {
  /** `amqp(s)://user:pass@host:port/<vhost>`. */
  url: string;
  /** DARKROOM_QUEUE_NAME. */
  name: string;
  maxReceiveCount: number;
  /** Caps the retry backoff, as the visibility timeout caps it on SQS. */
  maxBackoffSeconds: number;
  /** The client-provided connection name (`darkroom-<role>-<pid>`), so operators can tell Darkroom's connections apart. */
  connectionName: string;
  log: Logger;
}

/** The URL without its password, for logs and messages. */
export function redactedAmqpUrl(url: string): string {
  const u = new URL(url);
  if (u.password) u.password = '***';
  return u.toString();
}

/** A message body as rabbitmq-client hands it over: a Buffer, or a string/object it decoded by content type. */
function bodyText(body: unknown): string {
  if (Buffer.isBuffer(body)) return body.toString('utf8');
  if (typeof body === 'string') return body;
  return JSON.stringify(body);
}

/**
 * The AMQP 0.9.1 adapter (RabbitMQ), on rabbitmq-client: it reconnects by itself after a dropped
 * connection or a broker restart, re-subscribing consumers and retrying unconfirmed publishes.
 * - publish: persistent message to exchange `N`, mandatory, with a publisher confirm; an unroutable
 *   message (no queue bound) is an error, not a silent drop.
 * - consume: prefetch = concurrency; ack only after the handler resolved. A message whose consumer
 *   dies comes back (quorum queue, `x-delivery-count` + 1) until the delivery limit dead-letters it.
 * - a failed handler: before `maxReceiveCount`, the message is republished (confirmed) to the retry
 *   queue of its backoff with the receive count in `x-darkroom-attempts`, and only then acked; it
 *   comes back into `N` when its TTL expires. On `maxReceiveCount` it is rejected without requeue, so
 *   the dead-letter exchange puts it on `N-dlq`.
 * receiveCount = x-darkroom-attempts + x-delivery-count + 1. The broker's delivery limit sees only
 * x-delivery-count, so a message that failed and then died with consumers arrives with a receiveCount
 * past the limit: it is dead-lettered unhandled, as SQS's redrive does, and no handler sees more than
 * `maxReceiveCount` receives.
 */
export class AmqpUploadsQueue implements UploadsQueue {
  readonly description: string;
  /** The broker and vhost, without the password. */
  readonly where: string;
  readonly topology: AmqpTopology;
  private readonly connection: Connection;
  private readonly publisher: Publisher;
  /** messageIds the broker returned as unroutable (its return comes before the confirm of that publish). */
  private readonly returned = new Set<string>();
  private readonly consumers = new Set<Consumer>();

  constructor(private readonly opts: AmqpQueueOptions) {
    this.topology = amqpTopology(opts.name, opts.maxReceiveCount);
    this.where = redactedAmqpUrl(opts.url);
    this.description = `RabbitMQ queue "${opts.name}" at ${this.where}`;
    this.connection = new Connection({
      url: opts.url,
      connectionName: opts.connectionName,
      // Reconnect soon after a drop, then back off to 10 s while the broker stays away.
      retryLow: 200,
      retryHigh: 10_000,
      connectionTimeout: 10_000,
    });
    this.connection.on('error', (err) => opts.log.warn({ err }, 'RabbitMQ connection error; reconnecting'));
    this.connection.on('connection', () => opts.log.info({ queue: opts.name }, 'RabbitMQ connected'));
    this.publisher = this.connection.createPublisher({
      confirm: true,
      // A publish cut off by a dropped connection is sent again once it is back.
      maxAttempts: 5,
    });
    // An event, not the `onReturn` option: rabbitmq-client 5 declares that option but never calls it.
    this.publisher.on('basic.return', (msg) => {
      if (msg.messageId) this.returned.add(msg.messageId);
    });
  }

  /** Sends with a confirm and fails if the broker routed the message nowhere. */
  private async send(envelope: Envelope & { messageId: string }, body: Buffer): Promise<void> {
    await this.publisher.send({ ...envelope, durable: true, mandatory: true }, body);
    // The broker sends basic.return before the confirm, but rabbitmq-client emits the return from a
    // setImmediate: one more turn of the event loop lets it land before we look.
    await new Promise((resolve) => setImmediate(resolve));
    if (this.returned.delete(envelope.messageId)) {
      throw new Error(
        `RabbitMQ routed the message to no queue (exchange "${envelope.exchange ?? ''}", key "${envelope.routingKey ?? ''}"): run \`darkroom setup\``,
      );
    }
  }

  publish(body: string): Promise<void> {
    return this.send(
      { exchange: this.topology.exchange, routingKey: this.topology.queue, messageId: randomUUID() },
      Buffer.from(body, 'utf8'),
    );
  }

  consume(handler: MessageHandler, opts: { concurrency: number }): QueueConsumer {
    const { log, maxReceiveCount, maxBackoffSeconds } = this.opts;
    let busy = 0;
    const consumer = this.connection.createConsumer(
      {
        queue: this.topology.queue,
        // Declared by `darkroom setup`; the worker only uses it (and its start-up check says if it is missing).
        queueOptions: { passive: true },
        qos: { prefetchCount: opts.concurrency },
        concurrency: opts.concurrency,
        requeue: true,
      },
      async (msg: AsyncMessage) => {
        const headers = msg.headers ?? {};
        const receiveCount =
          Number(headers[ATTEMPTS_HEADER] ?? 0) + Number(headers['x-delivery-count'] ?? 0) + 1;
        const id = msg.messageId ?? `delivery-${msg.deliveryTag}`;
        if (receiveCount > maxReceiveCount) {
          // Its last receives died with their consumers (the broker's delivery limit counts only those,
          // not the failed ones carried in the header): as SQS does, the limit holds for both together.
          log.warn({ messageId: id, receiveCount }, 'message received too many times; dead-lettering it');
          return ConsumerStatus.DROP;
        }
        busy++;
        const raw = bodyText(msg.body);
        try {
          await handler({ id, body: raw, receiveCount });
          return ConsumerStatus.ACK;
        } catch (err) {
          if (receiveCount >= maxReceiveCount) {
            log.warn(
              { err, messageId: id, receiveCount },
              'message failed for the last time; dead-lettering it',
            );
            return ConsumerStatus.DROP;
          }
          const retryIn = retryBackoffSeconds(receiveCount, maxBackoffSeconds);
          const target = retryQueueFor(this.topology, retryIn);
          const { 'x-delivery-count': _count, 'x-death': _death, ...kept } = headers;
          try {
            await this.send(
              {
                exchange: '',
                routingKey: target,
                messageId: id,
                headers: { ...kept, [ATTEMPTS_HEADER]: receiveCount },
              },
              Buffer.from(raw, 'utf8'),
            );
            log.warn({ err, messageId: id, receiveCount, retryQueue: target }, 'message failed; will retry');
            return ConsumerStatus.ACK;
          } catch (publishErr) {
            // No retry queue to wait in: hand it straight back (it counts against the delivery limit).
            log.warn({ err, publishErr, messageId: id, receiveCount }, 'message failed; requeued at once');
            return ConsumerStatus.REQUEUE;
          }
        } finally {
          busy--;
        }
      },
    );
    consumer.on('error', (err) => log.warn({ err }, 'RabbitMQ consumer error; it resubscribes'));
    this.consumers.add(consumer);
    return {
      get busy() {
        return busy;
      },
      stop: async () => {
        await consumer.close();
        this.consumers.delete(consumer);
      },
    };
  }

  private async messageCount(queue: string): Promise<number> {
    const ok = await this.connection.queueDeclare({ queue, passive: true });
    return ok.messageCount;
  }

  async depth(): Promise<QueueDepth> {
    const delayed = await Promise.all(this.topology.retryQueues.map((q) => this.messageCount(q.name)));
    return {
      visible: await this.messageCount(this.topology.queue),
      // AMQP does not report unacknowledged messages (the management API does).
      inFlight: -1,
      delayed: delayed.reduce((a, b) => a + b, 0),
      deadLettered: await this.messageCount(this.topology.deadLetterQueue),
    };
  }

  async check(): Promise<QueueCheck> {
    const report: QueueCheck = { problems: [], warnings: [] };
    try {
      await this.connection.onConnect(CHECK_TIMEOUT_MS, true);
    } catch (err) {
      report.problems.push(
        `cannot connect to RabbitMQ at ${redactedAmqpUrl(this.opts.url)} (${err instanceof Error ? err.message : String(err)}): check DARKROOM_QUEUE_URL (the path is the vhost), the credentials and the vhost permissions`,
      );
      return report;
    }
    const missing: string[] = [];
    try {
      await this.connection.exchangeDeclare({ exchange: this.topology.exchange, passive: true });
    } catch {
      missing.push(`exchange "${this.topology.exchange}"`);
    }
    for (const queue of [
      this.topology.queue,
      this.topology.deadLetterQueue,
      ...this.topology.retryQueues.map((q) => q.name),
    ]) {
      try {
        await this.messageCount(queue);
      } catch {
        missing.push(`queue "${queue}"`);
      }
    }
    if (missing.length > 0) {
      report.problems.push(
        `${this.description} is not set up (missing ${missing.join(', ')}): run \`darkroom setup\``,
      );
    }
    return report;
  }

  /**
   * Declares whatever of the topology is missing (`darkroom setup`) and returns what it created: an
   * empty list means everything was there. A queue that exists with other arguments (another delivery
   * limit) is refused by the broker, and the error says so.
   */
  async provision(): Promise<string[]> {
    const t = this.topology;
    const created: string[] = [];
    const exists = async (declare: () => Promise<unknown>) =>
      declare().then(
        () => true,
        () => false,
      );
    const exchange = async (name: string) => {
      if (await exists(() => this.connection.exchangeDeclare({ exchange: name, passive: true }))) return;
      await this.connection.exchangeDeclare({ exchange: name, type: 'fanout', durable: true });
      created.push(`exchange ${name} (fanout)`);
    };
    const queue = async (name: string, args: Record<string, string | number>, what: string) => {
      if (!(await exists(() => this.connection.queueDeclare({ queue: name, passive: true })))) {
        created.push(`queue ${name} (${what})`);
      }
      // Declared every time: an existing queue with other arguments fails here, loudly.
      try {
        await this.connection.queueDeclare({ queue: name, durable: true, arguments: args });
      } catch (err) {
        throw new Error(
          `queue "${name}" exists with other arguments than ${JSON.stringify(args)} (${err instanceof Error ? err.message : String(err)}); delete it, or set DARKROOM_MAX_RECEIVE_COUNT as it was`,
        );
      }
    };
    await exchange(t.exchange);
    await exchange(t.deadLetterExchange);
    await queue(t.deadLetterQueue, { 'x-queue-type': 'quorum' }, 'quorum, dead letters');
    await this.connection.queueBind({ queue: t.deadLetterQueue, exchange: t.deadLetterExchange });
    await queue(
      t.queue,
      t.queueArguments,
      `quorum, delivery limit ${t.queueArguments['x-delivery-limit']}, dead letters to ${t.deadLetterExchange}`,
    );
    await this.connection.queueBind({ queue: t.queue, exchange: t.exchange });
    for (const r of t.retryQueues) {
      await queue(
        r.name,
        {
          'x-message-ttl': r.seconds * 1000,
          'x-dead-letter-exchange': '',
          'x-dead-letter-routing-key': t.queue,
        },
        `retry after ${r.seconds}s`,
      );
    }
    return created;
  }

  async close(): Promise<void> {
    await Promise.all([...this.consumers].map((c) => c.close()));
    await this.publisher.close();
    await this.connection.close();
  }
}
