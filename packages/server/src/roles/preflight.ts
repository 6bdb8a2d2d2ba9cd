import {
  GetBucketNotificationConfigurationCommand,
  HeadBucketCommand,
  type S3Client,
  S3ServiceException,
} from '@aws-sdk/client-s3';
import { UPLOADS_PREFIX } from '@darkroom/contract';
import type { Logger } from 'pino';
import type { Config } from '../config.ts';
import type { UploadsQueue } from '../queue/port.ts';
import { SqsUploadsQueue } from '../queue/sqs-queue.ts';
import { s3Endpoint } from '../storage/s3-client.ts';

/** Raised when storage or the queue cannot serve this role; the message lists what is missing. */
export class PreflightError extends Error {
  readonly code = 'preflight_failed';
  constructor(readonly problems: readonly string[]) {
    super(`Darkroom cannot start:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'PreflightError';
  }
}

/** What the checks found: problems stop the role, warnings are logged. */
export interface PreflightReport {
  problems: string[];
  warnings: string[];
}

const CHECK_TIMEOUT_MS = 5_000;

function statusOf(err: unknown): number | undefined {
  return err instanceof S3ServiceException ? err.$metadata.httpStatusCode : undefined;
}

function describe(err: unknown): string {
  return err instanceof Error ? `${err.name}: ${err.message}` : String(err);
}

/**
 * Checks, before a role starts, that the bucket and the queue exist and these credentials may use
 * them, and that the bucket notifies the queue of new uploads, so a deployment mistake is reported
 * at start-up with what to fix rather than as failed uploads later. An unreachable embedded server is
 * only a warning: `darkroom s3` / `darkroom sqs` may still be starting.
 */
export async function preflight(config: Config, s3: S3Client, queue: UploadsQueue): Promise<PreflightReport> {
  const report: PreflightReport = { problems: [], warnings: [] };
  const bucket = config.s3.bucket;
  const s3Where = config.s3.endpoint ?? `the embedded S3 at ${s3Endpoint(config)} (darkroom s3)`;
  // An embedded server may still be starting (`darkroom s3` / `darkroom sqs`); a configured one must answer.
  const unreachable = (what: string, embedded: boolean, err: unknown) => {
    const message = `cannot reach ${what} (${describe(err)})`;
    if (embedded) report.warnings.push(`${message}; uploads fail until it is up`);
    else report.problems.push(message);
  };

  let bucketOk = false;
  try {
    await s3.send(new HeadBucketCommand({ Bucket: bucket }), {
      abortSignal: AbortSignal.timeout(CHECK_TIMEOUT_MS),
    });
    bucketOk = true;
  } catch (err) {
    const status = statusOf(err);
    if (status === 404) {
      report.problems.push(
        `bucket "${bucket}" does not exist at ${s3Where}: run \`darkroom setup\` (on AWS the CDK stack in packages/infra creates it) or set DARKROOM_S3_BUCKET`,
      );
    } else if (status === 403) {
      report.problems.push(
        `access to bucket "${bucket}" is denied: the credentials need s3:ListBucket on it (HeadBucket), and the role's object permissions`,
      );
    } else if (status === 301 || status === 400) {
      report.problems.push(
        `bucket "${bucket}" is not in region ${config.s3.region}: set DARKROOM_S3_REGION to the bucket's region`,
      );
    } else unreachable(s3Where, config.s3.endpoint === undefined, err);
  }

  const queueReport = await queue.check();
  report.problems.push(...queueReport.problems);
  report.warnings.push(...queueReport.warnings);
  // The SQS queue's ARN is what an S3 QueueConfiguration names; a broker queue is reached by a topic.
  const queueArn = queue instanceof SqsUploadsQueue ? queue.arn : undefined;
  const queueOk =
    queueReport.problems.length === 0 && (queueArn !== undefined || !(queue instanceof SqsUploadsQueue));

  // Storage that can only post webhooks relays its events through POST /v1/hooks/s3 instead.
  if (bucketOk && queueOk && config.s3WebhookSecret === undefined) {
    try {
      const notification = await s3.send(new GetBucketNotificationConfigurationCommand({ Bucket: bucket }), {
        abortSignal: AbortSignal.timeout(CHECK_TIMEOUT_MS),
      });
      const forUploads = (c: {
        Events?: string[];
        Filter?: { Key?: { FilterRules?: { Name?: string; Value?: string }[] } };
      }) =>
        (c.Events ?? []).some((e) => e.startsWith('s3:ObjectCreated:')) &&
        (c.Filter?.Key?.FilterRules ?? []).every(
          (r) => r.Name?.toLowerCase() !== 'prefix' || UPLOADS_PREFIX.startsWith(r.Value ?? ''),
        );
      const toQueue = [
        ...(notification.QueueConfigurations ?? []).filter(
          (q) => forUploads(q) && (queueArn === undefined || q.QueueArn === queueArn),
        ),
        // Ceph RGW: a topic that pushes into the broker (`darkroom setup` points it at the exchange).
        ...(queueArn === undefined ? (notification.TopicConfigurations ?? []).filter(forUploads) : []),
      ];
      if (toQueue.length === 0) {
        report.warnings.push(
          `bucket "${bucket}" sends no s3:ObjectCreated notifications for uploads/ to ${queueArn ?? queue.description}: uploads are processed only when clients call POST /v1/uploads/{id}/complete, or by the reconciliation sweep. Run \`darkroom setup\` (on AWS the CDK stack configures it), or set DARKROOM_S3_WEBHOOK_SECRET and point the storage's webhook at POST /v1/hooks/s3`,
        );
      }
    } catch (err) {
      report.warnings.push(
        `cannot read bucket "${bucket}"'s notification configuration (${describe(err)}): grant s3:GetBucketNotification to check it`,
      );
    }
  }
  return report;
}

/** Runs the checks, logs the warnings and throws PreflightError when the role cannot work. */
export async function preflightOrThrow(
  config: Config,
  s3: S3Client,
  queue: UploadsQueue,
  log: Logger,
): Promise<void> {
  const { problems, warnings } = await preflight(config, s3, queue);
  for (const warning of warnings) log.warn(warning);
  if (problems.length > 0) throw new PreflightError(problems);
}
