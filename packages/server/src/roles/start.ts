import type { Logger } from 'pino';
import { devTokenRouteEnabled } from '../api/web-app.ts';
import type { Config } from '../config.ts';
import { createSqsNotificationSender } from '../queue/notification-senders.ts';
import { resolveSecrets } from '../secrets/development.ts';
import { runApiRole } from './api.ts';
import { runS3Role } from './s3.ts';
import { runSqsRole } from './sqs.ts';
import { runWorkerRole } from './worker.ts';

/** Everything in one process: embedded SQS and S3 (bucket, CORS, notifications set up), the API and a worker. */
export async function runStart(configured: Config, log: Logger) {
  const config = await resolveSecrets(configured, 'start');
  // A part that cannot start (its port taken meanwhile) stops the ones already running, newest first.
  const started: { close(graceMs?: number): Promise<void> }[] = [];
  const part = async <T extends { close(graceMs?: number): Promise<void> }>(run: Promise<T>): Promise<T> => {
    try {
      const running = await run;
      started.unshift(running);
      return running;
    } catch (err) {
      for (const p of started) await p.close(0).catch(() => {});
      throw err;
    }
  };
  const sqs = await part(runSqsRole(config, log));
  // Same process: events go straight into the queue store instead of over loopback HTTP.
  const s3 = await part(runS3Role(config, log, createSqsNotificationSender(sqs.store)));
  const worker = await part(runWorkerRole(config, log));
  const api = await part(
    runApiRole(config, log, {
      extraRegistries: [worker.metrics.registry],
      // The web app's development sign-in exists only in the one-process development mode.
      devTokenRoute: devTokenRouteEnabled(config),
    }),
  );
  // Closed in this order: stop taking requests and jobs first, then storage, then the queue it notifies.
  return {
    parts: [api, worker, s3, sqs],
    urls: { api: api.url, s3: s3.url, sqs: sqs.url },
    bucket: config.s3.bucket,
    worker,
    /** The configuration the parts run with (secrets resolved). */
    config,
  };
}
