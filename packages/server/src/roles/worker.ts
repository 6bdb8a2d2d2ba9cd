import type { Logger } from 'pino';
import type { Config } from '../config.ts';
import { openDatabase } from '../db/connect.ts';
import { ImageRepository } from '../db/images.ts';
import { deliveryBase } from '../domain/uploads.ts';
import {
  configureImagingSlots,
  configureSharp,
  formatsForMimeTypes,
  parseVariants,
} from '../pipeline/index.ts';
import { createProcessingEnqueuer, openUploadsQueue } from '../queue/open.ts';
import type { QueueConsumer } from '../queue/port.ts';
import { resolveSecrets } from '../secrets/development.ts';
import { StorageGateway } from '../storage/gateway.ts';
import { createS3Clients } from '../storage/s3-client.ts';
import { WebhookDispatcher } from '../webhooks/dispatcher.ts';
import { createS3EventHandler } from '../worker/handler.ts';
import { createWorkerMetrics, type WorkerMetrics } from '../worker/metrics.ts';
import { Sweeper } from '../worker/sweeper.ts';
import { claimWorkDir } from '../worker/work-dir.ts';
import { preflightOrThrow } from './preflight.ts';

/** A running worker: stop() stops receiving and lets the images in hand finish. */
export interface RunningWorker {
  consumer: QueueConsumer;
  metrics: WorkerMetrics;
  sweeper: Sweeper;
  close(graceMs?: number): Promise<void>;
}

/** Long-polls the uploads queue and develops each uploaded original (DARKROOM_WORKER_CONCURRENCY at once). */
export async function runWorkerRole(configured: Config, log: Logger): Promise<RunningWorker> {
  const config = await resolveSecrets(configured, 'worker');
  // Validated before anything starts, so a bad DARKROOM_VARIANTS stops the process at once.
  let variants: ReturnType<typeof parseVariants>;
  try {
    variants = parseVariants(config.worker.variants);
  } catch (err) {
    throw new Error(`DARKROOM_VARIANTS: ${err instanceof Error ? err.message : String(err)}`);
  }
  const { client: s3, presigner } = createS3Clients(config);
  const queue = openUploadsQueue(config, log, 'worker');
  await preflightOrThrow(config, s3, queue, log).catch(async (err: unknown) => {
    for (const c of [s3, presigner]) c.destroy();
    await queue.close();
    throw err;
  });
  const { db, dialect } = await openDatabase(config.databaseUrl);
  const work = claimWorkDir(config.dataDir);
  const workRoot = work.dir;
  // One libvips thread per job: jobs run in parallel already, and this bounds memory per job.
  configureSharp({ concurrency: 1 });
  // Develops and (in `darkroom start`) renders share libuv's pool with file I/O: leave I/O threads.
  configureImagingSlots(config.threadPoolSize);
  const wlog = log.child({ component: 'worker' });
  const images = new ImageRepository(db, dialect);
  const storage = new StorageGateway(s3, presigner, config.s3.bucket, { log: wlog });
  // Does nothing unless DARKROOM_WEBHOOK_URL is set; every worker may run it (deliveries are claimed).
  const webhooks = new WebhookDispatcher({
    db,
    images,
    webhook: config.webhook,
    deliveryBaseUrl: deliveryBase(config),
    privatePath: config.delivery.privatePath,
    log: wlog.child({ component: 'webhooks' }),
  });
  const metrics = createWorkerMetrics();
  const handler = createS3EventHandler(
    {
      bucket: config.s3.bucket,
      images,
      storage,
      variants,
      limits: {
        maxPixels: config.worker.maxPixels,
        maxInputBytes: config.uploads.maxBytes,
        allowedFormats: formatsForMimeTypes(config.uploads.allowedTypes),
      },
      workRoot,
      maxReceiveCount: config.sqs.maxReceiveCount,
      log: wlog,
      onStage: (stage, seconds) => metrics.stageSeconds.observe({ stage }, seconds),
    },
    (outcome) => metrics.jobs.inc({ outcome }),
  );
  const consumer = queue.consume(handler, { concurrency: config.worker.concurrency });
  const sweeper = new Sweeper({
    images,
    storage,
    enqueue: createProcessingEnqueuer(queue, config),
    pendingTtlMs: config.worker.pendingTtlSeconds * 1000,
    graceMs: config.worker.notificationGraceSeconds * 1000,
    intervalMs: config.worker.sweepIntervalSeconds * 1000,
    log: wlog.child({ component: 'sweeper' }),
  });
  sweeper.start();
  await webhooks.start();
  wlog.info(
    {
      queue: queue.description,
      concurrency: config.worker.concurrency,
      variants: variants.map((v) => v.name),
    },
    'worker started',
  );
  return {
    consumer,
    metrics,
    sweeper,
    async close() {
      await sweeper.stop();
      await consumer.stop();
      await webhooks.stop();
      await queue.close();
      s3.destroy();
      presigner.destroy();
      await db.destroy();
      work.release();
    },
  };
}
