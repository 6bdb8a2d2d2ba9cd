import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import { S3Error } from './errors.ts';
import type { ObjectRecord, ObjectStore, OutboxMessage } from './store/object-store.ts';
import { asArray } from './xml.ts';

/** One `QueueConfiguration` of a bucket's notification configuration. */
export interface QueueNotification {
  id: string;
  queueArn: string;
  events: string[];
  prefix: string;
  suffix: string;
}

/** The seam between the S3 server and whatever queue receives its events (the SQS server, later). */
export interface NotificationSender {
  /** Delivers one message body to the queue named by its ARN; rejects to have it retried. */
  send(queueArn: string, body: string): Promise<void>;
}

export type ObjectCreatedEvent = 'Put' | 'Post' | 'Copy' | 'CompleteMultipartUpload';

const SUPPORTED_EVENTS = [
  's3:ObjectCreated:*',
  's3:ObjectCreated:Put',
  's3:ObjectCreated:Post',
  's3:ObjectCreated:Copy',
  's3:ObjectCreated:CompleteMultipartUpload',
];

/** Validates the parsed `<NotificationConfiguration>` body and keeps its queue configurations. */
export function parseNotificationConfiguration(doc: Record<string, unknown>): QueueNotification[] {
  if (doc.TopicConfiguration || doc.CloudFunctionConfiguration || doc.EventBridgeConfiguration) {
    throw new S3Error(
      'InvalidArgument',
      'Only QueueConfiguration (SQS) notifications are supported by this server.',
    );
  }
  return asArray(
    doc.QueueConfiguration as Record<string, unknown> | Record<string, unknown>[] | undefined,
  ).map((qc, i) => {
    const queueArn = typeof qc.Queue === 'string' ? qc.Queue : '';
    if (!/^arn:[^:]+:sqs:[^:]*:[^:]*:.+$/.test(queueArn)) {
      throw new S3Error(
        'InvalidArgument',
        `Unable to validate the destination: '${queueArn}' is not an SQS queue ARN.`,
        {
          ArgumentName: queueArn,
        },
      );
    }
    const events = asArray(qc.Event as string | string[] | undefined);
    if (events.length === 0)
      throw new S3Error('MalformedXML', 'Each QueueConfiguration needs at least one Event.');
    for (const e of events) {
      if (!SUPPORTED_EVENTS.includes(e)) {
        throw new S3Error('InvalidArgument', `The event ${e} is not supported for notifications.`, {
          ArgumentName: e,
        });
      }
    }
    const filter = qc.Filter as { S3Key?: { FilterRule?: unknown } } | undefined;
    const rules = asArray(filter?.S3Key?.FilterRule as { Name?: string; Value?: string }[] | undefined);
    let prefix = '';
    let suffix = '';
    for (const rule of rules) {
      const name = rule.Name?.toLowerCase();
      if (name === 'prefix') prefix = rule.Value ?? '';
      else if (name === 'suffix') suffix = rule.Value ?? '';
      else
        throw new S3Error(
          'InvalidArgument',
          `FilterRule name must be either prefix or suffix, not ${rule.Name}.`,
        );
    }
    return {
      id: typeof qc.Id === 'string' && qc.Id ? qc.Id : `notification-${i + 1}`,
      queueArn,
      events,
      prefix,
      suffix,
    };
  });
}

/** The configuration as S3 returns it from GetBucketNotificationConfiguration. */
export function notificationConfigurationXmlBody(
  configs: readonly QueueNotification[],
): Record<string, unknown> {
  return {
    QueueConfiguration: configs.map((c) => ({
      Id: c.id,
      Queue: c.queueArn,
      Event: c.events,
      ...(c.prefix || c.suffix
        ? {
            Filter: {
              S3Key: {
                FilterRule: [
                  ...(c.prefix ? [{ Name: 'Prefix', Value: c.prefix }] : []),
                  ...(c.suffix ? [{ Name: 'Suffix', Value: c.suffix }] : []),
                ],
              },
            },
          }
        : {}),
    })),
  };
}

/**
 * Encodes a key as S3 does in event notifications: form-URL-encoding (`+` for space, `%2B` for plus)
 * that leaves `/` as is. Consumers must decode `+` before percent-decoding.
 */
export function encodeEventKey(key: string): string {
  return encodeURIComponent(key)
    .replace(/%2F/g, '/')
    .replace(/%20/g, '+')
    .replace(/[!'()~]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

let lastSequencer = 0n;
/** Sequencers grow with time so consumers can order events for the same key, as S3 promises. */
function nextSequencer(): string {
  const now = BigInt(Date.now()) * 1_000_000n;
  lastSequencer = now > lastSequencer ? now : lastSequencer + 1n;
  return lastSequencer.toString(16).toUpperCase().padStart(16, '0');
}

/** Builds S3 event messages and hands them to a sender through the store's outbox. */
export class NotificationRouter {
  private timer: NodeJS.Timeout | undefined;
  private running = false;
  private stopped = false;
  private warnedNoSender = false;

  constructor(
    private readonly store: ObjectStore,
    private readonly region: string,
    private readonly sender: NotificationSender | undefined,
    private readonly log: Logger,
  ) {}

  /** The messages an ObjectCreated event produces for a bucket's configuration (to enqueue in the same transaction). */
  objectCreated(
    rec: ObjectRecord,
    event: ObjectCreatedEvent,
    ctx: { requestId: string; principalId: string; sourceIp: string },
  ): OutboxMessage[] {
    const configs = (this.store.getBucket(rec.bucket)?.notification ?? []) as QueueNotification[];
    const eventName = `ObjectCreated:${event}`;
    return configs
      .filter(
        (c) =>
          (c.events.includes('s3:ObjectCreated:*') || c.events.includes(`s3:${eventName}`)) &&
          rec.key.startsWith(c.prefix) &&
          rec.key.endsWith(c.suffix),
      )
      .map((c) => ({
        destination: c.queueArn,
        body: JSON.stringify({
          Records: [
            {
              eventVersion: '2.1',
              eventSource: 'aws:s3',
              awsRegion: this.region,
              eventTime: new Date(rec.lastModified).toISOString(),
              eventName,
              userIdentity: { principalId: ctx.principalId },
              requestParameters: { sourceIPAddress: ctx.sourceIp },
              responseElements: { 'x-amz-request-id': ctx.requestId, 'x-amz-id-2': hostId() },
              s3: {
                s3SchemaVersion: '1.0',
                configurationId: c.id,
                bucket: {
                  name: rec.bucket,
                  ownerIdentity: { principalId: ctx.principalId },
                  arn: `arn:aws:s3:::${rec.bucket}`,
                },
                object: {
                  key: encodeEventKey(rec.key),
                  size: rec.size,
                  eTag: rec.etag,
                  sequencer: nextSequencer(),
                },
              },
            },
          ],
        }),
      }));
  }

  /** The `s3:TestEvent` S3 sends to each destination when a configuration is set. */
  testEvents(bucket: string, configs: readonly QueueNotification[], requestId: string): OutboxMessage[] {
    const body = JSON.stringify({
      Service: 'Amazon S3',
      Event: 's3:TestEvent',
      Time: new Date().toISOString(),
      Bucket: bucket,
      RequestId: requestId,
      HostId: hostId(),
    });
    return [...new Set(configs.map((c) => c.queueArn))].map((destination) => ({ destination, body }));
  }

  /** Starts delivering queued messages; retries failures with capped exponential backoff. */
  start(): void {
    this.stopped = false;
    this.kick();
  }

  /** Wakes the dispatcher after a commit queued something. */
  kick(): void {
    if (this.stopped || this.running) return;
    clearTimeout(this.timer);
    this.timer = undefined;
    void this.drain();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  private async drain(): Promise<void> {
    this.running = true;
    try {
      for (;;) {
        const due = this.store.dueMessages(Date.now(), 100);
        if (due.length === 0 || this.stopped) break;
        if (!this.sender) {
          if (!this.warnedNoSender) {
            this.log.warn(
              { pending: due.length },
              'bucket notifications are configured but no queue is connected; events are kept until one is',
            );
            this.warnedNoSender = true;
          }
          return;
        }
        for (const msg of due) {
          try {
            await this.sender.send(msg.destination, msg.body);
            this.store.markDelivered(msg.id);
          } catch (err) {
            const delay = Math.min(60_000, 250 * 2 ** msg.attempts);
            this.log.warn(
              { err, destination: msg.destination, attempts: msg.attempts + 1 },
              'notification delivery failed; will retry',
            );
            this.store.markFailed(msg.id, Date.now() + delay);
          }
        }
      }
    } finally {
      this.running = false;
    }
    const next = this.store.nextDue();
    if (next !== undefined && !this.stopped && this.sender) {
      this.timer = setTimeout(() => this.kick(), Math.max(0, next - Date.now()));
      this.timer.unref();
    }
  }
}

/** An opaque request host id, shaped like S3's x-amz-id-2. */
export function hostId(): string {
  return randomBytes(32).toString('base64');
}
