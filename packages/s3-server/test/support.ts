/**
 * @module Test support for the embedded S3 server, for its own tests and for every package whose tests need
 * a real S3 endpoint: a server on a random port over a temp dir, SDK clients, and error helpers.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { S3Client, type S3ClientConfig } from '@aws-sdk/client-s3';
import { REGION, SECOND_KEY, TEST_KEY } from '@darkroom/aws-auth/test-support';
import { xorshift } from '@darkroom/testdata';
import pino from 'pino';
import {
  createS3Server,
  type EmbeddedS3Server,
  type NotificationSender,
  S3_MAX_OBJECT_BYTES,
} from '../src/index.ts';

export { REGION, SECOND_KEY, TEST_KEY };

/** A message the recording sender saw. */
export interface SentMessage {
  queueArn: string;
  body: Record<string, unknown>;
}

/** A notification sender that keeps what it is given, for assertions. */
export class RecordingSender implements NotificationSender {
  readonly messages: SentMessage[] = [];
  private waiters: (() => void)[] = [];
  async send(queueArn: string, body: string): Promise<void> {
    this.messages.push({ queueArn, body: JSON.parse(body) as Record<string, unknown> });
    for (const w of this.waiters.splice(0)) w();
  }
  /** Resolves once at least `count` messages have arrived (or rejects after 5 s). */
  async waitFor(count: number): Promise<SentMessage[]> {
    const deadline = Date.now() + 5000;
    while (this.messages.length < count) {
      if (Date.now() > deadline)
        throw new Error(`expected ${count} notifications, got ${this.messages.length}`);
      await new Promise<void>((resolve) => {
        this.waiters.push(resolve);
        setTimeout(resolve, 100);
      });
    }
    return this.messages;
  }
}

export interface TestS3 {
  server: EmbeddedS3Server;
  dataDir: string;
  endpoint: string;
  sender: RecordingSender;
  /** An SDK client at its current defaults (checksums, aws-chunked), path-style. */
  client(overrides?: Partial<S3ClientConfig>): S3Client;
  /** Stops the server and removes its data. */
  stop(): Promise<void>;
}

/** Starts an embedded S3 server on a random port over a fresh temp data dir. */
export async function startTestS3(
  opts: { dataDir?: string; sender?: NotificationSender } = {},
): Promise<TestS3> {
  const dataDir = opts.dataDir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'darkroom-s3-'));
  const sender = new RecordingSender();
  const server = await createS3Server({
    host: '127.0.0.1',
    port: 0,
    dataDir,
    region: REGION,
    domain: 'localhost',
    accessKeys: [TEST_KEY, SECOND_KEY],
    maxObjectBytes: S3_MAX_OBJECT_BYTES,
    log: pino({ level: process.env.DARKROOM_TEST_LOG ?? 'silent' }),
    sender: opts.sender ?? sender,
  });
  const clients: S3Client[] = [];
  return {
    server,
    dataDir,
    endpoint: server.url,
    sender,
    client(overrides = {}) {
      const c = new S3Client({
        endpoint: server.url,
        region: REGION,
        forcePathStyle: true,
        credentials: TEST_KEY,
        ...overrides,
      });
      clients.push(c);
      return c;
    },
    async stop() {
      for (const c of clients) c.destroy();
      await server.close(1000);
      if (!opts.dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** Reads an SDK body (or any web/node stream) to a Buffer. */
export async function bodyBytes(body: unknown): Promise<Buffer> {
  const b = body as { transformToByteArray(): Promise<Uint8Array> };
  return Buffer.from(await b.transformToByteArray());
}

/** Deterministic pseudo-random bytes, so failures reproduce. */
export function bytes(size: number, seed = 1): Buffer {
  return xorshift(seed).bytes(size);
}

/** Runs fn and returns the S3 error it threw (its `name` is the S3 code), failing if it did not throw. */
export async function s3ErrorOf(
  fn: () => Promise<unknown>,
): Promise<{ name: string; status: number; message: string }> {
  try {
    await fn();
  } catch (err) {
    const e = err as { name: string; message: string; $metadata?: { httpStatusCode?: number } };
    return { name: e.name, status: e.$metadata?.httpStatusCode ?? 0, message: e.message };
  }
  throw new Error('expected the S3 call to fail, but it succeeded');
}
