import { randomUUID } from 'node:crypto';
import { closeConnections, createVhost, type TestVhost } from '@darkroom/testkit';
import pino from 'pino';
import { Connection } from 'rabbitmq-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.ts';
import { AmqpUploadsQueue } from '../../src/queue/amqp-queue.ts';
import { openUploadsQueue } from '../../src/queue/open.ts';
import { CONFORMANCE_ENV, describeQueueConformance } from './conformance.ts';

/** The AMQP adapter for `url`, as a role opens it from DARKROOM_QUEUE_URL. */
function amqpQueue(env: Record<string, string>, role: string): AmqpUploadsQueue {
  const queue = openUploadsQueue(loadConfig(env), pino({ level: 'silent' }), role);
  if (!(queue instanceof AmqpUploadsQueue)) throw new Error('an amqp:// URL must open the AMQP adapter');
  return queue;
}

// The conformance suite against RabbitMQ, in a vhost of this file's own, provisioned as `darkroom setup` does.
describeQueueConformance('RabbitMQ (AMQP 0.9.1)', async () => {
  const vhost = await createVhost();
  const env = { ...CONFORMANCE_ENV, DARKROOM_QUEUE_URL: vhost.url };
  const setup = amqpQueue(env, 'test-setup');
  await setup.provision();
  await setup.close();
  return { env, teardown: () => vhost.drop() };
});

describe('RabbitMQ: the broker closes Darkroom connections under load', () => {
  let vhost: TestVhost;
  let env: Record<string, string>;
  beforeAll(async () => {
    vhost = await createVhost();
    env = { ...CONFORMANCE_ENV, DARKROOM_QUEUE_URL: vhost.url, DARKROOM_MAX_RECEIVE_COUNT: '50' };
    const setup = amqpQueue(env, 'test-setup');
    expect((await setup.provision()).length).toBeGreaterThan(0);
    // A second run finds everything in place.
    expect(await setup.provision()).toEqual([]);
    await setup.close();
  });
  afterAll(() => vhost.drop());

  it('reconnects; every publish is confirmed and every message handled, none lost', async () => {
    const publisher = amqpQueue(env, 'test-publisher');
    const consumerSide = amqpQueue(env, 'test-consumer');
    const run = randomUUID();
    const handled = new Set<string>();
    const consumer = consumerSide.consume(
      async (m) => {
        await new Promise((r) => setTimeout(r, 5));
        if (m.body.startsWith(run)) handled.add(m.body);
      },
      { concurrency: 4 },
    );
    const bodies = Array.from({ length: 300 }, (_, i) => `${run}-${i}`);
    let closed = 0;
    // Publish in waves; between waves the broker drops every connection of this test (both processes' worth).
    for (let wave = 0; wave < 3; wave++) {
      await Promise.all(bodies.slice(wave * 100, (wave + 1) * 100).map((b) => publisher.publish(b)));
      closed += await closeConnections(vhost.name, 'darkroom-test-');
    }
    expect(closed).toBeGreaterThanOrEqual(3);
    const deadline = Date.now() + 60_000;
    while (handled.size < bodies.length && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 100));
    expect(handled.size).toBe(bodies.length);
    await consumer.stop();
    const depth = await consumerSide.depth();
    expect(depth).toMatchObject({ visible: 0, delayed: 0, deadLettered: 0 });
    await publisher.close();
    await consumerSide.close();
  }, 120_000);
});

describe('RabbitMQ: a publish the broker routes to no queue', () => {
  let vhost: TestVhost;
  afterAll(() => vhost?.drop());

  it('fails, naming `darkroom setup`, instead of being confirmed and dropped', async () => {
    vhost = await createVhost();
    const env = { ...CONFORMANCE_ENV, DARKROOM_QUEUE_URL: vhost.url };
    const queue = amqpQueue(env, 'test-unroutable');
    await queue.provision();
    await queue.publish('routed');
    // The exchange stays; the queue behind it goes (deleted by hand, or never bound).
    const admin = new Connection(vhost.url);
    await admin.queueUnbind({ queue: queue.topology.queue, exchange: queue.topology.exchange });
    await admin.close();
    await expect(queue.publish('nowhere')).rejects.toThrow(/routed the message to no queue.*darkroom setup/);
    await queue.close();
  });
});
