import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { SqsError } from './errors.ts';
import { md5OfAttributes, md5OfBody } from './md5.ts';
import { queueNameFromUrl, SqsStore } from './store/queue-store.ts';

describe('md5OfAttributes', () => {
  it('matches published SQS reference values', () => {
    expect(md5OfAttributes({ SellerName: { DataType: 'String', StringValue: 'Example Store' } })).toBe(
      'cd28f3b68aeee4b2eac9c66f2f694b58',
    );
    expect(
      md5OfAttributes({
        ordinal: { DataType: 'Number', StringValue: '1' },
        category: { DataType: 'String', StringValue: 'test' },
      }),
    ).toBe('d21ae90c49061e927f57df5f5d72be1f');
    expect(
      md5OfAttributes({
        test_attribute_name: {
          DataType: 'Binary',
          BinaryValue: Buffer.from('test_attribute_value').toString('base64'),
        },
      }),
    ).toBe('23f6bd27ea87aab7dfeadcc9aebee495');
    expect(md5OfAttributes({})).toBeUndefined();
    expect(md5OfBody('')).toBe('d41d8cd98f00b204e9800998ecf8427e');
  });
});

describe('SqsStore (in-process API)', () => {
  let dir: string;
  let store: SqsStore;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'darkroom-sqs-store-'));
    store = SqsStore.open(dir, 'us-east-1');
  });
  afterEach(() => {
    store.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('sends by name, ARN or URL, and refuses unknown queues and foreign ARNs', () => {
    store.createQueue('jobs');
    store.sendMessage('jobs', 'by name');
    store.sendMessage('arn:aws:sqs:us-east-1:000000000000:jobs', 'by arn');
    store.sendMessage('http://example:9324/000000000000/jobs', { body: 'by url', delaySeconds: 0 });
    const got = store.receiveMessages('jobs', { maxMessages: 10 }).map((m) => m.body);
    expect(got).toEqual(['by name', 'by arn', 'by url']);
    for (const ref of [
      'nope',
      'arn:aws:sqs:eu-west-1:000000000000:jobs',
      'arn:aws:sqs:us-east-1:111111111111:jobs',
    ]) {
      expect(() => store.sendMessage(ref, 'x')).toThrow(SqsError);
    }
    expect(() => store.sendMessage('jobs', '\u0000')).toThrow(/Invalid binary character/);
  });

  it('persists across reopen', () => {
    store.createQueue('kept', { VisibilityTimeout: '5' });
    store.sendMessage('kept', 'durable');
    store.close();
    store = SqsStore.open(dir, 'us-east-1');
    expect(store.getQueue('kept').attributes.VisibilityTimeout).toBe('5');
    expect(store.receiveMessages('kept', { maxMessages: 1 })[0]!.body).toBe('durable');
  });

  it('wakes a waiter at the next visibility moment, and ends waits on shutdown', async () => {
    const q = store.createQueue('timed');
    store.sendMessage('timed', { body: 'soon', delaySeconds: 1 });
    const started = Date.now();
    await store.waitForMessages(q, Date.now() + 5000);
    expect(Date.now() - started).toBeGreaterThanOrEqual(950);
    expect(store.receiveMessages('timed', { maxMessages: 1 })).toHaveLength(1);

    const waiting = store.waitForMessages(q, Date.now() + 20_000);
    store.shutdown();
    const t = Date.now();
    await waiting;
    expect(Date.now() - t).toBeLessThan(50);
  });

  it('receives a VisibilityTimeout-0 message only once per call, even past redrive moves', () => {
    store.createQueue('dlq');
    store.createQueue('src', {
      RedrivePolicy: JSON.stringify({
        deadLetterTargetArn: 'arn:aws:sqs:us-east-1:000000000000:dlq',
        maxReceiveCount: 1,
      }),
    });
    store.sendMessage('src', 'a');
    store.sendMessage('src', 'b');
    expect(store.receiveMessages('src', { maxMessages: 1, visibilityTimeout: 0 }).map((m) => m.body)).toEqual(
      ['a'],
    );
    // 'a' moves to the DLQ; 'b' is delivered once, not twice, although it stays visible.
    expect(
      store.receiveMessages('src', { maxMessages: 10, visibilityTimeout: 0 }).map((m) => m.body),
    ).toEqual(['b']);
    expect(store.receiveMessages('dlq', { maxMessages: 10 }).map((m) => m.body)).toEqual(['a']);
  });

  it('drops messages older than MessageRetentionPeriod, counted from the send', () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    try {
      store.createQueue('short', { MessageRetentionPeriod: '60' });
      store.sendMessage('short', 'old');
      vi.setSystemTime(Date.now() + 30_000);
      store.sendMessage('short', 'young');
      vi.setSystemTime(Date.now() + 31_000);
      const q = store.getQueue('short');
      expect(store.counts(q)).toEqual({ visible: 1, notVisible: 0, delayed: 0 });
      expect(store.receiveMessages('short', { maxMessages: 10 }).map((m) => m.body)).toEqual(['young']);
    } finally {
      vi.useRealTimers();
    }
  });

  it('parses queue URLs', () => {
    expect(queueNameFromUrl('http://127.0.0.1:9324/000000000000/my-queue')).toBe('my-queue');
    expect(() => queueNameFromUrl('nope')).toThrow(/not valid/);
    expect(() => queueNameFromUrl('http://h/000000000000')).toThrow(/not valid/);
  });
});
