import { Sha256 } from '@aws-crypto/sha256-js';
import {
  ListQueuesCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REGION, SECOND_KEY, sqsErrorOf, startTestSqs, TEST_KEY, type TestSqs } from './support.ts';

let sqs: TestSqs;
let client: SQSClient;

beforeAll(async () => {
  sqs = await startTestSqs();
  client = sqs.client();
});
afterAll(() => sqs.stop());

interface RawOptions {
  action?: string | undefined;
  body?: string;
  service?: string;
  credentials?: { accessKeyId: string; secretAccessKey: string };
  /** Sent instead of the signed body. */
  sendBody?: string;
  contentType?: string;
}

/** A SigV4-signed request as the SDK would send it, made by hand so the wire format can be checked. */
async function raw(opts: RawOptions = {}): Promise<{ status: number; headers: Headers; text: string }> {
  const url = new URL(sqs.endpoint);
  const body = opts.body ?? '{}';
  const headers: Record<string, string> = {
    host: url.host,
    'content-type': opts.contentType ?? 'application/x-amz-json-1.0',
  };
  if (opts.action !== undefined) headers['x-amz-target'] = `AmazonSQS.${opts.action}`;
  const signer = new SignatureV4({
    service: opts.service ?? 'sqs',
    region: REGION,
    credentials: opts.credentials ?? TEST_KEY,
    sha256: Sha256,
  });
  const signed = await signer.sign(
    new HttpRequest({
      method: 'POST',
      protocol: 'http:',
      hostname: url.hostname,
      port: Number(url.port),
      path: '/',
      headers,
      body,
    }),
  );
  const res = await fetch(`${sqs.endpoint}/`, {
    method: 'POST',
    headers: signed.headers,
    body: opts.sendBody ?? body,
  });
  return { status: res.status, headers: res.headers, text: await res.text() };
}

describe('JSON protocol on the wire', () => {
  it('answers with application/x-amz-json-1.0 and a request id', async () => {
    const res = await raw({ action: 'ListQueues' });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/x-amz-json-1.0');
    expect(res.headers.get('x-amzn-requestid')).toMatch(/^[0-9a-f-]{36}$/);
    expect(() => JSON.parse(res.text)).not.toThrow();
  });

  it('renders errors as SQS does: __type, message, and x-amzn-query-error', async () => {
    const res = await raw({ action: 'GetQueueUrl', body: JSON.stringify({ QueueName: 'missing' }) });
    expect(res.status).toBe(400);
    expect(JSON.parse(res.text)).toEqual({
      __type: 'com.amazonaws.sqs#QueueDoesNotExist',
      message: 'The specified queue does not exist.',
    });
    expect(res.headers.get('x-amzn-query-error')).toBe('AWS.SimpleQueueService.NonExistentQueue;Sender');
  });

  it('answers an unknown action, a missing target and a malformed body', async () => {
    const unknown = await raw({ action: 'MakeCoffee' });
    expect(unknown.status).toBe(400);
    expect(JSON.parse(unknown.text).__type).toBe('com.amazon.coral.service#UnknownOperationException');
    expect(unknown.headers.get('x-amzn-query-error')).toBe('InvalidAction;Sender');
    const untargeted = await raw({ action: undefined });
    expect(untargeted.headers.get('x-amzn-query-error')).toBe('InvalidAction;Sender');
    const malformed = await raw({ action: 'ListQueues', body: '{not json' });
    expect(malformed.status).toBe(400);
    expect(JSON.parse(malformed.text).__type).toBe('com.amazon.coral.service#SerializationException');
    const array = await raw({ action: 'ListQueues', body: '[]' });
    expect(array.status).toBe(400);
  });

  it('refuses query-protocol requests with the query protocol’s XML error', async () => {
    const res = await fetch(`${sqs.endpoint}/?Action=ListQueues&Version=2012-11-05`);
    expect(res.status).toBe(400);
    const text = await res.text();
    expect(text).toContain('<Code>InvalidAction</Code>');
    expect(text).toContain('JSON protocol');
    const form = await fetch(`${sqs.endpoint}/`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'Action=ListQueues',
    });
    expect(form.status).toBe(400);
    expect(await form.text()).toContain('<Code>InvalidAction</Code>');
  });

  it('reports a missing required parameter as MissingParameter', async () => {
    const res = await raw({ action: 'SendMessage', body: JSON.stringify({ MessageBody: 'x' }) });
    expect(res.status).toBe(400);
    expect(res.headers.get('x-amzn-query-error')).toBe('MissingParameter;Sender');
    expect(JSON.parse(res.text).message).toBe('The request must contain the parameter QueueUrl.');
  });
});

describe('SigV4 authentication (same key pairs as S3)', () => {
  it('accepts every configured key pair', async () => {
    const second = sqs.client({ credentials: SECOND_KEY });
    await second.send(new ListQueuesCommand({}));
  });

  it('refuses an unknown key, a wrong secret, a wrong region and the s3 signing scope', async () => {
    const unknown = sqs.client({ credentials: { accessKeyId: 'NOPE', secretAccessKey: 'x' } });
    expect(await sqsErrorOf(() => unknown.send(new ListQueuesCommand({})))).toMatchObject({
      name: 'InvalidClientTokenId',
      status: 403,
    });
    const wrongSecret = sqs.client({
      credentials: { accessKeyId: TEST_KEY.accessKeyId, secretAccessKey: 'wrong' },
    });
    expect(await sqsErrorOf(() => wrongSecret.send(new ListQueuesCommand({})))).toMatchObject({
      name: 'SignatureDoesNotMatch',
      status: 403,
    });
    const wrongRegion = sqs.client({ region: 'eu-west-1' });
    expect(await sqsErrorOf(() => wrongRegion.send(new ListQueuesCommand({})))).toMatchObject({
      name: 'SignatureDoesNotMatch',
      status: 403,
    });
    const s3Scoped = await raw({ action: 'ListQueues', service: 's3' });
    expect(s3Scoped.status).toBe(403);
    expect(s3Scoped.headers.get('x-amzn-query-error')).toBe('SignatureDoesNotMatch;Sender');
  });

  it('refuses unsigned requests and bodies changed after signing', async () => {
    const unsigned = await fetch(`${sqs.endpoint}/`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-amz-json-1.0', 'x-amz-target': 'AmazonSQS.ListQueues' },
      body: '{}',
    });
    expect(unsigned.status).toBe(403);
    expect(unsigned.headers.get('x-amzn-query-error')).toBe('MissingAuthenticationToken;Sender');
    const url = `${sqs.endpoint}/000000000000/anything`;
    const tampered = await raw({
      action: 'SendMessage',
      body: JSON.stringify({ QueueUrl: url, MessageBody: 'signed' }),
      sendBody: JSON.stringify({ QueueUrl: url, MessageBody: 'forged' }),
    });
    expect(tampered.status).toBe(403);
    expect(tampered.headers.get('x-amzn-query-error')).toBe('SignatureDoesNotMatch;Sender');
  });

  it('records the signer as the SenderId', async () => {
    const url = await sqs.queue('sender-id');
    await sqs
      .client({ credentials: SECOND_KEY })
      .send(new SendMessageCommand({ QueueUrl: url, MessageBody: 'x' }));
    const out = await client.send(
      new ReceiveMessageCommand({ QueueUrl: url, MessageSystemAttributeNames: ['SenderId'] }),
    );
    expect(out.Messages![0]!.Attributes).toEqual({ SenderId: SECOND_KEY.accessKeyId });
  });
});
