import { deadLetterQueueName } from '@darkroom/contract';
/**
 * @module The RabbitMQ objects behind Darkroom's uploads queue, named from DARKROOM_QUEUE_NAME (N):
 * - exchange `N` (fanout, durable): what storage (a Ceph RGW topic) and Darkroom publish to;
 * - queue `N` (quorum, durable) bound to it: workers consume it. Its delivery limit plays SQS's
 *   maxReceiveCount for deliveries that die with their consumer; its dead-letter exchange `N-dlx`
 *   (fanout) routes to `N-dlq` (quorum), the dead-letter queue;
 * - retry queues `N-retry-2s` … `N-retry-64s` (classic, durable, one message TTL each, so messages
 *   expire in arrival order): a failed message waits in one, then is dead-lettered back into `N`
 *   through the default exchange. They play SQS's "visible again after a backoff".
 */

/** The retry delays, in seconds; a failed message waits the largest one not above its backoff. */
export const RETRY_DELAYS_SECONDS = [2, 4, 8, 16, 32, 64] as const;

/** Header carrying how many times a message was received before it was put on a retry queue. */
export const ATTEMPTS_HEADER = 'x-darkroom-attempts';

/** The names and arguments of every object; `declare` order matters (exchanges before bindings). */
export interface AmqpTopology {
  exchange: string;
  queue: string;
  deadLetterExchange: string;
  deadLetterQueue: string;
  retryQueues: { seconds: number; name: string }[];
  /** Arguments of the main queue; a queue declared with others is refused by the broker. */
  queueArguments: Record<string, string | number>;
}

/** The topology for queue name `name` and DARKROOM_MAX_RECEIVE_COUNT `maxReceiveCount`. */
export function amqpTopology(name: string, maxReceiveCount: number): AmqpTopology {
  return {
    exchange: name,
    queue: name,
    deadLetterExchange: `${name}-dlx`,
    deadLetterQueue: deadLetterQueueName(name),
    retryQueues: RETRY_DELAYS_SECONDS.map((seconds) => ({ seconds, name: `${name}-retry-${seconds}s` })),
    queueArguments: {
      'x-queue-type': 'quorum',
      // Returned deliveries (consumer gone) allowed before the broker dead-letters the message: with
      // maxReceiveCount - 1 returns, a message is delivered at most maxReceiveCount times.
      'x-delivery-limit': Math.max(0, maxReceiveCount - 1),
      'x-dead-letter-exchange': `${name}-dlx`,
    },
  };
}

/** The retry queue for a message that should come back in about `backoffSeconds`. */
export function retryQueueFor(topology: AmqpTopology, backoffSeconds: number): string {
  const fitting = topology.retryQueues.filter((q) => q.seconds <= backoffSeconds);
  return (fitting.at(-1) ?? topology.retryQueues[0]!).name;
}
