/**
 * @module Test support for the embedded SQS server, for its own tests and for every package whose tests need
 * a real SQS endpoint: a server on a random port over a temp dir, SDK clients, and error helpers.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CreateQueueCommand, SQSClient, type SQSClientConfig } from '@aws-sdk/client-sqs';
import { REGION, SECOND_KEY, TEST_KEY } from '@darkroom/aws-auth/test-support';
import pino from 'pino';
import { createSqsServer, type EmbeddedSqsServer } from '../src/index.ts';

export { REGION, SECOND_KEY, TEST_KEY };

export interface TestSqs {
  server: EmbeddedSqsServer;
  dataDir: string;
  endpoint: string;
  /** An SDK client at its defaults (MD5 validation on), pointed at the server. */
  client(overrides?: Partial<SQSClientConfig>): SQSClient;
  /** Creates a queue with a unique name (prefix + counter) and returns its URL. */
  queue(prefix: string, Attributes?: Record<string, string>): Promise<string>;
  stop(): Promise<void>;
}

let counter = 0;

/** Starts an embedded SQS server on a random port over a fresh temp data dir. */
export async function startTestSqs(opts: { dataDir?: string } = {}): Promise<TestSqs> {
  const dataDir = opts.dataDir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'darkroom-sqs-'));
  const server = await createSqsServer({
    host: '127.0.0.1',
    port: 0,
    dataDir,
    region: REGION,
    accessKeys: [TEST_KEY, SECOND_KEY],
    log: pino({ level: process.env.DARKROOM_TEST_LOG ?? 'silent' }),
  });
  const clients: SQSClient[] = [];
  const client = (overrides: Partial<SQSClientConfig> = {}) => {
    const c = new SQSClient({ endpoint: server.url, region: REGION, credentials: TEST_KEY, ...overrides });
    clients.push(c);
    return c;
  };
  const admin = client();
  return {
    server,
    dataDir,
    endpoint: server.url,
    client,
    async queue(prefix, Attributes) {
      const out = await admin.send(
        new CreateQueueCommand({ QueueName: `${prefix}-${++counter}`, Attributes }),
      );
      return out.QueueUrl!;
    },
    async stop() {
      for (const c of clients) c.destroy();
      await server.close(1000);
      if (!opts.dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export interface SqsFailure {
  name: string;
  status: number;
  message: string;
  /** The query-protocol code the SDK copies from x-amzn-query-error. */
  code: string | undefined;
}

/** Runs fn and returns the SQS error it threw, failing if it did not throw. */
export async function sqsErrorOf(fn: () => Promise<unknown>): Promise<SqsFailure> {
  try {
    await fn();
  } catch (err) {
    const e = err as {
      name: string;
      message: string;
      Code?: string;
      $metadata?: { httpStatusCode?: number };
    };
    return { name: e.name, status: e.$metadata?.httpStatusCode ?? 0, message: e.message, code: e.Code };
  }
  throw new Error('expected the SQS call to fail, but it succeeded');
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export function queueName(url: string): string {
  return url.slice(url.lastIndexOf('/') + 1);
}
