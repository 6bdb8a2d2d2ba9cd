import { createHash } from 'node:crypto';
import type { Logger } from 'pino';
import type { ImageRepository } from '../db/images.ts';
import type { MessageHandler } from '../queue/port.ts';
import { type ProcessDeps, processRecord } from './process-image.ts';
import { imageIdFromKey, parseS3EventMessage } from './s3-events.ts';

/** Thrown for messages the worker will never understand; left alone, they end in the dead-letter queue. */
export class UnknownMessageError extends Error {}

/**
 * The worker's message handler: S3 event notifications only. On the last receive before the
 * dead-letter queue, an image whose processing keeps failing is marked `failed` so the user learns of it.
 */
export function createS3EventHandler(
  deps: ProcessDeps & { images: ImageRepository; maxReceiveCount: number; log: Logger },
  onOutcome?: (outcome: string) => void,
): MessageHandler {
  return async (message) => {
    const { receiveCount } = message;
    const parsed = parseS3EventMessage(message.body);
    if (parsed.kind === 'test') return;
    if (parsed.kind === 'unknown') {
      deps.log.warn(
        { messageId: message.id, reason: parsed.reason },
        'not an S3 event; leaving it for the dead-letter queue',
      );
      onOutcome?.('unknown_message');
      throw new UnknownMessageError(parsed.reason);
    }
    // The message's identity, the same each time the broker delivers it again (SQS and AMQP alike): a
    // redelivery means its earlier holder is gone, so it may take that holder's claim over; any other
    // message naming the same original finds the claim held and is dropped (worker/process-image.ts).
    const claimant = createHash('sha256').update(message.body).digest('hex').slice(0, 40);
    for (const record of parsed.records) {
      try {
        const outcome = await processRecord(deps, record, claimant);
        deps.log.debug({ key: record.key, eventName: record.eventName, outcome }, 'record handled');
        onOutcome?.(outcome);
      } catch (err) {
        onOutcome?.('error');
        const id = imageIdFromKey(record.key);
        if (id && receiveCount >= deps.maxReceiveCount) {
          await deps.images.transition(id, ['pending', 'uploaded', 'processing'], {
            status: 'failed',
            error_code: 'processing_failed',
            error_message: `Processing failed ${receiveCount} times: ${err instanceof Error ? err.message : String(err)}`,
          });
        }
        throw err;
      }
    }
  };
}
