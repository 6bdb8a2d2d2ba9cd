import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { buildApi } from '../api/app.ts';
import { createTokenVerifier } from '../api/auth/jwt.ts';
import { EventHub } from '../api/event-hub.ts';
import { createApiMetrics } from '../api/metrics.ts';
import type { App } from '../api/types.ts';
import { type Config, localEndpointHost } from '../config.ts';
import { openDatabase, openSyncReader } from '../db/connect.ts';
import { listenForStatusEvents } from '../db/event-listener.ts';
import { ImageRepository } from '../db/images.ts';
import { resolveSigningKeys } from '../delivery/dev-keys.ts';
import { createCloudFrontInvalidator } from '../delivery/invalidation.ts';
import { SignedUrls } from '../delivery/signed-urls.ts';
import { deliveryBase } from '../domain/uploads.ts';
import { configureImagingSlots } from '../pipeline/index.ts';
import { createProcessingEnqueuer, openUploadsQueue } from '../queue/open.ts';
import { resolveSecrets } from '../secrets/development.ts';
import { StorageGateway } from '../storage/gateway.ts';
import { createS3Clients } from '../storage/s3-client.ts';
import { preflightOrThrow } from './preflight.ts';

/** A running API: its URL and how to stop it (in-flight requests finish, then the pools close). */
export interface RunningApi {
  url: string;
  app: App;
  close(graceMs?: number): Promise<void>;
}

/** Starts the HTTP API on DARKROOM_PORT against the configured database and storage. */
export async function runApiRole(
  configured: Config,
  log: Logger,
  opts: { extraRegistries?: readonly Registry[]; devTokenRoute?: boolean } = {},
): Promise<RunningApi> {
  const config = await resolveSecrets(configured, 'api');
  // First renders run libvips in this process: leave threads of libuv's pool for file I/O.
  configureImagingSlots(config.threadPoolSize);
  // Keys first: a bad key file stops start-up before any pool is opened.
  const signedUrls = new SignedUrls(
    await resolveSigningKeys(config, log),
    deliveryBase(config),
    config.delivery.signedUrlTtlSeconds,
  );
  const { client, presigner } = createS3Clients(config);
  const queue = openUploadsQueue(config, log, 'api');
  await preflightOrThrow(config, client, queue, log).catch(async (err: unknown) => {
    for (const c of [client, presigner]) c.destroy();
    await queue.close();
    throw err;
  });
  const { db, dialect } = await openDatabase(config.databaseUrl);
  const metrics = createApiMetrics(() => queue.depth());
  // Delivery's lean path reads the image's record without waiting (SQLite only).
  const reader = openSyncReader(config.databaseUrl);
  const images = new ImageRepository(db, dialect, reader ? { reader } : {});
  const distributionId = config.delivery.distributionId;
  const cdn = distributionId
    ? createCloudFrontInvalidator(distributionId, log.child({ component: 'cloudfront' }))
    : undefined;
  const hubLog = log.child({ component: 'events' });
  const hub = new EventHub(images, hubLog, {
    pollMs: config.eventPollMs,
    ...(dialect === 'postgres'
      ? {
          listen: (onWake, onChange) => listenForStatusEvents(config.databaseUrl, hubLog, onWake, onChange),
        }
      : {}),
  });
  await hub.start();
  const app = await buildApi({
    config,
    images,
    hub,
    storage: new StorageGateway(client, presigner, config.s3.bucket, {
      log: log.child({ component: 'storage' }),
    }),
    signedUrls,
    ...(cdn ? { cdn } : {}),
    verifier: createTokenVerifier(config.jwt),
    metrics,
    extraRegistries: opts.extraRegistries ?? [],
    onIntent: (method, outcome) => metrics.uploads.inc({ method, outcome }),
    enqueueProcessing: createProcessingEnqueuer(queue, config),
    forwardS3Event: (body) => queue.publish(body),
    devTokenRoute: opts.devTokenRoute ?? false,
    log: log.child({ component: 'api' }),
  });
  const close = async (graceMs = 10_000) => {
    // Event streams never end by themselves; end them so shutdown only waits for real requests.
    await hub.stop();
    const timer = setTimeout(() => app.server.closeAllConnections(), graceMs);
    await app.close();
    clearTimeout(timer);
    // Deletes answered before shutdown still reach the CDN.
    await cdn?.close(graceMs);
    client.destroy();
    presigner.destroy();
    await queue.close();
    await db.destroy();
    reader?.close();
  };
  await app.listen({ host: config.host, port: config.port }).catch(async (err: unknown) => {
    // The port is taken (or refused): release what was opened, then say so.
    await close(0).catch(() => {});
    throw err;
  });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  const url = `http://${localEndpointHost(config)}:${port}`;
  log.info({ url, database: dialect }, 'API listening');
  return {
    url,
    app,
    close,
  };
}
