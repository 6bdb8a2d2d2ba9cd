import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  CreateQueueCommand,
  DeleteMessageCommand,
  type Message,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  SendMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { afterEach, describe, expect, it } from 'vitest';
import { REGION, SECOND_KEY, TEST_KEY } from './support.ts';

const CHILD = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures', 'sqs-child.ts');
const PACKAGE_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

interface Child {
  proc: ChildProcess;
  url: string;
  exited: Promise<unknown>;
}

const running: Child[] = [];
const clients: SQSClient[] = [];
const dirs: string[] = [];

afterEach(() => {
  for (const c of running.splice(0))
    if (c.proc.exitCode === null && c.proc.signalCode === null) c.proc.kill('SIGKILL');
  for (const c of clients.splice(0)) c.destroy();
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

/** Starts the SQS server in a child process and resolves once it listens. */
async function startChild(dataDir: string, port: number): Promise<Child> {
  const proc = spawn(process.execPath, ['--import', 'tsx', CHILD], {
    cwd: PACKAGE_DIR,
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '/tmp',
      SQS_CHILD_DATA_DIR: dataDir,
      SQS_CHILD_PORT: String(port),
      SQS_CHILD_REGION: REGION,
      SQS_CHILD_KEYS: JSON.stringify([TEST_KEY, SECOND_KEY]),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise((resolve) => proc.on('exit', resolve));
  let out = '';
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`child did not start:\n${out}`)), 20_000);
    const onData = (d: Buffer) => {
      out += d.toString();
      const m = /SQS READY (\S+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    };
    proc.stdout!.on('data', onData);
    proc.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    proc.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`child exited (${code}):\n${out}`));
    });
  });
  const child = { proc, url, exited };
  running.push(child);
  return child;
}

async function kill(child: Child): Promise<void> {
  child.proc.kill('SIGKILL');
  await child.exited;
}

function sqsClient(endpoint: string): SQSClient {
  const c = new SQSClient({ endpoint, region: REGION, credentials: TEST_KEY, maxAttempts: 1 });
  clients.push(c);
  return c;
}

/** Receives until `expected` distinct messages were seen or `timeoutMs` passed. */
async function drain(
  client: SQSClient,
  QueueUrl: string,
  expected: number,
  timeoutMs: number,
): Promise<Message[]> {
  const seen = new Map<string, Message>();
  const deadline = Date.now() + timeoutMs;
  while (seen.size < expected && Date.now() < deadline) {
    const out = await client.send(
      new ReceiveMessageCommand({
        QueueUrl,
        MaxNumberOfMessages: 10,
        WaitTimeSeconds: 1,
        VisibilityTimeout: 300,
        MessageSystemAttributeNames: ['ApproximateReceiveCount'],
      }),
    );
    for (const m of out.Messages ?? []) {
      expect(seen.has(m.MessageId!), `duplicate delivery of ${m.Body}`).toBe(false);
      seen.set(m.MessageId!, m);
    }
  }
  return [...seen.values()];
}

function tempDir(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'darkroom-sqs-kill-'));
  dirs.push(d);
  return d;
}

describe('durability across SIGKILL', () => {
  it('keeps every sent message; in-flight ones reappear after their visibility timeout', async () => {
    const dataDir = tempDir();
    const first = await startChild(dataDir, 0);
    // The restarted server must answer at the same URL, so it takes the port the first one was given.
    const port = Number(new URL(first.url).port);
    let client = sqsClient(first.url);
    const { QueueUrl } = await client.send(
      new CreateQueueCommand({ QueueName: 'durable', Attributes: { VisibilityTimeout: '2' } }),
    );
    const bodies: string[] = [];
    for (let i = 0; i < 30; i++) {
      bodies.push(`single-${i}`);
      await client.send(new SendMessageCommand({ QueueUrl, MessageBody: `single-${i}` }));
    }
    for (let b = 0; b < 2; b++) {
      const Entries = Array.from({ length: 10 }, (_, i) => ({ Id: `e${i}`, MessageBody: `batch-${b}-${i}` }));
      bodies.push(...Entries.map((e) => e.MessageBody));
      const out = await client.send(new SendMessageBatchCommand({ QueueUrl, Entries }));
      expect(out.Successful).toHaveLength(10);
    }
    const inFlight =
      (await client.send(new ReceiveMessageCommand({ QueueUrl, MaxNumberOfMessages: 10 }))).Messages ?? [];
    expect(inFlight).toHaveLength(10);
    const deleted = new Set<string>();
    for (const m of inFlight.slice(0, 5)) {
      await client.send(new DeleteMessageCommand({ QueueUrl, ReceiptHandle: m.ReceiptHandle }));
      deleted.add(m.Body!);
    }
    await kill(first);

    const second = await startChild(dataDir, port);
    client = sqsClient(second.url);
    const restartedAt = Date.now();
    const visibleNow = await drain(client, QueueUrl!, 40, 5_000);
    expect(visibleNow).toHaveLength(40);
    const rest = await drain(client, QueueUrl!, 5, 10_000);
    expect(rest).toHaveLength(5);
    // Received at most ~2 s before the kill, so they come back no later than ~2 s after the restart.
    expect(Date.now() - restartedAt).toBeLessThan(8_000);
    for (const m of rest) expect(m.Attributes!.ApproximateReceiveCount).toBe('2');
    const recovered = [...visibleNow, ...rest].map((m) => m.Body!).sort();
    expect(recovered).toEqual(bodies.filter((b) => !deleted.has(b)).sort());
    await kill(second);
  }, 60_000);

  it('loses no acknowledged send when killed under concurrent load', async () => {
    const dataDir = tempDir();
    const first = await startChild(dataDir, 0);
    // The restarted server must answer at the same URL, so it takes the port the first one was given.
    const port = Number(new URL(first.url).port);
    let client = sqsClient(first.url);
    const { QueueUrl } = await client.send(new CreateQueueCommand({ QueueName: 'under-load' }));
    const acked: string[] = [];
    let stop = false;
    const workers = Array.from({ length: 8 }, async (_, w) => {
      for (let i = 0; !stop; i++) {
        const body = `w${w}-m${i}`;
        try {
          await client.send(new SendMessageCommand({ QueueUrl, MessageBody: body }));
          acked.push(body);
        } catch {
          return; // the server died mid-request
        }
      }
    });
    while (acked.length < 200) await new Promise((r) => setTimeout(r, 10));
    await kill(first);
    stop = true;
    await Promise.all(workers);
    const ackedAtKill = [...acked];

    const second = await startChild(dataDir, port);
    client = sqsClient(second.url);
    const recovered = new Set(
      (await drain(client, QueueUrl!, ackedAtKill.length, 10_000)).map((m) => m.Body!),
    );
    for (;;) {
      const more = (await client.send(new ReceiveMessageCommand({ QueueUrl, MaxNumberOfMessages: 10 })))
        .Messages;
      if (!more?.length) break;
      for (const m of more) {
        expect(recovered.has(m.Body!), `duplicate delivery of ${m.Body}`).toBe(false);
        recovered.add(m.Body!);
      }
    }
    // Every acknowledged send survived; at most the 8 requests in flight at the kill may add to them.
    for (const body of ackedAtKill) expect(recovered.has(body), body).toBe(true);
    expect(recovered.size).toBeLessThanOrEqual(ackedAtKill.length + 8);
    await kill(second);
  }, 60_000);
});
