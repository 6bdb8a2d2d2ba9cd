import {
  CreateBucketCommand,
  GetBucketCorsCommand,
  GetBucketLifecycleConfigurationCommand,
  GetBucketNotificationConfigurationCommand,
  HeadBucketCommand,
  PutBucketCorsCommand,
  PutBucketLifecycleConfigurationCommand,
  PutBucketNotificationConfigurationCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { CreateTopicCommand, GetTopicAttributesCommand, SNSClient } from '@aws-sdk/client-sns';
import { GetQueueUrlCommand } from '@aws-sdk/client-sqs';
import { UNPROCESSED_TAG, UPLOADS_PREFIX } from '@darkroom/contract';
import type { Logger } from 'pino';
import type { Config } from '../config.ts';
import { AmqpUploadsQueue } from '../queue/amqp-queue.ts';
import { openUploadsQueue } from '../queue/open.ts';
import { createSqsClient, setUpEmbeddedQueues } from '../queue/sqs-client.ts';
import { SqsUploadsQueue } from '../queue/sqs-queue.ts';
import { resolveSecrets } from '../secrets/development.ts';
import { UPLOADS_CORS_RULE, uploadsQueueArn } from '../storage/bucket-setup.ts';
import { s3ErrorCode } from '../storage/gateway.ts';
import { createS3Clients, s3Endpoint } from '../storage/s3-client.ts';
import { PreflightError, preflight } from './preflight.ts';

/** What `darkroom setup` did: changes made, things it could only describe, and what it checked. */
export interface SetupReport {
  /** Each change, as a line a person reads; empty when everything was in place. */
  changed: string[];
  /** Steps the operator must take by hand (MinIO's `mc` commands, a store Darkroom cannot configure). */
  manual: string[];
  /** Warnings from the final check (the same check `darkroom api` and `darkroom worker` make). */
  warnings: string[];
}

/** Objects under uploads/ that were never processed expire after this many days (as the CDK stack's default). */
const UNPROCESSED_EXPIRY_DAYS = 7;
const NOTIFICATION_ID = 'darkroom-uploads';

/**
 * `darkroom setup`: provisions, idempotently, what the configured engines need: the bucket, its CORS
 * rule, lifecycle rules where the store has them, the queue with its dead-letter queue, and the bucket
 * → queue notification for uploads/. A second run changes nothing and says so. On AWS it only checks
 * (the CDK stack provisions). Ends with the start-up check the roles make; a problem throws PreflightError.
 */
export async function runSetup(configured: Config, log: Logger): Promise<SetupReport> {
  // The embedded servers' key pair, as they resolve it (a generated one once secrets of your own are set).
  const config = await resolveSecrets(configured, 'setup');
  const report: SetupReport = { changed: [], manual: [], warnings: [] };
  const { client: s3, presigner } = createS3Clients(config);
  const queue = openUploadsQueue(config, log, 'setup');
  try {
    if (config.s3.provider !== 'aws') {
      await provisionBucket(s3, config, report);
      await provisionQueue(queue, config, report);
      await provisionNotification(s3, queue, config, report);
    }
    const check = await preflight(config, s3, queue);
    report.warnings.push(...check.warnings);
    if (check.problems.length > 0) throw new PreflightError(check.problems);
    return report;
  } finally {
    s3.destroy();
    presigner.destroy();
    await queue.close();
  }
}

async function provisionBucket(s3: S3Client, config: Config, report: SetupReport): Promise<void> {
  const Bucket = config.s3.bucket;
  try {
    await s3.send(new HeadBucketCommand({ Bucket }));
  } catch (err) {
    if (s3ErrorCode(err) !== 'NotFound' && s3ErrorCode(err) !== 'NoSuchBucket') throw err;
    await s3.send(new CreateBucketCommand({ Bucket }));
    report.changed.push(`created bucket "${Bucket}" at ${s3Endpoint(config)}`);
  }

  const wanted = [...config.corsOrigins].sort().join(',');
  const cors = await s3.send(new GetBucketCorsCommand({ Bucket })).catch((err: unknown) => {
    if (s3ErrorCode(err) === 'NoSuchCORSConfiguration') return undefined;
    throw err;
  });
  const present = cors?.CORSRules?.some(
    (r) => [...(r.AllowedOrigins ?? [])].sort().join(',') === wanted && r.AllowedMethods?.includes('PUT'),
  );
  if (!present) {
    await s3.send(
      new PutBucketCorsCommand({ Bucket, CORSConfiguration: { CORSRules: [UPLOADS_CORS_RULE(config)] } }),
    );
    report.changed.push(`set CORS on "${Bucket}": uploads from ${config.corsOrigins.join(', ')}`);
  }

  if (config.s3.provider === 'embedded') return; // the embedded server has no lifecycle rules (the sweeper does that work)
  const ids = ['abort-incomplete-multipart', 'expire-unprocessed-uploads'];
  const lifecycle = await s3
    .send(new GetBucketLifecycleConfigurationCommand({ Bucket }))
    .catch((err: unknown) => {
      if (s3ErrorCode(err) === 'NoSuchLifecycleConfiguration') return undefined;
      throw err;
    });
  if (ids.every((id) => lifecycle?.Rules?.some((r) => r.ID === id))) return;
  try {
    await s3.send(
      new PutBucketLifecycleConfigurationCommand({
        Bucket,
        LifecycleConfiguration: {
          Rules: [
            {
              ID: ids[0],
              Status: 'Enabled',
              Filter: { Prefix: UPLOADS_PREFIX },
              AbortIncompleteMultipartUpload: { DaysAfterInitiation: 1 },
            },
            {
              ID: ids[1],
              Status: 'Enabled',
              Filter: {
                And: {
                  Prefix: UPLOADS_PREFIX,
                  Tags: [{ Key: UNPROCESSED_TAG.key, Value: UNPROCESSED_TAG.value }],
                },
              },
              Expiration: { Days: UNPROCESSED_EXPIRY_DAYS },
            },
          ],
        },
      }),
    );
    report.changed.push(
      `set lifecycle rules on "${Bucket}": abort multipart uploads after 1 day, expire unprocessed originals after ${UNPROCESSED_EXPIRY_DAYS} days`,
    );
  } catch (err) {
    report.warnings.push(
      `this store refused lifecycle rules (${s3ErrorCode(err) ?? String(err)}); the workers' sweep removes abandoned uploads anyway`,
    );
  }
}

async function provisionQueue(
  queue: ReturnType<typeof openUploadsQueue>,
  config: Config,
  report: SetupReport,
): Promise<void> {
  if (queue instanceof AmqpUploadsQueue) {
    for (const made of await queue.provision())
      report.changed.push(`created ${made} at ${queue.description}`);
    return;
  }
  if (config.queue.kind !== 'embedded') return; // Amazon SQS: the CDK stack (or the operator) makes it
  const sqs = createSqsClient(config);
  try {
    const missing: string[] = [];
    for (const name of [config.queue.name, config.queue.deadLetterName]) {
      await sqs.send(new GetQueueUrlCommand({ QueueName: name })).catch(() => missing.push(name));
    }
    if (missing.length > 0) {
      await setUpEmbeddedQueues(sqs, config);
      report.changed.push(
        `created embedded SQS queue ${missing.join(' and ')} (dead letters after ${config.sqs.maxReceiveCount} receives)`,
      );
    }
  } finally {
    sqs.destroy();
  }
}

/** The RGW topic name for this bucket's uploads (also the AMQP routing key RGW publishes with). */
function topicName(config: Config): string {
  return `${config.queue.name}-${config.s3.bucket}`.replace(/[^A-Za-z0-9_-]/g, '-');
}

async function provisionNotification(
  s3: S3Client,
  queue: ReturnType<typeof openUploadsQueue>,
  config: Config,
  report: SetupReport,
): Promise<void> {
  const Bucket = config.s3.bucket;
  const provider = config.s3.provider;
  const hook = `${config.publicBaseUrl}/v1/hooks/s3`;
  if (provider === 'embedded') {
    if (queue instanceof SqsUploadsQueue) {
      await ensureQueueNotification(s3, config, uploadsQueueArn(config), report);
    } else {
      report.manual.push(
        'the embedded S3 server notifies only the embedded SQS queue: with DARKROOM_QUEUE_URL set, uploads are processed through POST /v1/uploads/{id}/complete and the sweep',
      );
    }
    return;
  }
  if (provider === 'ceph') {
    const endpoint =
      queue instanceof AmqpUploadsQueue ? config.queue.url! : webhookEndpoint(config, hook, report);
    if (endpoint === undefined) return;
    const current = await s3.send(new GetBucketNotificationConfigurationCommand({ Bucket }));
    const notified = (current.TopicConfigurations ?? []).some(
      (t) => t.Id === NOTIFICATION_ID && t.TopicArn?.endsWith(`:${topicName(config)}`),
    );
    const arn = await ensureRgwTopic(config, endpoint, notified, report);
    await ensureTopicNotification(s3, Bucket, arn, report);
    return;
  }
  if (provider === 'minio') {
    report.manual.push(...minioInstructions(config, queue instanceof AmqpUploadsQueue, hook));
    return;
  }
  report.manual.push(
    `configure the store to send s3:ObjectCreated:* events for the uploads/ prefix of "${Bucket}" to ${
      queue instanceof AmqpUploadsQueue
        ? `the AMQP exchange "${config.queue.name}" (${queue.description})`
        : `${hook} with DARKROOM_S3_WEBHOOK_SECRET`
    }; until then uploads are processed through POST /v1/uploads/{id}/complete and the reconciliation sweep`,
  );
}

/** The HTTP push endpoint (`/v1/hooks/s3?token=…`), or undefined (with a note) when no webhook secret is set. */
function webhookEndpoint(config: Config, hook: string, report: SetupReport): string | undefined {
  if (config.s3WebhookSecret === undefined) {
    report.manual.push(
      `set DARKROOM_S3_WEBHOOK_SECRET (and run setup again) so the store can post its events to ${hook}`,
    );
    return undefined;
  }
  return `${hook}?token=${encodeURIComponent(config.s3WebhookSecret)}`;
}

async function ensureQueueNotification(s3: S3Client, config: Config, queueArn: string, report: SetupReport) {
  const Bucket = config.s3.bucket;
  const current = await s3.send(new GetBucketNotificationConfigurationCommand({ Bucket }));
  if (current.QueueConfigurations?.some((q) => q.QueueArn === queueArn)) return;
  await s3.send(
    new PutBucketNotificationConfigurationCommand({
      Bucket,
      NotificationConfiguration: {
        QueueConfigurations: [
          {
            Id: NOTIFICATION_ID,
            QueueArn: queueArn,
            Events: ['s3:ObjectCreated:*'],
            Filter: { Key: { FilterRules: [{ Name: 'prefix', Value: UPLOADS_PREFIX }] } },
          },
        ],
      },
    }),
  );
  report.changed.push(`set "${Bucket}" to notify ${queueArn} of new uploads/`);
}

async function ensureTopicNotification(s3: S3Client, Bucket: string, topicArn: string, report: SetupReport) {
  const current = await s3.send(new GetBucketNotificationConfigurationCommand({ Bucket }));
  if (current.TopicConfigurations?.some((t) => t.TopicArn === topicArn && t.Id === NOTIFICATION_ID)) return;
  await s3.send(
    new PutBucketNotificationConfigurationCommand({
      Bucket,
      NotificationConfiguration: {
        TopicConfigurations: [
          {
            Id: NOTIFICATION_ID,
            TopicArn: topicArn,
            Events: ['s3:ObjectCreated:*'],
            Filter: { Key: { FilterRules: [{ Name: 'prefix', Value: UPLOADS_PREFIX }] } },
          },
        ],
      },
    }),
  );
  report.changed.push(`set "${Bucket}" to notify topic ${topicArn} of new uploads/`);
}

/**
 * Creates (or corrects) the RGW topic that pushes into Darkroom's queue: over AMQP into the exchange
 * named DARKROOM_QUEUE_NAME, acknowledged by the broker and persistent (RGW keeps the event and
 * retries until the broker takes it), or over HTTP to /v1/hooks/s3.
 */
async function ensureRgwTopic(
  config: Config,
  pushEndpoint: string,
  notified: boolean,
  report: SetupReport,
): Promise<string> {
  const name = topicName(config);
  const sns = snsClientFor(config);
  try {
    const amqp = /^amqps?:/.test(pushEndpoint);
    const attributes: Record<string, string> = {
      persistent: 'true',
      ...(amqp ? { 'amqp-exchange': config.queue.name, 'amqp-ack-level': 'broker' } : {}),
    };
    // RGW 16 answers 403 to GetTopicAttributes and ListTopics for the topic's own user, so a topic that
    // cannot be read is written again: CreateTopic with the same attributes is an idempotent overwrite.
    const existing = await sns
      .send(new GetTopicAttributesCommand({ TopicArn: `arn:aws:sns:default::${name}` }))
      .then((r) => r.Attributes)
      .catch(() => undefined);
    if (existing && topicMatches(existing, pushEndpoint, attributes)) return existing.TopicArn!;
    const created = await createTopic(sns, name, pushEndpoint, attributes);
    if (existing || !notified) {
      report.changed.push(
        `${existing ? 'updated' : 'created'} RGW topic ${created} pushing to ${amqp ? `exchange "${config.queue.name}" at ${redact(pushEndpoint)}` : `${config.publicBaseUrl}/v1/hooks/s3`} (persistent)`,
      );
    }
    return created;
  } finally {
    sns.destroy();
  }
}

/** RGW refuses credentials in a push endpoint over plain HTTP; a trusted proxy header, or RabbitMQ's default guest login, gets past it. */
async function createTopic(
  sns: SNSClient,
  name: string,
  pushEndpoint: string,
  attributes: Record<string, string>,
): Promise<string> {
  const attempt = (endpoint: string) =>
    sns.send(
      new CreateTopicCommand({ Name: name, Attributes: { 'push-endpoint': endpoint, ...attributes } }),
    );
  try {
    return (await attempt(pushEndpoint)).TopicArn!;
  } catch (err) {
    const url = new URL(pushEndpoint);
    // RGW uses guest/guest when the endpoint names no user, so that login needs no password on the wire.
    if (url.username === 'guest' && url.password === 'guest') {
      url.username = '';
      url.password = '';
      return (await attempt(url.toString())).TopicArn!;
    }
    throw new Error(
      `Ceph RGW refused the topic (${err instanceof Error ? err.message : String(err)}); RGW sends broker credentials only over HTTPS: use an https:// DARKROOM_S3_ENDPOINT, or set \`rgw trust forwarded https = true\` behind a TLS proxy`,
    );
  }
}

function topicMatches(attrs: Record<string, string>, pushEndpoint: string, wanted: Record<string, string>) {
  try {
    const ep = JSON.parse(attrs.EndPoint ?? '{}') as {
      EndpointAddress?: string;
      EndpointArgs?: string;
      Persistent?: boolean | string;
    };
    const strip = (u: string) => {
      const url = new URL(u);
      url.username = '';
      url.password = '';
      return url.toString();
    };
    return (
      ep.EndpointAddress !== undefined &&
      strip(ep.EndpointAddress) === strip(pushEndpoint) &&
      String(ep.Persistent) === 'true' &&
      Object.entries(wanted).every(
        ([k, v]) => k === 'persistent' || (ep.EndpointArgs ?? '').includes(`${k}=${v}`),
      )
    );
  } catch {
    return false;
  }
}

function redact(url: string): string {
  const u = new URL(url);
  if (u.password) u.password = '***';
  return u.toString();
}

/** RGW's topic API is SNS-shaped and served on the S3 endpoint; it takes the S3 credentials. */
function snsClientFor(config: Config): SNSClient {
  const key = config.s3.accessKeys[0]!;
  const sns = new SNSClient({
    endpoint: config.s3.endpoint,
    region: config.s3.region,
    ...(config.s3.accessKeySource === 'configured'
      ? { credentials: { accessKeyId: key.accessKeyId, secretAccessKey: key.secretAccessKey } }
      : {}),
  });
  // An RGW set to trust X-Forwarded-Proto (behind a TLS proxy) then accepts broker credentials.
  sns.middlewareStack.add(
    (next) => (args) => {
      const request = args.request as { headers?: Record<string, string> };
      if (request.headers && config.s3.endpoint?.startsWith('http:'))
        request.headers['x-forwarded-proto'] = 'https';
      return next(args);
    },
    { step: 'build', name: 'darkroomForwardedProto' },
  );
  return sns;
}

/** The exact MinIO configuration (it cannot be applied through the S3 API). */
function minioInstructions(config: Config, amqp: boolean, hook: string): string[] {
  const Bucket = config.s3.bucket;
  const target = amqp
    ? `mc admin config set ALIAS notify_amqp:darkroom url="${redact(config.queue.url!)}" exchange="${config.queue.name}" exchange_type="fanout" routing_key="${config.queue.name}" durable="on" delivery_mode="2" publisher_confirms="on"`
    : `mc admin config set ALIAS notify_webhook:darkroom endpoint="${hook}" auth_token="Bearer <DARKROOM_S3_WEBHOOK_SECRET>"`;
  return [
    'MinIO is configured with its own client, mc (ALIAS is your `mc alias` for this server):',
    `  ${target}`,
    '  mc admin service restart ALIAS',
    `  mc event add ALIAS/${Bucket} arn:minio:sqs::darkroom:${amqp ? 'amqp' : 'webhook'} --event put --prefix uploads/`,
  ];
}
