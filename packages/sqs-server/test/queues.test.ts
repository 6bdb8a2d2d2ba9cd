import {
  CreateQueueCommand,
  DeleteQueueCommand,
  GetQueueAttributesCommand,
  GetQueueUrlCommand,
  ListQueuesCommand,
  ListQueueTagsCommand,
  PurgeQueueCommand,
  SendMessageCommand,
  SetQueueAttributesCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { queueName, REGION, sleep, sqsErrorOf, startTestSqs, type TestSqs } from './support.ts';

let sqs: TestSqs;
let client: SQSClient;

beforeAll(async () => {
  sqs = await startTestSqs();
  client = sqs.client();
});
afterAll(() => sqs.stop());

const attributesOf = async (QueueUrl: string, AttributeNames: string[] = ['All']) =>
  (await client.send(new GetQueueAttributesCommand({ QueueUrl, AttributeNames: AttributeNames as never })))
    .Attributes ?? {};

describe('CreateQueue', () => {
  it('returns http://host:port/000000000000/{name}', async () => {
    const out = await client.send(new CreateQueueCommand({ QueueName: 'plain-queue' }));
    expect(out.QueueUrl).toBe(`${sqs.endpoint}/000000000000/plain-queue`);
  });

  it('is idempotent with the same attributes, or none, and refuses different ones', async () => {
    const Attributes = { VisibilityTimeout: '45', DelaySeconds: '2' };
    const first = await client.send(new CreateQueueCommand({ QueueName: 'idem', Attributes }));
    const again = await client.send(new CreateQueueCommand({ QueueName: 'idem', Attributes }));
    expect(again.QueueUrl).toBe(first.QueueUrl);
    const subset = await client.send(
      new CreateQueueCommand({ QueueName: 'idem', Attributes: { VisibilityTimeout: '45' } }),
    );
    expect(subset.QueueUrl).toBe(first.QueueUrl);
    expect((await client.send(new CreateQueueCommand({ QueueName: 'idem' }))).QueueUrl).toBe(first.QueueUrl);
    const err = await sqsErrorOf(() =>
      client.send(new CreateQueueCommand({ QueueName: 'idem', Attributes: { VisibilityTimeout: '46' } })),
    );
    // The SDK maps the query code QueueAlreadyExists to its modelled QueueNameExists class, as against AWS.
    expect(err).toMatchObject({ name: 'QueueNameExists', code: 'QueueAlreadyExists', status: 400 });
    expect(err.message).toContain('VisibilityTimeout');
  });

  it('validates names', async () => {
    for (const QueueName of ['has space', 'x'.repeat(81), 'dot.name', 'ünï']) {
      expect(await sqsErrorOf(() => client.send(new CreateQueueCommand({ QueueName })))).toMatchObject({
        name: 'InvalidParameterValue',
        status: 400,
      });
    }
    expect((await client.send(new CreateQueueCommand({ QueueName: 'A-z_0'.padEnd(80, 'q') }))).QueueUrl).toBe(
      `${sqs.endpoint}/000000000000/${'A-z_0'.padEnd(80, 'q')}`,
    );
    expect(
      (await sqsErrorOf(() => client.send(new CreateQueueCommand({ QueueName: 'jobs.fifo' })))).name,
    ).toBe('UnsupportedOperation');
    expect(
      (
        await sqsErrorOf(() =>
          client.send(new CreateQueueCommand({ QueueName: 'f', Attributes: { FifoQueue: 'true' } })),
        )
      ).name,
    ).toBe('UnsupportedOperation');
    expect((await sqsErrorOf(() => client.send(new CreateQueueCommand({ QueueName: '' })))).name).toBe(
      'MissingParameter',
    );
  });

  it('validates attribute names and ranges as SQS does', async () => {
    expect(
      await sqsErrorOf(() =>
        client.send(
          new CreateQueueCommand({ QueueName: 'bad-attr', Attributes: { Colour: 'blue' } as never }),
        ),
      ),
    ).toMatchObject({ name: 'InvalidAttributeName', status: 400 });
    const outOfRange: Record<string, string>[] = [
      { VisibilityTimeout: '43201' },
      { VisibilityTimeout: '-1' },
      { VisibilityTimeout: 'soon' },
      { DelaySeconds: '901' },
      { MessageRetentionPeriod: '59' },
      { MessageRetentionPeriod: '1209601' },
      { MaximumMessageSize: '1023' },
      { MaximumMessageSize: '1048577' },
      { ReceiveMessageWaitTimeSeconds: '21' },
      { SqsManagedSseEnabled: 'maybe' },
    ];
    for (const Attributes of outOfRange) {
      const err = await sqsErrorOf(() =>
        client.send(new CreateQueueCommand({ QueueName: 'bad-range', Attributes })),
      );
      expect(err, JSON.stringify(Attributes)).toMatchObject({ name: 'InvalidAttributeValue', status: 400 });
    }
    const edges = {
      VisibilityTimeout: '43200',
      DelaySeconds: '900',
      MessageRetentionPeriod: '60',
      MaximumMessageSize: '1024',
      ReceiveMessageWaitTimeSeconds: '20',
    };
    const url = await sqs.queue('edges', edges);
    expect(await attributesOf(url)).toMatchObject(edges);
  });
});

describe('GetQueueUrl', () => {
  it('finds a queue by name, and answers QueueDoesNotExist otherwise', async () => {
    const url = await sqs.queue('findable');
    const out = await client.send(new GetQueueUrlCommand({ QueueName: queueName(url) }));
    expect(out.QueueUrl).toBe(url);
    const owned = await client.send(
      new GetQueueUrlCommand({ QueueName: queueName(url), QueueOwnerAWSAccountId: '000000000000' }),
    );
    expect(owned.QueueUrl).toBe(url);
    const missing = await sqsErrorOf(() =>
      client.send(new GetQueueUrlCommand({ QueueName: 'never-created' })),
    );
    expect(missing).toMatchObject({
      name: 'QueueDoesNotExist',
      status: 400,
      code: 'AWS.SimpleQueueService.NonExistentQueue',
      message: 'The specified queue does not exist.',
    });
    expect(
      (
        await sqsErrorOf(() =>
          client.send(
            new GetQueueUrlCommand({ QueueName: queueName(url), QueueOwnerAWSAccountId: '123456789012' }),
          ),
        )
      ).name,
    ).toBe('QueueDoesNotExist');
  });
});

describe('ListQueues', () => {
  it('filters by prefix and pages with MaxResults/NextToken', async () => {
    const names = ['lst-a', 'lst-b', 'lst-c', 'lst-d', 'lst-e'];
    for (const QueueName of names) await client.send(new CreateQueueCommand({ QueueName }));
    await client.send(new CreateQueueCommand({ QueueName: 'other-lst' }));
    const all = await client.send(new ListQueuesCommand({ QueueNamePrefix: 'lst-' }));
    expect(all.QueueUrls).toEqual(names.map((n) => `${sqs.endpoint}/000000000000/${n}`));
    expect(all.NextToken).toBeUndefined();

    const seen: string[] = [];
    let NextToken: string | undefined;
    let pages = 0;
    do {
      const page = await client.send(
        new ListQueuesCommand({ QueueNamePrefix: 'lst-', MaxResults: 2, NextToken }),
      );
      seen.push(...(page.QueueUrls ?? []).map(queueName));
      NextToken = page.NextToken;
      pages++;
    } while (NextToken);
    expect(seen).toEqual(names);
    expect(pages).toBe(3);

    const none = await client.send(new ListQueuesCommand({ QueueNamePrefix: 'nothing-here' }));
    expect(none.QueueUrls ?? []).toEqual([]);
    expect((await sqsErrorOf(() => client.send(new ListQueuesCommand({ MaxResults: 0 })))).name).toBe(
      'InvalidParameterValue',
    );
    expect((await sqsErrorOf(() => client.send(new ListQueuesCommand({ MaxResults: 1001 })))).name).toBe(
      'InvalidParameterValue',
    );
    expect(
      (await sqsErrorOf(() => client.send(new ListQueuesCommand({ MaxResults: 1, NextToken: 'garbage!' }))))
        .name,
    ).toBe('InvalidParameterValue');
  });
});

describe('GetQueueAttributes / SetQueueAttributes', () => {
  it('reports defaults, computed attributes and named subsets', async () => {
    const before = Math.floor(Date.now() / 1000);
    const url = await sqs.queue('attrs');
    const all = await attributesOf(url);
    expect(all).toMatchObject({
      QueueArn: `arn:aws:sqs:${REGION}:000000000000:${queueName(url)}`,
      ApproximateNumberOfMessages: '0',
      ApproximateNumberOfMessagesNotVisible: '0',
      ApproximateNumberOfMessagesDelayed: '0',
      VisibilityTimeout: '30',
      MaximumMessageSize: '1048576',
      MessageRetentionPeriod: '345600',
      DelaySeconds: '0',
      ReceiveMessageWaitTimeSeconds: '0',
      SqsManagedSseEnabled: 'true',
    });
    expect(all.RedrivePolicy).toBeUndefined();
    expect(Number(all.CreatedTimestamp)).toBeGreaterThanOrEqual(before);
    expect(Number(all.CreatedTimestamp)).toBeLessThanOrEqual(before + 2);
    expect(all.LastModifiedTimestamp).toBe(all.CreatedTimestamp);

    expect(await attributesOf(url, ['VisibilityTimeout', 'QueueArn'])).toEqual({
      VisibilityTimeout: '30',
      QueueArn: all.QueueArn,
    });
    expect((await client.send(new GetQueueAttributesCommand({ QueueUrl: url }))).Attributes ?? {}).toEqual(
      {},
    );
    expect(await sqsErrorOf(() => attributesOf(url, ['VisibilityTimeout', 'Colour']))).toMatchObject({
      name: 'InvalidAttributeName',
      status: 400,
    });
  });

  it('changes attributes, validating them, and moves LastModifiedTimestamp', async () => {
    const url = await sqs.queue('settable');
    const created = Number((await attributesOf(url, ['LastModifiedTimestamp'])).LastModifiedTimestamp);
    await sleep(1100);
    await client.send(
      new SetQueueAttributesCommand({
        QueueUrl: url,
        Attributes: { VisibilityTimeout: '120', ReceiveMessageWaitTimeSeconds: '5' },
      }),
    );
    const after = await attributesOf(url);
    expect(after).toMatchObject({ VisibilityTimeout: '120', ReceiveMessageWaitTimeSeconds: '5' });
    expect(Number(after.LastModifiedTimestamp)).toBeGreaterThan(created);
    expect(
      await sqsErrorOf(() =>
        client.send(
          new SetQueueAttributesCommand({ QueueUrl: url, Attributes: { VisibilityTimeout: '99999' } }),
        ),
      ),
    ).toMatchObject({ name: 'InvalidAttributeValue' });
    expect(
      await sqsErrorOf(() =>
        client.send(new SetQueueAttributesCommand({ QueueUrl: url, Attributes: { QueueArn: 'x' } as never })),
      ),
    ).toMatchObject({ name: 'InvalidAttributeName' });
    expect((await attributesOf(url, ['VisibilityTimeout'])).VisibilityTimeout).toBe('120');
  });

  it('validates RedrivePolicy: JSON, maxReceiveCount 1..1000, an existing target; "" removes it', async () => {
    const dlq = await sqs.queue('dlq');
    const dlqArn = (await attributesOf(dlq, ['QueueArn'])).QueueArn!;
    const url = await sqs.queue('with-dlq');
    const set = (RedrivePolicy: string) =>
      client.send(new SetQueueAttributesCommand({ QueueUrl: url, Attributes: { RedrivePolicy } }));
    for (const bad of [
      'not json',
      '[]',
      JSON.stringify({ deadLetterTargetArn: dlqArn }),
      JSON.stringify({ deadLetterTargetArn: dlqArn, maxReceiveCount: 0 }),
      JSON.stringify({ deadLetterTargetArn: dlqArn, maxReceiveCount: 1001 }),
      JSON.stringify({ deadLetterTargetArn: `${dlqArn}-missing`, maxReceiveCount: 3 }),
      JSON.stringify({ deadLetterTargetArn: dlqArn.replace(REGION, 'eu-west-3'), maxReceiveCount: 3 }),
    ]) {
      expect(await sqsErrorOf(() => set(bad)), bad).toMatchObject({
        name: 'InvalidParameterValue',
        status: 400,
      });
    }
    expect(
      (
        await sqsErrorOf(() =>
          set(JSON.stringify({ deadLetterTargetArn: `${dlqArn}-missing`, maxReceiveCount: 3 })),
        )
      ).message,
    ).toContain('Dead letter target does not exist');
    // maxReceiveCount may be a number or a numeric string; it is stored as a number.
    await set(JSON.stringify({ deadLetterTargetArn: dlqArn, maxReceiveCount: '4' }));
    expect(JSON.parse((await attributesOf(url)).RedrivePolicy!)).toEqual({
      deadLetterTargetArn: dlqArn,
      maxReceiveCount: 4,
    });
    await set('');
    expect((await attributesOf(url)).RedrivePolicy).toBeUndefined();
  });
});

describe('DeleteQueue and PurgeQueue', () => {
  it('deletes a queue and its messages; later calls answer QueueDoesNotExist', async () => {
    const url = await sqs.queue('doomed');
    await client.send(new SendMessageCommand({ QueueUrl: url, MessageBody: 'bye' }));
    await client.send(new DeleteQueueCommand({ QueueUrl: url }));
    for (const call of [
      () => client.send(new GetQueueUrlCommand({ QueueName: queueName(url) })),
      () => client.send(new SendMessageCommand({ QueueUrl: url, MessageBody: 'x' })),
      () => client.send(new DeleteQueueCommand({ QueueUrl: url })),
      () => client.send(new PurgeQueueCommand({ QueueUrl: url })),
    ]) {
      expect((await sqsErrorOf(call)).name).toBe('QueueDoesNotExist');
    }
    // Recreating it at once is allowed here (AWS asks for 60 s) and starts empty.
    await client.send(new CreateQueueCommand({ QueueName: queueName(url) }));
    expect((await attributesOf(url, ['ApproximateNumberOfMessages'])).ApproximateNumberOfMessages).toBe('0');
  });

  it('purges every message, visible or not', async () => {
    const url = await sqs.queue('purgeable');
    for (let i = 0; i < 3; i++)
      await client.send(new SendMessageCommand({ QueueUrl: url, MessageBody: `m${i}` }));
    await client.send(new SendMessageCommand({ QueueUrl: url, MessageBody: 'later', DelaySeconds: 60 }));
    expect((await attributesOf(url)).ApproximateNumberOfMessagesDelayed).toBe('1');
    await client.send(new PurgeQueueCommand({ QueueUrl: url }));
    // Purging twice in a row is allowed (AWS would say PurgeQueueInProgress within 60 s).
    await client.send(new PurgeQueueCommand({ QueueUrl: url }));
    expect(
      await attributesOf(url, ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesDelayed']),
    ).toEqual({
      ApproximateNumberOfMessages: '0',
      ApproximateNumberOfMessagesDelayed: '0',
    });
  });
});

describe('addressing and unsupported operations', () => {
  it('answers a malformed QueueUrl with InvalidAddress and another account with QueueDoesNotExist', async () => {
    const c = sqs.client({ useQueueUrlAsEndpoint: false });
    expect(await sqsErrorOf(() => c.send(new PurgeQueueCommand({ QueueUrl: 'not a url' })))).toMatchObject({
      name: 'InvalidAddress',
      status: 404,
    });
    expect(
      (
        await sqsErrorOf(() =>
          c.send(new PurgeQueueCommand({ QueueUrl: `${sqs.endpoint}/123456789012/plain-queue` })),
        )
      ).name,
    ).toBe('QueueDoesNotExist');
  });

  it('answers known but unimplemented operations with UnsupportedOperation', async () => {
    const url = await sqs.queue('tags');
    expect(await sqsErrorOf(() => client.send(new ListQueueTagsCommand({ QueueUrl: url })))).toMatchObject({
      name: 'UnsupportedOperation',
      status: 400,
    });
  });
});
