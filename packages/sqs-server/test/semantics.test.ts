import {
  ChangeMessageVisibilityCommand,
  DeleteMessageCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  type ReceiveMessageCommandInput,
  SendMessageCommand,
  SetQueueAttributesCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { queueName, SECOND_KEY, sleep, startTestSqs, type TestSqs } from './support.ts';

let sqs: TestSqs;
let consumer: SQSClient;
let producer: SQSClient;

beforeAll(async () => {
  sqs = await startTestSqs();
  consumer = sqs.client();
  producer = sqs.client({ credentials: SECOND_KEY });
});
afterAll(() => sqs.stop());

const receive = async (QueueUrl: string, extra: Partial<ReceiveMessageCommandInput> = {}) =>
  (
    await consumer.send(
      new ReceiveMessageCommand({
        QueueUrl,
        MaxNumberOfMessages: 10,
        MessageSystemAttributeNames: ['All'],
        ...extra,
      }),
    )
  ).Messages ?? [];

const arnOf = async (QueueUrl: string) =>
  (await consumer.send(new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ['QueueArn'] }))).Attributes!
    .QueueArn!;

describe('visibility timeout', () => {
  it('hides a received message, then it reappears with ApproximateReceiveCount incremented', async () => {
    const url = await sqs.queue('visibility', { VisibilityTimeout: '1' });
    await producer.send(new SendMessageCommand({ QueueUrl: url, MessageBody: 'again and again' }));
    const [first] = await receive(url);
    expect(first!.Attributes!.ApproximateReceiveCount).toBe('1');
    expect(await receive(url)).toEqual([]);
    await sleep(1100);
    const [second] = await receive(url);
    expect(second).toMatchObject({ MessageId: first!.MessageId, Body: 'again and again' });
    expect(second!.Attributes!.ApproximateReceiveCount).toBe('2');
    expect(second!.Attributes!.ApproximateFirstReceiveTimestamp).toBe(
      first!.Attributes!.ApproximateFirstReceiveTimestamp,
    );
    expect(second!.ReceiptHandle).not.toBe(first!.ReceiptHandle);
    // ReceiveMessage's VisibilityTimeout overrides the queue's.
    expect(await receive(url)).toEqual([]);
    await sleep(1100);
    const [third] = await receive(url, { VisibilityTimeout: 0 });
    expect(third!.Attributes!.ApproximateReceiveCount).toBe('3');
    const [fourth] = await receive(url);
    expect(fourth!.Attributes!.ApproximateReceiveCount).toBe('4');
  });
});

describe('long polling', () => {
  it('answers a 10 s long poll within 200 ms of a send from another client', async () => {
    const url = await sqs.queue('wake');
    const started = Date.now();
    const polling = receive(url, { WaitTimeSeconds: 10 }).then((msgs) => ({ msgs, at: Date.now() }));
    await sleep(300);
    await producer.send(new SendMessageCommand({ QueueUrl: url, MessageBody: 'wake up' }));
    const sentAt = Date.now();
    const { msgs, at } = await polling;
    expect(msgs.map((m) => m.Body)).toEqual(['wake up']);
    expect(at - sentAt).toBeLessThan(200);
    expect(at - started).toBeGreaterThanOrEqual(300);
  });

  it('wakes for an in-process send into the store too', async () => {
    const url = await sqs.queue('wake-store');
    const polling = receive(url, { WaitTimeSeconds: 10 }).then((msgs) => ({ msgs, at: Date.now() }));
    await sleep(200);
    sqs.server.store.sendMessage(queueName(url), 'from the S3 server');
    const sentAt = Date.now();
    const { msgs, at } = await polling;
    expect(msgs.map((m) => m.Body)).toEqual(['from the S3 server']);
    expect(at - sentAt).toBeLessThan(200);
  });

  it('returns empty after WaitTimeSeconds when nothing arrives', async () => {
    const url = await sqs.queue('empty-poll');
    const started = Date.now();
    expect(await receive(url, { WaitTimeSeconds: 1 })).toEqual([]);
    const elapsed = Date.now() - started;
    expect(elapsed).toBeGreaterThanOrEqual(990);
    expect(elapsed).toBeLessThan(1500);
  });

  it("uses the queue's ReceiveMessageWaitTimeSeconds when the request gives none, and 0 overrides it", async () => {
    const url = await sqs.queue('queue-wait', { ReceiveMessageWaitTimeSeconds: '1' });
    let started = Date.now();
    expect(await receive(url)).toEqual([]);
    expect(Date.now() - started).toBeGreaterThanOrEqual(990);
    started = Date.now();
    expect(await receive(url, { WaitTimeSeconds: 0 })).toEqual([]);
    expect(Date.now() - started).toBeLessThan(300);
  });

  it('wakes when an in-flight message becomes visible again (a timer, not a poll loop)', async () => {
    const url = await sqs.queue('wake-visibility');
    await producer.send(new SendMessageCommand({ QueueUrl: url, MessageBody: 'comes back' }));
    await receive(url, { VisibilityTimeout: 1 });
    const started = Date.now();
    const msgs = await receive(url, { WaitTimeSeconds: 5 });
    const elapsed = Date.now() - started;
    expect(msgs.map((m) => m.Body)).toEqual(['comes back']);
    expect(elapsed).toBeGreaterThan(700);
    expect(elapsed).toBeLessThan(1300);
  });

  it('wakes when a visibility change reveals a message', async () => {
    const url = await sqs.queue('wake-cmv');
    await producer.send(new SendMessageCommand({ QueueUrl: url, MessageBody: 'released' }));
    const [held] = await receive(url, { VisibilityTimeout: 300 });
    const polling = receive(url, { WaitTimeSeconds: 10 }).then((msgs) => ({ msgs, at: Date.now() }));
    await sleep(200);
    await producer.send(
      new ChangeMessageVisibilityCommand({
        QueueUrl: url,
        ReceiptHandle: held!.ReceiptHandle,
        VisibilityTimeout: 0,
      }),
    );
    const changedAt = Date.now();
    const { msgs, at } = await polling;
    expect(msgs.map((m) => m.Body)).toEqual(['released']);
    expect(at - changedAt).toBeLessThan(200);
  });

  it('gives each of several waiting consumers a different message', async () => {
    const url = await sqs.queue('fan-out');
    const polls = [0, 1, 2].map(() => receive(url, { WaitTimeSeconds: 10, MaxNumberOfMessages: 1 }));
    await sleep(200);
    for (const body of ['x', 'y', 'z'])
      await producer.send(new SendMessageCommand({ QueueUrl: url, MessageBody: body }));
    const got = (await Promise.all(polls)).flat().map((m) => m.Body);
    expect(got.sort()).toEqual(['x', 'y', 'z']);
  });

  it('does not swallow a message for a client that hung up while polling', async () => {
    const url = await sqs.queue('hang-up');
    const abort = new AbortController();
    const polling = consumer
      .send(new ReceiveMessageCommand({ QueueUrl: url, WaitTimeSeconds: 10 }), { abortSignal: abort.signal })
      .catch((err: Error) => err);
    await sleep(200);
    abort.abort();
    expect(await polling).toBeInstanceOf(Error);
    await sleep(100);
    await producer.send(new SendMessageCommand({ QueueUrl: url, MessageBody: 'still here' }));
    expect((await receive(url)).map((m) => m.Body)).toEqual(['still here']);
  });
});

describe('delay', () => {
  it('keeps a delayed message invisible for DelaySeconds (message or queue default)', async () => {
    const url = await sqs.queue('delay');
    const sentAt = Date.now();
    await producer.send(new SendMessageCommand({ QueueUrl: url, MessageBody: 'later', DelaySeconds: 1 }));
    expect(await receive(url)).toEqual([]);
    const delayed = (
      await consumer.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['All'] }))
    ).Attributes!;
    expect(delayed.ApproximateNumberOfMessagesDelayed).toBe('1');
    expect(delayed.ApproximateNumberOfMessages).toBe('0');
    const msgs = await receive(url, { WaitTimeSeconds: 5 });
    expect(msgs.map((m) => m.Body)).toEqual(['later']);
    const at = Date.now() - sentAt;
    expect(at).toBeGreaterThanOrEqual(990);
    expect(at).toBeLessThan(1500);

    await consumer.send(new SetQueueAttributesCommand({ QueueUrl: url, Attributes: { DelaySeconds: '1' } }));
    await producer.send(new SendMessageCommand({ QueueUrl: url, MessageBody: 'queue delay' }));
    await producer.send(new SendMessageCommand({ QueueUrl: url, MessageBody: 'no delay', DelaySeconds: 0 }));
    expect((await receive(url)).map((m) => m.Body)).toEqual(['no delay']);
    await sleep(1050);
    expect((await receive(url)).map((m) => m.Body)).toEqual(['queue delay']);
  });
});

describe('redrive', () => {
  it('moves a message to the dead-letter queue once it has been received maxReceiveCount times', async () => {
    const dlq = await sqs.queue('redrive-dlq');
    const dlqArn = await arnOf(dlq);
    const source = await sqs.queue('redrive-source', {
      RedrivePolicy: JSON.stringify({ deadLetterTargetArn: dlqArn, maxReceiveCount: 2 }),
    });
    const sourceArn = await arnOf(source);
    const sent = await producer.send(
      new SendMessageCommand({
        QueueUrl: source,
        MessageBody: 'poison',
        MessageAttributes: { kind: { DataType: 'String', StringValue: 'bad' } },
      }),
    );
    await producer.send(
      new SendMessageCommand({ QueueUrl: source, MessageBody: 'healthy', DelaySeconds: 2 }),
    );
    const counts: string[] = [];
    for (let i = 0; i < 2; i++) {
      const [m] = await receive(source, { VisibilityTimeout: 0 });
      expect(m!.MessageId).toBe(sent.MessageId);
      counts.push(m!.Attributes!.ApproximateReceiveCount!);
    }
    expect(counts).toEqual(['1', '2']);
    // The third receive would exceed maxReceiveCount: the message moves instead of being delivered.
    expect(await receive(source)).toEqual([]);
    const [dead] = await receive(dlq, { MessageAttributeNames: ['All'] });
    expect(dead).toMatchObject({ MessageId: sent.MessageId, Body: 'poison' });
    expect(dead!.MessageAttributes).toEqual({ kind: { DataType: 'String', StringValue: 'bad' } });
    expect(dead!.MD5OfMessageAttributes).toBe(sent.MD5OfMessageAttributes);
    expect(dead!.Attributes).toMatchObject({
      ApproximateReceiveCount: '1',
      DeadLetterQueueSourceArn: sourceArn,
    });
    await consumer.send(new DeleteMessageCommand({ QueueUrl: dlq, ReceiptHandle: dead!.ReceiptHandle }));
    // The other message is untouched by the redrive.
    const [healthy] = await receive(source, { WaitTimeSeconds: 5 });
    expect(healthy!.Body).toBe('healthy');
  });

  it('wakes a long poll on the dead-letter queue when a message is moved there', async () => {
    const dlq = await sqs.queue('redrive-wake-dlq');
    const source = await sqs.queue('redrive-wake', {
      RedrivePolicy: JSON.stringify({ deadLetterTargetArn: await arnOf(dlq), maxReceiveCount: 1 }),
    });
    await producer.send(new SendMessageCommand({ QueueUrl: source, MessageBody: 'to the dlq' }));
    await receive(source, { VisibilityTimeout: 0 });
    const polling = receive(dlq, { WaitTimeSeconds: 10 }).then((msgs) => ({ msgs, at: Date.now() }));
    await sleep(200);
    expect(await receive(source)).toEqual([]);
    const movedAt = Date.now();
    const { msgs, at } = await polling;
    expect(msgs.map((m) => m.Body)).toEqual(['to the dlq']);
    expect(at - movedAt).toBeLessThan(200);
  });
});

describe('shutdown', () => {
  it('ends pending long polls promptly when the server closes', async () => {
    const own = await startTestSqs();
    const url = await own.queue('closing');
    const client = own.client();
    const polling = client.send(new ReceiveMessageCommand({ QueueUrl: url, WaitTimeSeconds: 20 }));
    await sleep(200);
    const started = Date.now();
    await own.stop();
    const out = await polling.catch((err: Error) => err);
    if (!(out instanceof Error)) expect(out.Messages ?? []).toEqual([]);
    expect(Date.now() - started).toBeLessThan(1500);
  });
});
