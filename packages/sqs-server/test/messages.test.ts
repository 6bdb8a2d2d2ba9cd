import { createHash } from 'node:crypto';
import {
  ChangeMessageVisibilityBatchCommand,
  ChangeMessageVisibilityCommand,
  DeleteMessageBatchCommand,
  DeleteMessageCommand,
  GetQueueAttributesCommand,
  type MessageAttributeValue,
  ReceiveMessageCommand,
  type ReceiveMessageCommandInput,
  SendMessageBatchCommand,
  SendMessageCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sleep, sqsErrorOf, startTestSqs, TEST_KEY, type TestSqs } from './support.ts';

let sqs: TestSqs;
let client: SQSClient;

beforeAll(async () => {
  sqs = await startTestSqs();
  client = sqs.client();
});
afterAll(() => sqs.stop());

const md5 = (text: string) => createHash('md5').update(text, 'utf8').digest('hex');
const receive = async (QueueUrl: string, extra: Partial<ReceiveMessageCommandInput> = {}) =>
  (await client.send(new ReceiveMessageCommand({ QueueUrl, MaxNumberOfMessages: 10, ...extra }))).Messages ??
  [];
const counts = async (QueueUrl: string) =>
  (
    await client.send(
      new GetQueueAttributesCommand({
        QueueUrl,
        AttributeNames: [
          'ApproximateNumberOfMessages',
          'ApproximateNumberOfMessagesNotVisible',
          'ApproximateNumberOfMessagesDelayed',
        ],
      }),
    )
  ).Attributes;

describe('SendMessage / ReceiveMessage / DeleteMessage', () => {
  it('round-trips a body with its MD5 (the SDK validates both directions)', async () => {
    const url = await sqs.queue('basic');
    const MessageBody = 'héllo wörld ✓ 🎞️\ttab\nnewline\r';
    const sent = await client.send(new SendMessageCommand({ QueueUrl: url, MessageBody }));
    expect(sent.MD5OfMessageBody).toBe(md5(MessageBody));
    expect(sent.MessageId).toMatch(/^[0-9a-f-]{36}$/);
    expect(sent.MD5OfMessageAttributes).toBeUndefined();
    const [msg, ...rest] = await receive(url);
    expect(rest).toEqual([]);
    expect(msg).toMatchObject({ MessageId: sent.MessageId, Body: MessageBody, MD5OfBody: md5(MessageBody) });
    expect(msg!.Attributes).toBeUndefined();
    expect(msg!.MessageAttributes).toBeUndefined();
    await client.send(new DeleteMessageCommand({ QueueUrl: url, ReceiptHandle: msg!.ReceiptHandle }));
    expect(await counts(url)).toEqual({
      ApproximateNumberOfMessages: '0',
      ApproximateNumberOfMessagesNotVisible: '0',
      ApproximateNumberOfMessagesDelayed: '0',
    });
  });

  it('computes MD5OfMessageAttributes exactly as SQS (published reference vectors)', async () => {
    const url = await sqs.queue('md5');
    const cases: [Record<string, MessageAttributeValue>, string][] = [
      [
        { SellerName: { DataType: 'String', StringValue: 'Example Store' } },
        'cd28f3b68aeee4b2eac9c66f2f694b58',
      ],
      [
        {
          ordinal: { DataType: 'Number', StringValue: '1' },
          category: { DataType: 'String', StringValue: 'test' },
        },
        'd21ae90c49061e927f57df5f5d72be1f',
      ],
      [
        {
          test_attribute_name_2: { DataType: 'String', StringValue: 'test_attribute_value_2' },
          test_attribute_name_1: { DataType: 'String', StringValue: 'test_attribute_value_1' },
        },
        'd53f3b558fe951154770f25cb63dbba9',
      ],
      [
        {
          test_attribute_name: {
            DataType: 'Binary',
            BinaryValue: new TextEncoder().encode('test_attribute_value'),
          },
        },
        '23f6bd27ea87aab7dfeadcc9aebee495',
      ],
    ];
    for (const [MessageAttributes, expected] of cases) {
      const sent = await client.send(
        new SendMessageCommand({ QueueUrl: url, MessageBody: 'x', MessageAttributes }),
      );
      expect(sent.MD5OfMessageAttributes).toBe(expected);
      const [msg] = await receive(url, { MessageAttributeNames: ['All'], MaxNumberOfMessages: 1 });
      expect(msg!.MD5OfMessageAttributes).toBe(expected);
      expect(Object.keys(msg!.MessageAttributes!).sort()).toEqual(Object.keys(MessageAttributes).sort());
      await client.send(new DeleteMessageCommand({ QueueUrl: url, ReceiptHandle: msg!.ReceiptHandle }));
    }
  });

  it('returns the message attributes asked for, with the MD5 of that subset', async () => {
    const url = await sqs.queue('attr-filter');
    const MessageAttributes: Record<string, MessageAttributeValue> = {
      'img.width': { DataType: 'Number', StringValue: '640' },
      'img.height': { DataType: 'Number.int', StringValue: '480' },
      owner: { DataType: 'String', StringValue: 'alice' },
      raw: { DataType: 'Binary.png', BinaryValue: new Uint8Array([0, 1, 2, 255]) },
    };
    await client.send(new SendMessageCommand({ QueueUrl: url, MessageBody: 'm', MessageAttributes }));
    const take = async (MessageAttributeNames: string[] | undefined) => {
      const [msg] = await receive(url, { MessageAttributeNames, VisibilityTimeout: 0 });
      return msg!;
    };
    const none = await take(undefined);
    expect(none.MessageAttributes).toBeUndefined();
    expect(none.MD5OfMessageAttributes).toBeUndefined();
    const prefixed = await take(['img.*']);
    expect(Object.keys(prefixed.MessageAttributes!).sort()).toEqual(['img.height', 'img.width']);
    const named = await take(['owner', 'missing']);
    expect(named.MessageAttributes).toEqual({ owner: { DataType: 'String', StringValue: 'alice' } });
    expect(named.MD5OfMessageAttributes).not.toBe(prefixed.MD5OfMessageAttributes);
    const all = await take(['.*']);
    expect(all.MessageAttributes!.raw!.BinaryValue).toEqual(new Uint8Array([0, 1, 2, 255]));
    expect(all.MessageAttributes!['img.height']).toEqual({ DataType: 'Number.int', StringValue: '480' });
  });

  it('returns system attributes: SenderId, SentTimestamp, ApproximateReceiveCount, first receive, AWSTraceHeader', async () => {
    const url = await sqs.queue('system');
    const before = Date.now();
    const sent = await client.send(
      new SendMessageCommand({
        QueueUrl: url,
        MessageBody: 'traced',
        MessageSystemAttributes: {
          AWSTraceHeader: { DataType: 'String', StringValue: 'Root=1-5759e988-bd862e3fe' },
        },
      }),
    );
    expect(sent.MD5OfMessageSystemAttributes).toMatch(/^[0-9a-f]{32}$/);
    const [first] = await receive(url, { MessageSystemAttributeNames: ['All'], VisibilityTimeout: 0 });
    expect(first!.Attributes).toMatchObject({
      SenderId: TEST_KEY.accessKeyId,
      ApproximateReceiveCount: '1',
      AWSTraceHeader: 'Root=1-5759e988-bd862e3fe',
    });
    const sentAt = Number(first!.Attributes!.SentTimestamp);
    expect(sentAt).toBeGreaterThanOrEqual(before);
    expect(sentAt).toBeLessThanOrEqual(Date.now());
    const firstReceive = first!.Attributes!.ApproximateFirstReceiveTimestamp;
    // The deprecated AttributeNames works too, and only what is asked for is returned.
    const [second] = await receive(url, {
      // Typed as QueueAttributeName in the SDK, but SQS reads these as message system attribute names.
      AttributeNames: ['ApproximateReceiveCount', 'ApproximateFirstReceiveTimestamp'] as never,
    });
    expect(second!.Attributes).toEqual({
      ApproximateReceiveCount: '2',
      ApproximateFirstReceiveTimestamp: firstReceive,
    });
    expect(
      await sqsErrorOf(() => receive(url, { MessageSystemAttributeNames: ['Colour' as never] })),
    ).toMatchObject({ name: 'InvalidAttributeName' });
  });

  it('validates bodies: required, XML characters only, size limit including attributes', async () => {
    const url = await sqs.queue('bodies');
    const send = (MessageBody: string | undefined, extra = {}) =>
      client.send(new SendMessageCommand({ QueueUrl: url, MessageBody, ...extra }));
    expect(await sqsErrorOf(() => send(''))).toMatchObject({ name: 'MissingParameter', status: 400 });
    expect(await sqsErrorOf(() => send(undefined))).toMatchObject({ name: 'MissingParameter' });
    for (const bad of ['nul\u0000', 'bell\u0007', 'fffe\uFFFE', 'lone \uD800 surrogate']) {
      expect(await sqsErrorOf(() => send(bad)), JSON.stringify(bad)).toMatchObject({
        name: 'InvalidMessageContents',
        status: 400,
      });
    }
    expect((await sqsErrorOf(() => send('bad\u0001'))).message).toContain("'#x1'");
    await send('\uE000\uFFFD\u{10FFFF}😀');

    const max = 1_048_576;
    await send('a'.repeat(max));
    expect(await sqsErrorOf(() => send('a'.repeat(max + 1)))).toMatchObject({
      name: 'InvalidParameterValue',
    });
    // name (1) + type (6) + value (3) count towards the limit.
    const attr = { MessageAttributes: { k: { DataType: 'String', StringValue: 'vvv' } } };
    await send('a'.repeat(max - 10), attr);
    expect((await sqsErrorOf(() => send('a'.repeat(max - 9), attr))).message).toContain(
      `Message must be shorter than ${max} bytes`,
    );
    const small = await sqs.queue('small', { MaximumMessageSize: '1024' });
    await client.send(new SendMessageCommand({ QueueUrl: small, MessageBody: 'é'.repeat(512) }));
    expect(
      (
        await sqsErrorOf(() =>
          client.send(new SendMessageCommand({ QueueUrl: small, MessageBody: `${'é'.repeat(512)}x` })),
        )
      ).name,
    ).toBe('InvalidParameterValue');
  });

  it('validates message attributes and DelaySeconds', async () => {
    const url = await sqs.queue('attr-rules');
    const send = (MessageAttributes: Record<string, MessageAttributeValue>) =>
      client.send(new SendMessageCommand({ QueueUrl: url, MessageBody: 'x', MessageAttributes }));
    const str = (StringValue: string, DataType = 'String') => ({ DataType, StringValue });
    const invalid: Record<string, MessageAttributeValue>[] = [
      { 'AWS.reserved': str('x') },
      { 'amazon.reserved': str('x') },
      { '.leading': str('x') },
      { 'trailing.': str('x') },
      { 'two..dots': str('x') },
      { 'spa ce': str('x') },
      { n: str('x', 'Integer') },
      { n: str('abc', 'Number') },
      { n: str('') },
      { n: { DataType: 'Binary' } },
      Object.fromEntries(Array.from({ length: 11 }, (_, i) => [`a${i}`, str('x')])),
    ];
    for (const attrs of invalid) {
      expect(await sqsErrorOf(() => send(attrs)), JSON.stringify(attrs)).toMatchObject({
        name: 'InvalidParameterValue',
        status: 400,
      });
    }
    await send(Object.fromEntries(Array.from({ length: 10 }, (_, i) => [`a${i}`, str('-1.5e3', 'Number')])));
    expect(
      await sqsErrorOf(() =>
        client.send(new SendMessageCommand({ QueueUrl: url, MessageBody: 'x', DelaySeconds: 901 })),
      ),
    ).toMatchObject({ name: 'InvalidParameterValue' });
    expect(
      await sqsErrorOf(() =>
        client.send(new SendMessageCommand({ QueueUrl: url, MessageBody: 'x', MessageDeduplicationId: 'd' })),
      ),
    ).toMatchObject({ name: 'InvalidParameterValue' });
  });

  it('validates ReceiveMessage parameters', async () => {
    const url = await sqs.queue('receive-params');
    for (const extra of [
      { MaxNumberOfMessages: 0 },
      { MaxNumberOfMessages: 11 },
      { WaitTimeSeconds: 21 },
      { WaitTimeSeconds: -1 },
      { VisibilityTimeout: 43201 },
    ]) {
      expect(
        await sqsErrorOf(() => client.send(new ReceiveMessageCommand({ QueueUrl: url, ...extra }))),
        JSON.stringify(extra),
      ).toMatchObject({ name: 'InvalidParameterValue', status: 400 });
    }
  });

  it('delivers up to MaxNumberOfMessages, each message once while invisible', async () => {
    const url = await sqs.queue('many');
    for (let i = 0; i < 15; i++)
      await client.send(new SendMessageCommand({ QueueUrl: url, MessageBody: `m${i}` }));
    const first = await receive(url);
    expect(first).toHaveLength(10);
    const second = await receive(url);
    expect(second).toHaveLength(5);
    expect(await receive(url)).toEqual([]);
    const bodies = [...first, ...second].map((m) => m.Body).sort();
    expect(new Set(bodies).size).toBe(15);
    expect(await counts(url)).toMatchObject({
      ApproximateNumberOfMessages: '0',
      ApproximateNumberOfMessagesNotVisible: '15',
    });
  });
});

describe('receipt handles', () => {
  it('refuses a garbage handle or another queue’s handle with ReceiptHandleIsInvalid (404)', async () => {
    const url = await sqs.queue('receipts');
    const other = await sqs.queue('receipts-other');
    await client.send(new SendMessageCommand({ QueueUrl: other, MessageBody: 'x' }));
    const [foreign] = await receive(other);
    for (const ReceiptHandle of ['garbage', 'AQEB+/==', foreign!.ReceiptHandle!]) {
      expect(
        await sqsErrorOf(() => client.send(new DeleteMessageCommand({ QueueUrl: url, ReceiptHandle }))),
      ).toMatchObject({ name: 'ReceiptHandleIsInvalid', status: 404, code: 'ReceiptHandleIsInvalid' });
      expect(
        await sqsErrorOf(() =>
          client.send(
            new ChangeMessageVisibilityCommand({ QueueUrl: url, ReceiptHandle, VisibilityTimeout: 5 }),
          ),
        ),
      ).toMatchObject({ name: 'ReceiptHandleIsInvalid' });
    }
    expect(
      await sqsErrorOf(() => client.send(new DeleteMessageCommand({ QueueUrl: url, ReceiptHandle: '' }))),
    ).toMatchObject({ name: 'MissingParameter' });
  });

  it('deleting twice succeeds; a superseded handle succeeds without deleting (AWS docs: "might not be deleted")', async () => {
    const url = await sqs.queue('stale');
    await client.send(new SendMessageCommand({ QueueUrl: url, MessageBody: 'contested' }));
    const [first] = await receive(url, { VisibilityTimeout: 0 });
    const [second] = await receive(url, { VisibilityTimeout: 30 });
    expect(second!.MessageId).toBe(first!.MessageId);
    expect(second!.ReceiptHandle).not.toBe(first!.ReceiptHandle);
    await client.send(new DeleteMessageCommand({ QueueUrl: url, ReceiptHandle: first!.ReceiptHandle }));
    expect((await counts(url))!.ApproximateNumberOfMessagesNotVisible).toBe('1');
    await client.send(new DeleteMessageCommand({ QueueUrl: url, ReceiptHandle: second!.ReceiptHandle }));
    expect((await counts(url))!.ApproximateNumberOfMessagesNotVisible).toBe('0');
    await client.send(new DeleteMessageCommand({ QueueUrl: url, ReceiptHandle: second!.ReceiptHandle }));
  });

  it('deletes with the latest handle even after the visibility timeout ran out', async () => {
    const url = await sqs.queue('late-delete');
    await client.send(new SendMessageCommand({ QueueUrl: url, MessageBody: 'slow worker' }));
    const [msg] = await receive(url, { VisibilityTimeout: 0 });
    await client.send(new DeleteMessageCommand({ QueueUrl: url, ReceiptHandle: msg!.ReceiptHandle }));
    expect(await receive(url)).toEqual([]);
  });
});

describe('ChangeMessageVisibility', () => {
  it('hides longer, reveals at 0, and refuses messages that are not in flight', async () => {
    const url = await sqs.queue('cmv');
    await client.send(new SendMessageCommand({ QueueUrl: url, MessageBody: 'cmv' }));
    const [msg] = await receive(url, { VisibilityTimeout: 30 });
    const change = (VisibilityTimeout: number, ReceiptHandle = msg!.ReceiptHandle) =>
      client.send(new ChangeMessageVisibilityCommand({ QueueUrl: url, ReceiptHandle, VisibilityTimeout }));
    await change(600);
    expect(await receive(url)).toEqual([]);
    expect(await sqsErrorOf(() => change(43201))).toMatchObject({ name: 'InvalidParameterValue' });
    await change(0);
    expect(await sqsErrorOf(() => change(10))).toMatchObject({
      name: 'MessageNotInflight',
      status: 400,
      code: 'AWS.SimpleQueueService.MessageNotInflight',
    });
    const [again] = await receive(url, { VisibilityTimeout: 30 });
    expect(again!.MessageId).toBe(msg!.MessageId);
    // The earlier handle has been superseded by this receive.
    expect(await sqsErrorOf(() => change(10))).toMatchObject({ name: 'InvalidParameterValue' });
    expect((await sqsErrorOf(() => change(10))).message).toContain('The receipt handle has expired');
    await client.send(new DeleteMessageCommand({ QueueUrl: url, ReceiptHandle: again!.ReceiptHandle }));
    expect((await sqsErrorOf(() => change(10, again!.ReceiptHandle))).message).toContain(
      'Message does not exist or is not available for visibility timeout change',
    );
  });

  it('caps the total invisibility at 12 hours from the receive', async () => {
    const url = await sqs.queue('cmv-cap');
    await client.send(new SendMessageCommand({ QueueUrl: url, MessageBody: 'cap' }));
    const [msg] = await receive(url, { VisibilityTimeout: 30 });
    await client.send(
      new ChangeMessageVisibilityCommand({
        QueueUrl: url,
        ReceiptHandle: msg!.ReceiptHandle,
        VisibilityTimeout: 43_190,
      }),
    );
    await sleep(1100);
    const err = await sqsErrorOf(() =>
      client.send(
        new ChangeMessageVisibilityCommand({
          QueueUrl: url,
          ReceiptHandle: msg!.ReceiptHandle,
          VisibilityTimeout: 43_200,
        }),
      ),
    );
    expect(err.name).toBe('InvalidParameterValue');
    expect(err.message).toContain('Total VisibilityTimeout');
  });
});

describe('batches', () => {
  it('sends a batch with per-entry MD5s and per-entry failures', async () => {
    const url = await sqs.queue('batch-send');
    const out = await client.send(
      new SendMessageBatchCommand({
        QueueUrl: url,
        Entries: [
          {
            Id: 'a',
            MessageBody: 'first',
            MessageAttributes: { k: { DataType: 'String', StringValue: 'v' } },
          },
          { Id: 'b', MessageBody: 'bad \u0000 body' },
          { Id: 'c', MessageBody: 'third', DelaySeconds: 0 },
          { Id: 'd', MessageBody: 'fourth', DelaySeconds: 1000 },
        ],
      }),
    );
    expect(out.Successful!.map((s) => s.Id)).toEqual(['a', 'c']);
    expect(out.Successful![0]).toMatchObject({ MD5OfMessageBody: md5('first') });
    expect(out.Successful![0]!.MD5OfMessageAttributes).toMatch(/^[0-9a-f]{32}$/);
    expect(out.Failed).toEqual([
      expect.objectContaining({ Id: 'b', SenderFault: true, Code: 'InvalidMessageContents' }),
      expect.objectContaining({ Id: 'd', SenderFault: true, Code: 'InvalidParameterValue' }),
    ]);
    expect((await receive(url)).map((m) => m.Body).sort()).toEqual(['first', 'third']);
  });

  it('enforces 1..10 entries, distinct well-formed ids and the 1 MiB total', async () => {
    const url = await sqs.queue('batch-limits');
    const entries = (n: number) =>
      Array.from({ length: n }, (_, i) => ({ Id: `e${i}`, MessageBody: `m${i}` }));
    const send = (Entries: { Id: string; MessageBody: string }[]) =>
      client.send(new SendMessageBatchCommand({ QueueUrl: url, Entries }));
    expect(await sqsErrorOf(() => send(entries(11)))).toMatchObject({
      name: 'TooManyEntriesInBatchRequest',
      status: 400,
      code: 'AWS.SimpleQueueService.TooManyEntriesInBatchRequest',
    });
    expect(await sqsErrorOf(() => send([]))).toMatchObject({ name: 'EmptyBatchRequest', status: 400 });
    expect(
      await sqsErrorOf(() =>
        send([
          { Id: 'x', MessageBody: '1' },
          { Id: 'x', MessageBody: '2' },
        ]),
      ),
    ).toMatchObject({ name: 'BatchEntryIdsNotDistinct', status: 400 });
    expect(await sqsErrorOf(() => send([{ Id: 'no spaces', MessageBody: '1' }]))).toMatchObject({
      name: 'InvalidBatchEntryId',
    });
    const half = 'a'.repeat(600_000);
    expect(
      await sqsErrorOf(() =>
        send([
          { Id: 'a', MessageBody: half },
          { Id: 'b', MessageBody: half },
        ]),
      ),
    ).toMatchObject({ name: 'BatchRequestTooLong', status: 400 });
    expect((await send(entries(10))).Successful).toHaveLength(10);
    expect(await counts(url)).toMatchObject({ ApproximateNumberOfMessages: '10' });
  });

  it('deletes and changes visibility in batches, reporting failures per entry', async () => {
    const url = await sqs.queue('batch-ops');
    await client.send(
      new SendMessageBatchCommand({
        QueueUrl: url,
        Entries: [1, 2, 3].map((i) => ({ Id: `m${i}`, MessageBody: `body${i}` })),
      }),
    );
    const msgs = await receive(url, { VisibilityTimeout: 60 });
    expect(msgs).toHaveLength(3);
    const cmv = await client.send(
      new ChangeMessageVisibilityBatchCommand({
        QueueUrl: url,
        Entries: [
          { Id: 'reveal', ReceiptHandle: msgs[0]!.ReceiptHandle, VisibilityTimeout: 0 },
          { Id: 'bogus', ReceiptHandle: 'bogus', VisibilityTimeout: 0 },
          { Id: 'range', ReceiptHandle: msgs[1]!.ReceiptHandle, VisibilityTimeout: 50_000 },
        ],
      }),
    );
    expect(cmv.Successful).toEqual([{ Id: 'reveal' }]);
    expect(cmv.Failed).toEqual([
      expect.objectContaining({ Id: 'bogus', Code: 'ReceiptHandleIsInvalid', SenderFault: true }),
      expect.objectContaining({ Id: 'range', Code: 'InvalidParameterValue', SenderFault: true }),
    ]);
    const [revealed] = await receive(url);
    expect(revealed!.MessageId).toBe(msgs[0]!.MessageId);

    const del = await client.send(
      new DeleteMessageBatchCommand({
        QueueUrl: url,
        Entries: [
          { Id: 'one', ReceiptHandle: revealed!.ReceiptHandle },
          { Id: 'two', ReceiptHandle: msgs[1]!.ReceiptHandle },
          { Id: 'three', ReceiptHandle: 'not-a-handle' },
        ],
      }),
    );
    expect(del.Successful).toEqual([{ Id: 'one' }, { Id: 'two' }]);
    expect(del.Failed).toEqual([expect.objectContaining({ Id: 'three', Code: 'ReceiptHandleIsInvalid' })]);
    expect(await counts(url)).toMatchObject({ ApproximateNumberOfMessagesNotVisible: '1' });
    expect(
      await sqsErrorOf(() =>
        client.send(
          new DeleteMessageBatchCommand({
            QueueUrl: url,
            Entries: Array.from({ length: 11 }, (_, i) => ({ Id: `d${i}`, ReceiptHandle: 'x' })),
          }),
        ),
      ),
    ).toMatchObject({ name: 'TooManyEntriesInBatchRequest' });
    expect(
      await sqsErrorOf(() =>
        client.send(
          new ChangeMessageVisibilityBatchCommand({
            QueueUrl: url,
            Entries: [
              { Id: 'same', ReceiptHandle: 'x', VisibilityTimeout: 1 },
              { Id: 'same', ReceiptHandle: 'y', VisibilityTimeout: 1 },
            ],
          }),
        ),
      ),
    ).toMatchObject({ name: 'BatchEntryIdsNotDistinct' });
    expect(
      await sqsErrorOf(() => client.send(new DeleteMessageBatchCommand({ QueueUrl: url, Entries: [] }))),
    ).toMatchObject({ name: 'EmptyBatchRequest' });
  });
});

describe('counts', () => {
  it('reports visible, in-flight and delayed messages', async () => {
    const url = await sqs.queue('counts');
    await client.send(new SendMessageCommand({ QueueUrl: url, MessageBody: 'a' }));
    await client.send(new SendMessageCommand({ QueueUrl: url, MessageBody: 'b' }));
    await client.send(new SendMessageCommand({ QueueUrl: url, MessageBody: 'c', DelaySeconds: 60 }));
    await receive(url, { MaxNumberOfMessages: 1 });
    expect(await counts(url)).toEqual({
      ApproximateNumberOfMessages: '1',
      ApproximateNumberOfMessagesNotVisible: '1',
      ApproximateNumberOfMessagesDelayed: '1',
    });
  });
});
