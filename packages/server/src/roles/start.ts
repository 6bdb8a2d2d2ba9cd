import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import type { Logger } from 'pino';
import type { Config } from '../config.ts';
import { runS3Role } from './s3.ts';

/** Everything in one process. For now: the embedded S3 server and Darkroom's bucket in it. */
export async function runStart(config: Config, log: Logger) {
  const s3 = await runS3Role(config, log);
  const key = config.s3.accessKeys[0]!;
  // Darkroom talks to its own embedded server through the SDK like any client: one code path.
  const client = new S3Client({
    endpoint: s3.url,
    region: config.s3.region,
    forcePathStyle: true,
    credentials: { accessKeyId: key.accessKeyId, secretAccessKey: key.secretAccessKey },
  });
  try {
    await client.send(new CreateBucketCommand({ Bucket: config.s3.bucket }));
  } finally {
    client.destroy();
  }
  return { s3, urls: { s3: s3.url }, bucket: config.s3.bucket };
}
