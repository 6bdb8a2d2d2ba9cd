import { randomUUID } from 'node:crypto';
import { CloudFrontClient, CreateInvalidationCommand } from '@aws-sdk/client-cloudfront';
import type { Logger } from 'pino';
import type { CdnInvalidator } from '../domain/uploads.ts';

/** CloudFront takes up to 3,000 individual paths in progress per distribution; one request stays well under. */
const MAX_PATHS_PER_REQUEST = 1000;
const FIRST_RETRY_MS = 1000;
const MAX_RETRY_MS = 60_000;

/**
 * Tells CloudFront about deleted images, batched: one CreateInvalidation in flight at a time, and every path
 * that arrives meanwhile goes into the next one, so a burst of deletes costs a few requests, not one each.
 * Exact paths rather than `/{prefix}/{id}/*` wildcards: CloudFront allows only 15 wildcard paths in progress,
 * which a busy gallery's deletes would exceed, against 3,000 exact ones. A failed request (throttling, too
 * many in progress) is retried with backoff; nothing is dropped while the process runs.
 */
export class CloudFrontInvalidator implements CdnInvalidator {
  private readonly pending = new Set<string>();
  private running: Promise<void> | undefined;
  private closed = false;

  constructor(
    private readonly client: CloudFrontClient,
    private readonly distributionId: string,
    private readonly log: Logger,
  ) {}

  /** Queues `paths` (each starting with `/`) for the next invalidation request. */
  invalidate(paths: readonly string[]): void {
    for (const p of paths) this.pending.add(p);
    this.running ??= this.drain().finally(() => {
      this.running = undefined;
    });
  }

  /** Sends what is queued, then stops (shutdown); gives up retrying after `graceMs`. */
  async close(graceMs = 10_000): Promise<void> {
    const timer = setTimeout(() => {
      this.closed = true;
    }, graceMs);
    await this.running;
    clearTimeout(timer);
    this.closed = true;
    this.client.destroy();
  }

  private async drain(): Promise<void> {
    let delay = FIRST_RETRY_MS;
    while (this.pending.size > 0 && !this.closed) {
      const batch = [...this.pending].slice(0, MAX_PATHS_PER_REQUEST);
      for (const p of batch) this.pending.delete(p);
      try {
        const res = await this.client.send(
          new CreateInvalidationCommand({
            DistributionId: this.distributionId,
            InvalidationBatch: {
              CallerReference: randomUUID(),
              Paths: { Quantity: batch.length, Items: batch },
            },
          }),
        );
        this.log.info(
          { invalidation: res.Invalidation?.Id, paths: batch.length },
          'CloudFront invalidation created',
        );
        delay = FIRST_RETRY_MS;
      } catch (err) {
        for (const p of batch) this.pending.add(p);
        this.log.warn(
          { err, paths: batch.length, retryInMs: delay },
          'CloudFront invalidation failed; retrying',
        );
        await new Promise((r) => setTimeout(r, delay));
        delay = Math.min(delay * 2, MAX_RETRY_MS);
      }
    }
    if (this.pending.size > 0) {
      this.log.error({ paths: [...this.pending] }, 'shutting down with CloudFront invalidations not sent');
    }
  }
}

/** The invalidator for `distributionId`; the SDK finds credentials and region as every AWS client does. */
export function createCloudFrontInvalidator(distributionId: string, log: Logger): CloudFrontInvalidator {
  // CloudFront's API is global, served from us-east-1.
  return new CloudFrontInvalidator(new CloudFrontClient({ region: 'us-east-1' }), distributionId, log);
}
