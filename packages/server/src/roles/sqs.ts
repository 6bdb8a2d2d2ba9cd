import path from 'node:path';
import { createSqsServer, type EmbeddedSqsServer, SQS_REQUEST_TIMEOUT_MS } from '@darkroom/sqs-server';
import type { Logger } from 'pino';
import type { Config } from '../config.ts';
import { createSqsClient, setUpEmbeddedQueues } from '../queue/sqs-client.ts';
import { resolveSecrets } from '../secrets/development.ts';

/** Runs the embedded SQS server (data under `{DATA_DIR}/sqs`) with the uploads queue and its DLQ. */
export async function runSqsRole(configured: Config, log: Logger): Promise<EmbeddedSqsServer> {
  const config = await resolveSecrets(configured, 'sqs');
  const dataDir = path.join(config.dataDir, 'sqs');
  const server = await createSqsServer({
    host: config.host,
    port: config.sqs.port,
    dataDir,
    region: config.s3.region,
    accessKeys: config.s3.accessKeys,
    log: log.child({ component: 'sqs' }),
    limits: { ...config.connections, requestTimeoutMs: SQS_REQUEST_TIMEOUT_MS },
  });
  // Through the SDK against our own server, as against Amazon SQS: one code path.
  const client = createSqsClient({
    ...config,
    sqs: { ...config.sqs, port: server.port, queueUrl: undefined },
    queue: { ...config.queue, kind: 'embedded', url: undefined },
  });
  try {
    await setUpEmbeddedQueues(client, config);
  } finally {
    client.destroy();
  }
  log.info({ url: server.url, dataDir }, 'embedded SQS listening');
  return server;
}
