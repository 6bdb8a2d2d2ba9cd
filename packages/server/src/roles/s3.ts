import path from 'node:path';
import type { Logger } from 'pino';
import type { Config } from '../config.ts';
import { type EmbeddedS3Server, S3_MAX_OBJECT_BYTES, startS3Server } from '../storage/s3-server/server.ts';

/** Runs the embedded S3 server from the configuration (data under `{DATA_DIR}/s3`). */
export async function runS3Role(config: Config, log: Logger): Promise<EmbeddedS3Server> {
  const server = await startS3Server({
    host: config.host,
    port: config.s3.port,
    dataDir: path.join(config.dataDir, 's3'),
    region: config.s3.region,
    domain: config.s3.domain,
    accessKeys: config.s3.accessKeys,
    maxObjectBytes: S3_MAX_OBJECT_BYTES,
    log: log.child({ component: 's3' }),
  });
  log.info(
    { url: server.url, region: config.s3.region, dataDir: path.join(config.dataDir, 's3') },
    'embedded S3 listening',
  );
  return server;
}
