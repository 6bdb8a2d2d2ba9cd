import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { TEST_KEY } from '@darkroom/s3-server/test-support';
import pino, { type Logger } from 'pino';
import { mintToken } from '../../src/api/auth/jwt.ts';
import { type Config, loadConfig } from '../../src/config.ts';
import { runStart } from '../../src/roles/start.ts';
import type { Sweeper } from '../../src/worker/sweeper.ts';
import { JWT_SECRET } from './api.ts';
import { freePort } from './process.ts';

export { TESTDATA } from '@darkroom/testdata';

export interface TestStack {
  config: Config;
  sweeper: Sweeper;
  api: string;
  s3: string;
  sqs: string;
  call(
    method: string,
    p: string,
    opts?: { as?: string; body?: unknown },
  ): Promise<{ status: number; json: Record<string, unknown> }>;
  /** Creates an intent for `file`, PUTs it through the presigned URL, returns the image id. */
  upload(as: string, file: string, contentType: string): Promise<string>;
  /** Polls the image until it leaves pending/uploaded/processing. */
  waitSettled(as: string, id: string, timeoutMs?: number): Promise<Record<string, unknown>>;
  stop(): Promise<void>;
}

/**
 * `darkroom start` in-process (embedded SQS, S3, API and a worker) on free ports over a temp dir.
 * `opts.log` replaces the (silent unless DARKROOM_TEST_LOG) logger, to read what the stack logs.
 */
export async function startTestStack(
  env: Record<string, string> = {},
  opts: { log?: Logger } = {},
): Promise<TestStack> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'darkroom-stack-'));
  const config = loadConfig({
    DARKROOM_PORT: String(await freePort()),
    DARKROOM_S3_PORT: String(await freePort()),
    DARKROOM_SQS_PORT: String(await freePort()),
    DARKROOM_DATA_DIR: dataDir,
    DARKROOM_JWT_SECRET: JWT_SECRET,
    DARKROOM_S3_ACCESS_KEY_ID: TEST_KEY.accessKeyId,
    DARKROOM_S3_SECRET_ACCESS_KEY: TEST_KEY.secretAccessKey,
    DARKROOM_LOG_LEVEL: process.env.DARKROOM_TEST_LOG ?? 'silent',
    DARKROOM_WORKER_CONCURRENCY: '2',
    ...env,
  });
  const started = await runStart(config, opts.log ?? pino({ level: config.logLevel }));
  const tokens = new Map<string, string>();
  const call: TestStack['call'] = async (method, p, opts = {}) => {
    const headers: Record<string, string> = {};
    if (opts.as) {
      if (!tokens.has(opts.as))
        tokens.set(opts.as, await mintToken(JWT_SECRET, { sub: opts.as, ttlSeconds: 3600 }));
      headers.authorization = `Bearer ${tokens.get(opts.as)}`;
    }
    if (opts.body !== undefined) headers['content-type'] = 'application/json';
    const res = await fetch(`${started.urls.api}${p}`, {
      method,
      headers,
      ...(opts.body !== undefined ? { body: JSON.stringify(opts.body) } : {}),
    });
    const text = await res.text();
    return { status: res.status, json: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
  };
  return {
    config,
    sweeper: started.worker.sweeper,
    api: started.urls.api,
    s3: started.urls.s3,
    sqs: started.urls.sqs,
    call,
    async upload(as, file, contentType) {
      const bytes = fs.readFileSync(file);
      const intent = await call('POST', '/v1/uploads', {
        as,
        body: { filename: path.basename(file), contentType, size: bytes.length },
      });
      if (intent.status !== 201) throw new Error(`intent failed: ${JSON.stringify(intent.json)}`);
      const { image, upload } = intent.json as {
        image: { id: string };
        upload: { url: string; headers: Record<string, string> };
      };
      const put = await fetch(upload.url, {
        method: 'PUT',
        body: new Uint8Array(bytes),
        headers: upload.headers,
      });
      if (put.status !== 200) throw new Error(`PUT failed: ${put.status} ${await put.text()}`);
      return image.id;
    },
    async waitSettled(as, id, timeoutMs = 60_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const { json } = await call('GET', `/v1/images/${id}`, { as });
        if (!['pending', 'uploaded', 'processing'].includes(String(json.status))) return json;
        if (Date.now() > deadline)
          throw new Error(`image ${id} still ${String(json.status)} after ${timeoutMs} ms`);
        await new Promise((r) => setTimeout(r, 100));
      }
    },
    async stop() {
      for (const part of started.parts) await part.close(1000);
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
