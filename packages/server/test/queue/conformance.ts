/**
 * @module The queue conformance suite: the behaviours the worker relies on, written once as a function
 * of an adapter, and run against every adapter (sqs.test.ts: the embedded SQS server; amqp.test.ts:
 * RabbitMQ). Each target provides DARKROOM_* variables; the suite opens the queue from them exactly as
 * a worker does, with DARKROOM_MAX_RECEIVE_COUNT=3 and DARKROOM_VISIBILITY_TIMEOUT_SECONDS=5.
 */
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.ts';
import { openUploadsQueue } from '../../src/queue/open.ts';
import type { QueueMessage, UploadsQueue } from '../../src/queue/port.ts';

const HOLDER = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures', 'holding-consumer.ts');

/** A queue target: the environment that selects and reaches it, and how to remove it afterwards. */
export interface QueueTarget {
  env: Record<string, string>;
  teardown(): Promise<void>;
}

/** The settings every target runs with. */
export const CONFORMANCE_ENV = {
  DARKROOM_MAX_RECEIVE_COUNT: '3',
  DARKROOM_VISIBILITY_TIMEOUT_SECONDS: '5',
  DARKROOM_LOG_LEVEL: 'silent',
};

async function until<T>(what: string, fn: () => T | undefined | Promise<T | undefined>, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await fn();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Runs the suite against the target `start` makes (once for the file). */
export function describeQueueConformance(name: string, start: () => Promise<QueueTarget>): void {
  describe(`queue conformance: ${name}`, () => {
    let target: QueueTarget;
    let queue: UploadsQueue;

    beforeAll(async () => {
      target = await start();
      queue = openUploadsQueue(loadConfig(target.env), pino({ level: 'silent' }), 'test-conformance');
      const { problems } = await queue.check();
      expect(problems).toEqual([]);
    }, 60_000);
    afterAll(async () => {
      await queue?.close();
      await target?.teardown();
    });

    /** Consumes until `done(received)` is true, then stops the consumer; returns every delivery. */
    async function consumeUntil(
      handle: (m: QueueMessage, all: QueueMessage[]) => Promise<void>,
      done: (all: QueueMessage[]) => boolean | Promise<boolean>,
      concurrency = 2,
    ) {
      const all: QueueMessage[] = [];
      const consumer = queue.consume(
        async (m) => {
          all.push(m);
          await handle(m, all);
        },
        { concurrency },
      );
      try {
        await until('the expected deliveries', async () => ((await done(all)) ? true : undefined));
      } finally {
        await consumer.stop();
      }
      return all;
    }

    it('delivers a published message, and one that was handled does not come back', async () => {
      const body = `once-${randomUUID()}`;
      await queue.publish(body);
      const got = await consumeUntil(
        async () => undefined,
        (all) => all.some((m) => m.body === body),
      );
      expect(got.filter((m) => m.body === body).map((m) => m.receiveCount)).toEqual([1]);
      // Nothing left: a second consumer sees no copy of it.
      const again = await consumeUntil(
        async () => undefined,
        () => true,
      );
      expect(again.filter((m) => m.body === body)).toEqual([]);
      const depth = await queue.depth();
      expect(depth.visible).toBe(0);
    });

    it('a message whose handler failed comes back after a backoff, with its receive count raised', async () => {
      const body = `retry-${randomUUID()}`;
      await queue.publish(body);
      const seen: { receiveCount: number; at: number }[] = [];
      await consumeUntil(
        async (m) => {
          if (m.body !== body) return;
          seen.push({ receiveCount: m.receiveCount, at: Date.now() });
          if (m.receiveCount === 1) throw new Error('transient failure');
        },
        () => seen.length >= 2,
      );
      expect(seen.map((s) => s.receiveCount)).toEqual([1, 2]);
      // Not at once: it waited out its backoff (2 s for a first failure) first.
      expect(seen[1]!.at - seen[0]!.at).toBeGreaterThanOrEqual(1500);
    });

    /**
     * A consumer in a child process takes `body` (after `publish` when given) on its receive
     * `receiveCount` and is SIGKILLed holding it, as a worker that crashes mid-image.
     */
    async function dieHolding(body: string, receiveCount: number, publish?: () => Promise<void>) {
      const child = spawn(process.execPath, ['--import', 'tsx', HOLDER], {
        env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...target.env },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      child.stderr.on('data', (d: Buffer) => (out += d.toString()));
      const exited = new Promise((r) => child.on('exit', r));
      try {
        await until('the child consumer', () => (out.includes('CONSUMING') ? true : undefined));
        await publish?.();
        await until(`the child to hold the message (output: ${out})`, () =>
          out.includes(`HOLDING ${body} ${receiveCount}`) ? true : undefined,
        );
      } finally {
        child.kill('SIGKILL');
        await exited;
      }
    }

    it('a message whose consumer died mid-message (SIGKILL) is delivered again', async () => {
      const body = `crash-${randomUUID()}`;
      await dieHolding(body, 1, () => queue.publish(body));
      const got = await consumeUntil(
        async () => undefined,
        (all) => all.some((m) => m.body === body),
      );
      expect(got.find((m) => m.body === body)?.receiveCount).toBe(2);
    });

    it('after DARKROOM_MAX_RECEIVE_COUNT failed receives the message goes to the dead-letter queue', async () => {
      const before = (await queue.depth()).deadLettered;
      const body = `poison-${randomUUID()}`;
      await queue.publish(body);
      const counts: number[] = [];
      await consumeUntil(
        async (m) => {
          if (m.body !== body) return;
          counts.push(m.receiveCount);
          throw new Error('always fails');
        },
        () => counts.length >= 3,
      );
      // The handler learns which receive is the last (the worker marks the image failed on it).
      expect(counts).toEqual([1, 2, 3]);
      // SQS moves it on the next receive, RabbitMQ at once: consume until it is there, and it is not
      // delivered a fourth time meanwhile.
      const after = await consumeUntil(
        async () => undefined,
        async () => (await queue.depth()).deadLettered === before + 1,
      );
      expect(after.filter((m) => m.body === body)).toEqual([]);
    }, 60_000);

    it('failed receives and a consumer that died holding the message count alike: never more than DARKROOM_MAX_RECEIVE_COUNT receives in all', async () => {
      const before = (await queue.depth()).deadLettered;
      const body = `fail-then-crash-${randomUUID()}`;
      await queue.publish(body);
      const counts: number[] = [];
      await consumeUntil(
        async (m) => {
          if (m.body !== body) return;
          counts.push(m.receiveCount);
          throw new Error('fails');
        },
        () => counts.length >= 2,
      );
      expect(counts).toEqual([1, 2]);
      // The third and last receive dies with its consumer: the message goes to the dead-letter queue
      // and no handler sees it a fourth time.
      await dieHolding(body, 3);
      const after = await consumeUntil(
        async () => undefined,
        async (all) => all.some((m) => m.body === body) || (await queue.depth()).deadLettered === before + 1,
      );
      expect(after.filter((m) => m.body === body)).toEqual([]);
    }, 60_000);

    it('delivers every message, duplicates included, in whatever order, at most `concurrency` at once', async () => {
      const run = randomUUID();
      const bodies = Array.from({ length: 16 }, (_, i) => `many-${run}-${i}`);
      const published = [...bodies, ...bodies.slice(0, 4)];
      await Promise.all(published.map((b) => queue.publish(b)));
      let inHand = 0;
      let most = 0;
      const got = await consumeUntil(
        async (m) => {
          if (!m.body.startsWith(`many-${run}-`)) return;
          inHand++;
          most = Math.max(most, inHand);
          await new Promise((r) => setTimeout(r, 20));
          inHand--;
        },
        (all) => all.filter((m) => m.body.startsWith(`many-${run}-`)).length >= published.length,
        3,
      );
      const mine = got.filter((m) => m.body.startsWith(`many-${run}-`)).map((m) => m.body);
      // The same multiset: nothing lost, a duplicate published twice is delivered twice.
      expect(mine.sort()).toEqual([...published].sort());
      expect(most).toBeLessThanOrEqual(3);
      expect(most).toBeGreaterThan(1);
    });
  });
}
