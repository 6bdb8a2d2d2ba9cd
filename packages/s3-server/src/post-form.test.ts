import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { S3Client } from '@aws-sdk/client-s3';
import { createPresignedPost } from '@aws-sdk/s3-presigned-post';
import type { AccessKey } from '@darkroom/aws-auth';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { S3Error } from './errors.ts';
import { readPostUpload } from './post-form.ts';

const KEY: AccessKey = { accessKeyId: 'AKIDPOSTTEST', secretAccessKey: 'post-test-secret' };
const BUCKET = 'photos';
const REGION = 'us-east-1';
const MiB = 1024 * 1024;

interface Observed {
  code?: string;
  bytesRead?: number;
}

// Knobs the tests turn on the server side.
let clockOffsetMs = 0;
let maxObjectBytes = 5 * 1024 * MiB;
let consumerDelayMs = 0;
let observed: Observed = {};
let endpoint = '';
let server: http.Server;

async function handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
  try {
    const upload = await readPostUpload(req, BUCKET, {
      keys: [KEY],
      region: REGION,
      now: new Date(Date.now() + clockOffsetMs),
      maxObjectBytes,
    });
    if (consumerDelayMs > 0) {
      // A slow disk: nothing reads the file for a while, so the body must stay unread too.
      await new Promise((r) => setTimeout(r, consumerDelayMs));
      observed.bytesRead = req.socket.bytesRead;
    }
    const chunks: Buffer[] = [];
    for await (const chunk of upload.file) chunks.push(chunk as Buffer);
    await upload.done;
    const body = Buffer.concat(chunks);
    send(res, 200, {
      key: upload.key,
      contentType: upload.contentType,
      bytes: body.length,
      text: body.length <= 1024 ? body.toString('utf8') : undefined,
      metadata: upload.metadata,
      successActionStatus: upload.successActionStatus,
      successActionRedirect: upload.successActionRedirect,
    });
  } catch (err) {
    if (!(err instanceof S3Error)) {
      send(res, 599, { code: 'NotAnS3Error', message: String(err) });
      return;
    }
    observed.code = err.code;
    observed.bytesRead ??= req.socket.bytesRead;
    send(res, err.status, { code: err.code, status: err.status, message: err.message, fields: err.fields });
  }
}

function send(res: http.ServerResponse, status: number, body: unknown): void {
  if (res.headersSent) return;
  // Part of the body may be unread after an error; closing is how S3 refuses the rest of a large upload.
  res.writeHead(status, { 'content-type': 'application/json', connection: 'close' });
  res.end(JSON.stringify(body));
}

beforeAll(async () => {
  server = http.createServer((req, res) => void handle(req, res));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

beforeEach(() => {
  clockOffsetMs = 0;
  maxObjectBytes = 5 * 1024 * MiB;
  consumerDelayMs = 0;
  observed = {};
});

function client(credentials: AccessKey = KEY, region = REGION): S3Client {
  return new S3Client({ endpoint, forcePathStyle: true, region, credentials });
}

type PresignInput = Parameters<typeof createPresignedPost>[1];

async function presign(input: Omit<PresignInput, 'Bucket'>, s3 = client()) {
  return createPresignedPost(s3, { Bucket: BUCKET, ...input });
}

interface FilePart {
  data: string | Uint8Array<ArrayBuffer>;
  name: string;
  type?: string;
}

interface Answer {
  status: number;
  body: Record<string, unknown> & { code?: string; message?: string };
}

async function submit(url: string, fields: Record<string, string>, file?: FilePart): Promise<Answer> {
  const form = new FormData();
  for (const [name, value] of Object.entries(fields)) form.append(name, value);
  if (file)
    form.append('file', new Blob([file.data], { type: file.type ?? 'application/octet-stream' }), file.name);
  const res = await fetch(url, { method: 'POST', body: form });
  return { status: res.status, body: (await res.json()) as Answer['body'] };
}

/** Serialises a form exactly as fetch would send it, for tests that need to damage the bytes. */
async function encodeForm(url: string, fields: Record<string, string>, file: FilePart) {
  const form = new FormData();
  for (const [name, value] of Object.entries(fields)) form.append(name, value);
  form.append('file', new Blob([file.data]), file.name);
  const probe = new Request(url, { method: 'POST', body: form });
  return { contentType: probe.headers.get('content-type')!, body: Buffer.from(await probe.arrayBuffer()) };
}

async function rawPost(url: string, contentType: string, body: Buffer): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, {
      method: 'POST',
      headers: { 'content-type': contentType, 'content-length': body.length },
    });
    req.on('error', reject);
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, body: JSON.parse(Buffer.concat(chunks).toString('utf8')) }),
      );
    });
    req.end(body);
  });
}

function decodePolicy(policy: string): { expiration: string; conditions: unknown[] } {
  return JSON.parse(Buffer.from(policy, 'base64').toString('utf8'));
}

describe('readPostUpload', () => {
  it('accepts a form from createPresignedPost and fills in the file name', async () => {
    const { url, fields } = await presign({
      // biome-ignore lint/suspicious/noTemplateCurlyInString: S3's key placeholder.
      Key: 'uploads/${filename}',
      Conditions: [['content-length-range', 1, 1024]],
      Fields: { 'Content-Type': 'text/plain', success_action_status: '201' },
    });
    const res = await submit(url, fields, { data: 'hello world', name: 'greeting.txt', type: 'image/png' });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      key: 'uploads/greeting.txt',
      // From the form field, not the file part's own header.
      contentType: 'text/plain',
      bytes: 11,
      text: 'hello world',
      successActionStatus: 201,
    });
  });

  it('carries x-amz-meta-* fields to metadata', async () => {
    const { url, fields } = await presign({
      Key: 'meta.txt',
      Fields: { 'x-amz-meta-Color': 'blue', 'X-Amz-Meta-Owner': 'ada' },
    });
    const res = await submit(url, fields, { data: 'x', name: 'meta.txt' });
    expect(res.status).toBe(200);
    expect(res.body.metadata).toEqual({ color: 'blue', owner: 'ada' });
  });

  it('enforces the 2 KB metadata limit and drops a redirect S3 could not interpret', async () => {
    const big = await presign({ Key: 'm.txt', Fields: { 'x-amz-meta-notes': 'n'.repeat(2100) } });
    const tooBig = await submit(big.url, big.fields, { data: 'x', name: 'm.txt' });
    expect(tooBig.body).toMatchObject({ code: 'MetadataTooLarge', fields: { MaxSizeAllowed: 2048 } });

    const good = await presign({
      Key: 'r.txt',
      Fields: { success_action_redirect: 'https://example.com/done' },
    });
    expect((await submit(good.url, good.fields, { data: 'x', name: 'r' })).body.successActionRedirect).toBe(
      'https://example.com/done',
    );
    const bad = await presign({ Key: 'r.txt', Fields: { success_action_redirect: 'not a url' } });
    const res = await submit(bad.url, bad.fields, { data: 'x', name: 'r' });
    expect(res.status).toBe(200);
    expect(res.body.successActionRedirect).toBeUndefined();
  });

  it('rejects a 20 MiB file against a 1 KiB range without reading the whole body', async () => {
    const { url, fields } = await presign({
      Key: 'big.bin',
      Conditions: [['content-length-range', 0, 1024]],
    });
    const res = await submit(url, fields, { data: new Uint8Array(20 * MiB), name: 'big.bin' });
    expect(res.status).toBe(400);
    expect(res.body.code).toBe('EntityTooLarge');
    expect(res.body.message).toMatch(/exceeds the maximum allowed size/);
    expect(res.body.fields).toMatchObject({ MaxSizeAllowed: 1024 });
    expect(observed.code).toBe('EntityTooLarge');
    expect(observed.bytesRead).toBeLessThan(1 * MiB);
  });

  it('applies maxObjectBytes when the policy has no range', async () => {
    maxObjectBytes = 100;
    const { url, fields } = await presign({ Key: 'big.bin' });
    const res = await submit(url, fields, { data: new Uint8Array(101), name: 'big.bin' });
    expect(res.body).toMatchObject({ code: 'EntityTooLarge', fields: { MaxSizeAllowed: 100 } });
    const exact = await presign({ Key: 'exact.bin' });
    expect((await submit(exact.url, exact.fields, { data: new Uint8Array(100), name: 'e' })).body.bytes).toBe(
      100,
    );
  });

  it('rejects a file under the minimum of the range', async () => {
    const { url, fields } = await presign({
      Key: 'small.bin',
      Conditions: [['content-length-range', 10, 100]],
    });
    const res = await submit(url, fields, { data: 'abc', name: 'small.bin' });
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({
      code: 'EntityTooSmall',
      fields: { ProposedSize: 3, MinSizeAllowed: 10 },
    });
  });

  it('rejects a Content-Type that violates starts-with', async () => {
    const { url, fields } = await presign({
      Key: 'photo.jpg',
      Conditions: [['starts-with', '$Content-Type', 'image/']],
    });
    const res = await submit(
      url,
      { ...fields, 'Content-Type': 'text/html' },
      { data: 'x', name: 'photo.jpg' },
    );
    expect(res.status).toBe(403);
    expect(res.body.code).toBe('AccessDenied');
    expect(res.body.message).toBe(
      'Invalid according to Policy: Policy Condition failed: ["starts-with", "$Content-Type", "image/"]',
    );
    const ok = await submit(
      url,
      { ...fields, 'Content-Type': 'image/png, image/jpeg' },
      { data: 'x', name: 'p' },
    );
    expect(ok.status).toBe(200);
    const mixed = await submit(
      url,
      { ...fields, 'Content-Type': 'image/png,text/html' },
      { data: 'x', name: 'p' },
    );
    expect(mixed.body.code).toBe('AccessDenied');
  });

  it('rejects a key that violates eq', async () => {
    const { url, fields } = await presign({ Key: 'a.txt', Conditions: [['eq', '$key', 'a.txt']] });
    const res = await submit(url, { ...fields, key: 'b.txt' }, { data: 'x', name: 'a.txt' });
    expect(res.status).toBe(403);
    expect(res.body.message).toBe(
      'Invalid according to Policy: Policy Condition failed: ["eq", "$key", "a.txt"]',
    );
  });

  it('rejects a key that violates starts-with', async () => {
    // biome-ignore lint/suspicious/noTemplateCurlyInString: S3's key placeholder.
    const { url, fields } = await presign({ Key: 'uploads/${filename}' });
    // biome-ignore lint/suspicious/noTemplateCurlyInString: S3's key placeholder.
    const res = await submit(url, { ...fields, key: 'private/${filename}' }, { data: 'x', name: 'a.txt' });
    expect(res.status).toBe(403);
    expect(res.body.message).toBe(
      'Invalid according to Policy: Policy Condition failed: ["starts-with", "$key", "uploads/"]',
    );
  });

  it('rejects an expired policy', async () => {
    const { url, fields } = await presign({ Key: 'late.txt', Expires: 60 });
    clockOffsetMs = 61_000;
    const res = await submit(url, fields, { data: 'x', name: 'late.txt' });
    expect(res.status).toBe(403);
    expect(res.body).toMatchObject({
      code: 'AccessDenied',
      message: 'Invalid according to Policy: Policy expired.',
    });
  });

  it('rejects a tampered policy', async () => {
    const { url, fields } = await presign({ Key: 'a.txt' });
    const policy = decodePolicy(fields.Policy!);
    policy.conditions = policy.conditions.map((c) =>
      JSON.stringify(c) === '{"key":"a.txt"}' ? { key: 'b.txt' } : c,
    );
    const forged = {
      ...fields,
      key: 'b.txt',
      Policy: Buffer.from(JSON.stringify(policy)).toString('base64'),
    };
    const res = await submit(url, forged, { data: 'x', name: 'b.txt' });
    expect(res.status).toBe(403);
    expect(res.body.code).toBe('SignatureDoesNotMatch');
  });

  it('refuses a correctly signed form dated 20260231 (a regex date check let it through)', async () => {
    const { url } = await presign({ Key: 'a.txt' });
    const amzDate = '20260231T000000Z';
    const credential = `${KEY.accessKeyId}/20260231/${REGION}/s3/aws4_request`;
    const policy = Buffer.from(
      JSON.stringify({
        expiration: new Date(Date.now() + 3_600_000).toISOString(),
        conditions: [
          { bucket: BUCKET },
          { key: 'a.txt' },
          { 'x-amz-algorithm': 'AWS4-HMAC-SHA256' },
          { 'x-amz-credential': credential },
          { 'x-amz-date': amzDate },
        ],
      }),
    ).toString('base64');
    const { getSigningKey } = await import('@smithy/signature-v4');
    const { Sha256 } = await import('@aws-crypto/sha256-js');
    const h = new Sha256(await getSigningKey(Sha256, KEY, '20260231', REGION, 's3'));
    h.update(policy);
    const signature = Buffer.from(await h.digest()).toString('hex');
    const fields = {
      key: 'a.txt',
      Policy: policy,
      'X-Amz-Algorithm': 'AWS4-HMAC-SHA256',
      'X-Amz-Credential': credential,
      'X-Amz-Date': amzDate,
      'X-Amz-Signature': signature,
    };
    const res = await submit(url, fields, { data: 'x', name: 'a.txt' });
    expect(res.status).toBe(400);
    expect(res.body.code).toBe('AuthorizationQueryParametersError');
  });

  it('rejects a form signed with the wrong secret', async () => {
    const { url, fields } = await presign(
      { Key: 'a.txt' },
      client({ ...KEY, secretAccessKey: 'not-the-secret' }),
    );
    const res = await submit(url, fields, { data: 'x', name: 'a.txt' });
    expect(res.status).toBe(403);
    expect(res.body).toMatchObject({
      code: 'SignatureDoesNotMatch',
      fields: { AWSAccessKeyId: KEY.accessKeyId },
    });
  });

  it('rejects an unknown access key id', async () => {
    const { url, fields } = await presign(
      { Key: 'a.txt' },
      client({ accessKeyId: 'AKIDNOBODY', secretAccessKey: 's' }),
    );
    const res = await submit(url, fields, { data: 'x', name: 'a.txt' });
    expect(res.status).toBe(403);
    expect(res.body).toMatchObject({ code: 'InvalidAccessKeyId', fields: { AWSAccessKeyId: 'AKIDNOBODY' } });
  });

  it('rejects a credential scoped to another region and names the expected one', async () => {
    const { url, fields } = await presign({ Key: 'a.txt' }, client(KEY, 'eu-west-1'));
    const res = await submit(url, fields, { data: 'x', name: 'a.txt' });
    expect(res.status).toBe(400);
    expect(res.body.code).toBe('AuthorizationQueryParametersError');
    expect(res.body.message).toContain("the region 'eu-west-1' is wrong; expecting 'us-east-1'");
    expect(res.body.fields).toEqual({ Region: 'us-east-1' });
  });

  it('rejects a field the policy does not mention, but ignores x-ignore-* fields', async () => {
    const { url, fields } = await presign({ Key: 'a.txt' });
    const res = await submit(url, { ...fields, 'x-amz-meta-sneaky': '1' }, { data: 'x', name: 'a.txt' });
    expect(res.status).toBe(403);
    expect(res.body.message).toBe('Invalid according to Policy: Extra input fields: x-amz-meta-sneaky');
    const ignored = await submit(url, { ...fields, 'x-ignore-tracking': '1' }, { data: 'x', name: 'a.txt' });
    expect(ignored.status).toBe(200);
  });

  it('ignores fields after the file', async () => {
    const { url, fields } = await presign({ Key: 'a.txt' });
    const form = new FormData();
    for (const [name, value] of Object.entries(fields)) form.append(name, value);
    form.append('file', new Blob(['body']), 'a.txt');
    form.append('x-amz-meta-late', 'not covered, but after the file');
    const res = await fetch(url, { method: 'POST', body: form });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ text: 'body', metadata: {} });
  });

  it('requires a file', async () => {
    const { url, fields } = await presign({ Key: 'a.txt' });
    const res = await submit(url, fields);
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({
      code: 'InvalidArgument',
      message: 'POST requires exactly one file upload per request.',
    });
  });

  it('requires a signature: no anonymous uploads', async () => {
    const { url } = await presign({ Key: 'a.txt' });
    const res = await submit(url, { key: 'a.txt' }, { data: 'x', name: 'a.txt' });
    expect(res.status).toBe(403);
    expect(res.body.code).toBe('AccessDenied');
  });

  it('names a missing signature field', async () => {
    const { url, fields } = await presign({ Key: 'a.txt' });
    const { 'X-Amz-Signature': _, ...unsigned } = fields;
    const res = await submit(url, unsigned, { data: 'x', name: 'a.txt' });
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ code: 'InvalidArgument', fields: { ArgumentName: 'X-Amz-Signature' } });
  });

  it('rejects garbage multipart bodies and non-multipart requests', async () => {
    const { url } = await presign({ Key: 'a.txt' });
    const garbage = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'multipart/form-data; boundary=xyz' },
      body: 'this is not multipart at all',
    });
    expect(garbage.status).toBe(400);
    expect(((await garbage.json()) as Answer['body']).code).toBe('MalformedPOSTRequest');

    const noBoundary = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'multipart/form-data' },
      body: '--x\r\n',
    });
    expect(((await noBoundary.json()) as Answer['body']).code).toBe('MalformedPOSTRequest');

    const json = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{}',
    });
    expect(json.status).toBe(412);
    expect(await json.json()).toMatchObject({
      code: 'PreconditionFailed',
      fields: { Condition: 'Bucket POST must be of the enclosure-type multipart/form-data' },
    });
  });

  it('rejects a signed but undecodable policy as InvalidPolicyDocument', async () => {
    const { url, fields } = await presign({ Key: 'a.txt' });
    // Re-sign a broken policy with the real key so only the document itself is at fault.
    const { getSigningKey } = await import('@smithy/signature-v4');
    const { Sha256 } = await import('@aws-crypto/sha256-js');
    const date = fields['X-Amz-Date']!.slice(0, 8);
    const signingKey = await getSigningKey(Sha256, KEY, date, REGION, 's3');
    const sign = async (policy: string) => {
      const h = new Sha256(signingKey);
      h.update(policy);
      return Buffer.from(await h.digest()).toString('hex');
    };
    for (const [policy, message] of [
      [Buffer.from('{not json').toString('base64'), /Invalid JSON/],
      ['***', /not valid base64/],
      [Buffer.from('{"conditions":[]}').toString('base64'), /missing expiration/],
    ] as const) {
      const res = await submit(
        url,
        { ...fields, Policy: policy, 'X-Amz-Signature': await sign(policy) },
        {
          data: 'x',
          name: 'a.txt',
        },
      );
      expect(res.status).toBe(400);
      expect(res.body.code).toBe('InvalidPolicyDocument');
      expect(res.body.message).toMatch(message);
    }
  });

  it('holds the request body back while the consumer is slow', async () => {
    consumerDelayMs = 300;
    const { url, fields } = await presign({ Key: 'slow.bin' });
    const res = await submit(url, fields, { data: new Uint8Array(32 * MiB), name: 'slow.bin' });
    expect(res.status).toBe(200);
    expect(res.body.bytes).toBe(32 * MiB);
    expect(observed.bytesRead).toBeLessThan(4 * MiB);
  });

  it('bounds the number and size of fields before the file', async () => {
    const { url, fields } = await presign({ Key: 'a.txt' });
    const many = Object.fromEntries(Array.from({ length: 120 }, (_, i) => [`x-ignore-${i}`, 'v']));
    const tooMany = await submit(url, { ...fields, ...many }, { data: 'x', name: 'a.txt' });
    expect(tooMany.body).toMatchObject({ code: 'MaxMessageLengthExceeded' });
    expect(tooMany.body.message).toMatch(/more than 100 fields/);
    const huge = await submit(
      url,
      { ...fields, 'x-ignore-big': 'y'.repeat(30 * 1024) },
      { data: 'x', name: 'a' },
    );
    expect(huge.body).toMatchObject({ code: 'MaxMessageLengthExceeded' });
    expect(huge.body.message).toMatch(/'x-ignore-big' exceeds 20480 bytes/);
  });

  it('rejects done when the form is cut off after the file', async () => {
    const { url, fields } = await presign({ Key: 'tail.txt' });
    const { contentType, body } = await encodeForm(url, fields, { data: 'complete file', name: 'tail.txt' });
    // Drop the closing "--\r\n": the file part is whole, the form is not.
    const res = await rawPost(url, contentType, body.subarray(0, body.length - 4));
    expect(res.status).toBe(400);
    expect(res.body.code).toBe('MalformedPOSTRequest');
  });

  it('errors the file stream when the client disconnects mid-upload', async () => {
    const { url, fields } = await presign({ Key: 'cut.bin' });
    const { contentType, body } = await encodeForm(url, fields, {
      data: new Uint8Array(64 * 1024),
      name: 'cut.bin',
    });
    const settled = new Promise<void>((resolve) => {
      const check = setInterval(() => {
        if (observed.code) {
          clearInterval(check);
          resolve();
        }
      }, 10);
    });
    const req = http.request(url, {
      method: 'POST',
      headers: { 'content-type': contentType, 'content-length': body.length },
    });
    req.on('error', () => {});
    req.write(body.subarray(0, body.length - 20 * 1024));
    setTimeout(() => req.destroy(), 100);
    await settled;
    expect(observed.code).toBe('IncompleteBody');
  });
});
