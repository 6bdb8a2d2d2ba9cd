/** The queue storage notifies and workers read (the embedded default; the CDK stack may name it otherwise). */
export const UPLOADS_QUEUE_NAME = 'darkroom-uploads';

/** The dead-letter queue of a queue: its name with `-dlq`, here and in the CDK stack. */
export function deadLetterQueueName(queueName: string): string {
  return `${queueName}-dlq`;
}
