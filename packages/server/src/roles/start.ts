import { S3Client } from '@aws-sdk/client-s3';
import type { Logger } from 'pino';
import type { Config } from '../config.ts';
import { setUpEmbeddedBucket } from '../storage/bucket-setup.ts';
import { runApiRole } from './api.ts';
import { runS3Role } from './s3.ts';

/** Everything in one process: the embedded S3 server, its bucket set up, and the API. */
export async function runStart(config: Config, log: Logger) {
  const s3 = await runS3Role(config, log);
  const key = config.s3.accessKeys[0]!;
  // Darkroom configures its own embedded server through the SDK like any client: one code path.
  const client = new S3Client({
    endpoint: s3.url,
    region: config.s3.region,
    forcePathStyle: true,
    credentials: { accessKeyId: key.accessKeyId, secretAccessKey: key.secretAccessKey },
  });
  try {
    await setUpEmbeddedBucket(client, config);
  } finally {
    client.destroy();
  }
  const api = await runApiRole(config, log);
  return { parts: [api, s3], urls: { api: api.url, s3: s3.url }, bucket: config.s3.bucket };
}
