import { createHash } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import {
  CreateBucketCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListBucketsCommand,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { s3ErrorOf, TEST_KEY } from '@darkroom/s3-server/test-support';
import { afterEach, describe, expect, it } from 'vitest';
import { freePort, type RunningProcess, runDarkroom } from './helpers/process.ts';

const MiB = 1024 * 1024;
const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function tempDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'darkroom-cli-'));
  cleanups.push(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

async function startS3(
  dataDir: string,
  port?: number,
): Promise<{ proc: RunningProcess; client: S3Client; port: number }> {
  const p = port ?? (await freePort());
  const proc = runDarkroom(['s3'], {
    DARKROOM_S3_PORT: String(p),
    DARKROOM_DATA_DIR: dataDir,
    DARKROOM_S3_ACCESS_KEY_ID: TEST_KEY.accessKeyId,
    DARKROOM_S3_SECRET_ACCESS_KEY: TEST_KEY.secretAccessKey,
  });
  cleanups.push(() => {
    if (proc.child.exitCode === null) proc.child.kill('SIGKILL');
    return proc.exited;
  });
  await proc.waitForOutput('Embedded S3 listening');
  const client = new S3Client({
    endpoint: `http://127.0.0.1:${p}`,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: TEST_KEY,
  });
  cleanups.push(() => client.destroy());
  return { proc, client, port: p };
}

/** Listens on a free loopback port until `close()`, as another program holding it would. */
async function holdPort(): Promise<{ port: number; close(): Promise<void> }> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const close = () => new Promise<void>((resolve) => server.close(() => resolve()));
  cleanups.push(close);
  return { port: (server.address() as net.AddressInfo).port, close };
}

/** A body of `total` bytes produced in 1 MiB chunks, with an optional pause per chunk. */
function slowBody(total: number, delayMs = 0): Readable {
  const chunk = Buffer.alloc(MiB, 7);
  let sent = 0;
  return new Readable({
    read() {
      if (sent >= total) return void this.push(null);
      const n = Math.min(MiB, total - sent);
      sent += n;
      setTimeout(() => this.push(n === MiB ? chunk : chunk.subarray(0, n)), delayMs);
    },
  });
}

describe('darkroom CLI', () => {
  it('explains itself with --help for each command', async () => {
    const top = runDarkroom(['--help'], {});
    expect(await top.exited).toBe(0);
    expect(top.output()).toMatch(/start\s+Run everything/);
    expect(top.output()).toContain('s3');
    const s3 = runDarkroom(['s3', '--help'], {});
    expect(await s3.exited).toBe(0);
    expect(s3.output()).toContain('DARKROOM_S3_PORT');
    const start = runDarkroom(['start', '--help'], {});
    expect(await start.exited).toBe(0);
    for (const part of ['worker', 'SQS', 'DARKROOM_PORT', 'DARKROOM_S3_PORT', 'DARKROOM_SQS_PORT'])
      expect(start.output()).toContain(part);
  });

  it('a second instance on busy ports names each taken port and its variable, exits 1 without a stack', async () => {
    // Three ports taken by something else (as by a first `darkroom start`).
    const busy = await Promise.all([0, 1, 2].map(() => holdPort()));
    const [api, s3, sqs] = busy.map((b) => b.port) as [number, number, number];
    const proc = runDarkroom(['start'], {
      DARKROOM_PORT: String(api),
      DARKROOM_S3_PORT: String(s3),
      DARKROOM_SQS_PORT: String(sqs),
      DARKROOM_DATA_DIR: tempDir(),
    });
    expect(await proc.exited).toBe(1);
    const out = proc.output();
    expect(out).toContain(`127.0.0.1:${api} (DARKROOM_PORT, the API and web app) is already in use`);
    expect(out).toContain(`127.0.0.1:${s3} (DARKROOM_S3_PORT, the embedded S3 server) is already in use`);
    expect(out).toContain(`127.0.0.1:${sqs} (DARKROOM_SQS_PORT, the embedded SQS server) is already in use`);
    // A command line with free ports (and a data dir of its own) to run a second instance.
    expect(out).toMatch(
      /DARKROOM_PORT=\d+ DARKROOM_S3_PORT=\d+ DARKROOM_SQS_PORT=\d+ DARKROOM_DATA_DIR=\S+ npm start/,
    );
    expect(out).not.toMatch(/^\s+at /m);
    expect(out).not.toContain('EADDRINUSE');

    // Each role alone says the same of its own port.
    for (const [role, variable, port, env] of [
      ['api', 'DARKROOM_PORT', api, { DARKROOM_PORT: String(api) }],
      ['s3', 'DARKROOM_S3_PORT', s3, { DARKROOM_S3_PORT: String(s3) }],
      ['sqs', 'DARKROOM_SQS_PORT', sqs, { DARKROOM_SQS_PORT: String(sqs) }],
      ['worker', 'DARKROOM_WORKER_METRICS_PORT', api, { DARKROOM_WORKER_METRICS_PORT: String(api) }],
    ] as const) {
      const alone = runDarkroom([role], { ...env, DARKROOM_DATA_DIR: tempDir() });
      expect(await alone.exited, alone.output()).toBe(1);
      expect(alone.output()).toContain(`127.0.0.1:${port} (${variable},`);
      expect(alone.output()).toMatch(new RegExp(`${variable}=\\d+ npx darkroom ${role}`));
      expect(alone.output()).not.toMatch(/^\s+at /m);
    }
    for (const b of busy) await b.close();
  });

  it('stops at start-up with a message naming each bad variable, and warns about a misspelt one', async () => {
    const proc = runDarkroom(['s3'], {
      DARKROOM_S3_PORT: 'ninety',
      DARKROOM_S3_FORCE_PATH_STYLE: 'maybe',
      DARKROOM_S3_BUKET: 'photos',
    });
    expect(await proc.exited).toBe(2);
    expect(proc.output()).toContain('DARKROOM_S3_PORT');
    expect(proc.output()).toContain('"ninety"');
    expect(proc.output()).toContain('DARKROOM_S3_FORCE_PATH_STYLE');
    expect(proc.output()).toContain(
      'darkroom: warning: DARKROOM_S3_BUKET is not a variable Darkroom reads; it is ignored (did you mean DARKROOM_S3_BUCKET?)',
    );
  });

  it("sizes libuv's thread pool before anything uses it: 4 for file I/O plus 2 per core for image work, unless UV_THREADPOOL_SIZE is set", async () => {
    // The pool's threads, counted as the process's threads beyond those of a run with a pool of 4 (the
    // other threads, V8's, are the same in every run). Issue 18.5: image work is kept off some of them.
    const threads = async (env: Record<string, string>) => {
      const port = await freePort();
      const proc = runDarkroom(['s3'], {
        DARKROOM_S3_PORT: String(port),
        DARKROOM_DATA_DIR: tempDir(),
        DARKROOM_S3_ACCESS_KEY_ID: TEST_KEY.accessKeyId,
        DARKROOM_S3_SECRET_ACCESS_KEY: TEST_KEY.secretAccessKey,
        ...env,
      });
      cleanups.push(() => {
        if (proc.child.exitCode === null) proc.child.kill('SIGKILL');
        return proc.exited;
      });
      await proc.waitForOutput('Embedded S3 listening', 60_000);
      const client = new S3Client({
        endpoint: `http://127.0.0.1:${port}`,
        region: 'us-east-1',
        forcePathStyle: true,
        credentials: TEST_KEY,
      });
      // File I/O: the pool is running by now, whenever it started.
      await client.send(new CreateBucketCommand({ Bucket: 'threads' }));
      await client.send(new PutObjectCommand({ Bucket: 'threads', Key: 'k', Body: 'x' }));
      client.destroy();
      const status = fs.readFileSync(`/proc/${proc.child.pid}/status`, 'utf8');
      proc.child.kill('SIGTERM');
      await proc.exited;
      return Number(/^Threads:\s+(\d+)/m.exec(status)![1]);
    };
    const four = await threads({ UV_THREADPOOL_SIZE: '4' });
    expect((await threads({})) - four).toBe(2 * os.availableParallelism());
    expect((await threads({ UV_THREADPOOL_SIZE: '7' })) - four).toBe(3);
  }, 200_000);

  it('`darkroom start` serves S3 with the Darkroom bucket and exits 0 on SIGINT', async () => {
    const dataDir = tempDir();
    const port = await freePort();
    const proc = runDarkroom(['start'], {
      DARKROOM_PORT: String(await freePort()),
      DARKROOM_SQS_PORT: String(await freePort()),
      DARKROOM_S3_PORT: String(port),
      DARKROOM_DATA_DIR: dataDir,
      DARKROOM_S3_BUCKET: 'photos',
      DARKROOM_LOG_FORMAT: 'pretty',
    });
    cleanups.push(() => (proc.child.exitCode === null ? proc.child.kill('SIGKILL') : undefined));
    await proc.waitForOutput('Darkroom is running');
    expect(proc.output()).toContain(`http://127.0.0.1:${port}`);
    expect(proc.output()).toContain('development default');
    const client = new S3Client({
      endpoint: `http://127.0.0.1:${port}`,
      region: 'us-east-1',
      forcePathStyle: true,
      credentials: { accessKeyId: 'darkroom-dev', secretAccessKey: 'darkroom-dev-secret-change-me' },
    });
    const buckets = await client.send(new ListBucketsCommand({}));
    client.destroy();
    expect(buckets.Buckets?.map((b) => b.Name)).toContain('photos');
    // The banner's values in one column; no AWS SDK notice about Node versions.
    const banner = proc.output();
    const column = (label: string) => new RegExp(`^  ${label}:( +)\\S`, 'm').exec(banner)?.[0].length;
    expect(column('Web app')).toBeDefined();
    for (const label of ['API', 'S3 endpoint', 'SQS endpoint', 'Worker'])
      expect(column(label)).toBe(column('Web app'));
    expect(banner).not.toContain('NodeVersionSupportWarning');
    // Readable logs (as in a terminal, DARKROOM_LOG_FORMAT=pretty): API requests logged, static files not.
    const api = /Web app: +(\S+)\//.exec(banner)![1]!;
    const page = await fetch(`${api}/`);
    const asset = /\/assets\/[^"]+\.js/.exec(await page.text())![0];
    expect((await fetch(`${api}${asset}`)).status).toBe(200);
    expect((await fetch(`${api}/healthz`)).status).toBe(200);
    await proc.waitForOutput(/\[start api\] request completed/);
    const logs = proc.output().slice(banner.length);
    // One short line each: the request's gist in the message, no JSON block below it.
    expect(logs).toMatch(/\d\d:\d\d:\d\d\] INFO: \[start api\] incoming request GET \/healthz\n\[/);
    expect(logs).toMatch(/\[start api\] request completed 200 in \d+ ms\n/);
    expect(logs).not.toContain(asset);
    expect(logs).not.toMatch(/request GET \/\n/);
    expect(logs).not.toMatch(/^\{"level"/m);
    proc.child.kill('SIGINT');
    expect(await proc.exited).toBe(0);
  });

  it('logs JSON lines when stdout is not a terminal', async () => {
    const proc = runDarkroom(['sqs'], {
      DARKROOM_SQS_PORT: String(await freePort()),
      DARKROOM_DATA_DIR: tempDir(),
    });
    cleanups.push(() => (proc.child.exitCode === null ? proc.child.kill('SIGKILL') : undefined));
    await proc.waitForOutput('Embedded SQS listening');
    const line = proc
      .output()
      .split('\n')
      .find((l) => l.includes('embedded SQS listening'))!;
    expect(JSON.parse(line)).toMatchObject({ level: 30, role: 'sqs', msg: 'embedded SQS listening' });
    proc.child.kill('SIGINT');
    expect(await proc.exited).toBe(0);
  });

  it('finishes an in-flight upload on SIGTERM, then exits 0', async () => {
    const { proc, client } = await startS3(tempDir());
    await client.send(new CreateBucketCommand({ Bucket: 'graceful' }));
    const upload = client.send(
      new PutObjectCommand({
        Bucket: 'graceful',
        Key: 'slow',
        Body: slowBody(8 * MiB, 100),
        ContentLength: 8 * MiB,
      }),
    );
    await new Promise((r) => setTimeout(r, 300));
    proc.child.kill('SIGTERM');
    await proc.waitForOutput('shutting down');
    const res = await upload;
    expect(res.ETag).toMatch(/^"[0-9a-f]{32}"$/);
    expect(await proc.exited).toBe(0);
  });
});

describe('durability of the embedded S3 server process', () => {
  it('never shows a partial object after SIGKILL mid-upload, and cleans up temp files on restart', async () => {
    const dataDir = tempDir();
    const first = await startS3(dataDir);
    await first.client.send(new CreateBucketCommand({ Bucket: 'crash' }));
    const upload = first.client
      .send(
        new PutObjectCommand({
          Bucket: 'crash',
          Key: 'victim',
          Body: slowBody(32 * MiB, 20),
          ContentLength: 32 * MiB,
        }),
      )
      .catch((err: unknown) => err);
    // Wait until bytes are landing in the temp folder, then kill the process without warning.
    const tmp = path.join(dataDir, 's3', 'tmp');
    const deadline = Date.now() + 10_000;
    while (
      !fs.readdirSync(tmp).some((f) => fs.statSync(path.join(tmp, f)).size > MiB) &&
      Date.now() < deadline
    ) {
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(fs.readdirSync(tmp).length).toBeGreaterThan(0);
    first.proc.child.kill('SIGKILL');
    await first.proc.exited;
    expect(await upload).toBeInstanceOf(Error);

    const second = await startS3(dataDir, first.port);
    expect(fs.readdirSync(tmp)).toEqual([]);
    expect(
      (await s3ErrorOf(() => second.client.send(new HeadObjectCommand({ Bucket: 'crash', Key: 'victim' }))))
        .status,
    ).toBe(404);
    // The client's retry succeeds.
    const body = Buffer.alloc(3 * MiB, 1);
    await second.client.send(new PutObjectCommand({ Bucket: 'crash', Key: 'victim', Body: body }));
    const head = await second.client.send(new HeadObjectCommand({ Bucket: 'crash', Key: 'victim' }));
    expect(head.ContentLength).toBe(body.length);
  });

  it('streams a 1 GiB PUT and GET with flat memory', async () => {
    const { proc, client } = await startS3(tempDir());
    await client.send(new CreateBucketCommand({ Bucket: 'big' }));
    const size = 1024 * MiB;
    const baseline = proc.peakRss();
    await client.send(
      new PutObjectCommand({ Bucket: 'big', Key: 'gig', Body: slowBody(size), ContentLength: size }),
    );
    const got = await client.send(new GetObjectCommand({ Bucket: 'big', Key: 'gig' }));
    const md5 = createHash('md5');
    let received = 0;
    for await (const chunk of got.Body as AsyncIterable<Buffer>) {
      received += chunk.length;
      md5.update(chunk);
    }
    expect(received).toBe(size);
    const expected = createHash('md5');
    const chunk = Buffer.alloc(MiB, 7);
    for (let i = 0; i < 1024; i++) expected.update(chunk);
    expect(md5.digest('hex')).toBe(expected.digest('hex'));
    const peak = proc.peakRss();
    // Buffering the object would add 1 GiB; streaming keeps the server within a small margin of idle.
    expect(peak - baseline).toBeLessThan(128 * MiB);
  }, 180_000);
});
