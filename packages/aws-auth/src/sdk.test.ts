import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { Crc32 } from '@aws-crypto/crc32';
import {
  GetObjectCommand,
  PutObjectCommand,
  S3Client,
  type S3ClientConfig,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createChunkedDecoder, isChunkedPayload } from './aws-chunked.ts';
import { AwsRequestError } from './errors.ts';
import { parseQuery, type VerifiedAuth, verifySignature } from './sigv4.ts';

// End to end over real node:http: whatever node does to headers and paths on the wire is in play here.

const REGION = 'us-east-1';
const KEY = { accessKeyId: 'darkroom-test', secretAccessKey: 'darkroom-test-secret' };

interface Seen {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  auth?: VerifiedAuth;
  body?: Buffer;
  trailers?: Record<string, string>;
  error?: AwsRequestError;
}

const seen: Seen[] = [];
let server: http.Server;
let endpoint: string;

function xmlEscape(text: string): string {
  return text.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

async function handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
  const url = req.url ?? '/';
  const q = url.indexOf('?');
  const record: Seen = { method: req.method ?? '', url, headers: req.headers };
  seen.push(record);
  try {
    const auth = await verifySignature(
      {
        method: req.method ?? 'GET',
        rawPath: q < 0 ? url : url.slice(0, q),
        query: parseQuery(q < 0 ? '' : url.slice(q + 1)),
        headers: req.headers,
        headersDistinct: req.headersDistinct,
      },
      [KEY],
      { region: REGION, now: new Date() },
    );
    record.auth = auth;
    const decodedLength = req.headers['x-amz-decoded-content-length'];
    const decoder = isChunkedPayload(auth.payloadHash)
      ? createChunkedDecoder({
          mode: auth.payloadHash,
          signing: auth.signing,
          decodedLength: decodedLength === undefined ? undefined : Number(decodedLength),
        })
      : undefined;
    const parts: Buffer[] = [];
    for await (const chunk of decoder ? req.pipe(decoder) : req) parts.push(chunk as Buffer);
    record.body = Buffer.concat(parts);
    if (decoder) record.trailers = await decoder.trailers;
    if (req.method === 'GET') res.writeHead(200, { 'content-type': 'text/plain' }).end('object body');
    else res.writeHead(200, { etag: '"0123456789abcdef0123456789abcdef"' }).end();
  } catch (err) {
    if (!(err instanceof AwsRequestError)) throw err;
    record.error = err;
    req.resume();
    const fields = Object.entries(err.fields)
      .map(([k, v]) => `<${k}>${xmlEscape(String(v))}</${k}>`)
      .join('');
    res
      .writeHead(statusOf(err), { 'content-type': 'application/xml' })
      .end(
        `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${err.code}</Code><Message>${xmlEscape(err.message)}</Message>${fields}<RequestId>test</RequestId></Error>`,
      );
  }
}

/** The status S3 answers each refusal with; the verifier itself knows no HTTP. */
function statusOf(err: AwsRequestError): number {
  if (err.code === 'NotImplemented') return 501;
  const forbidden = ['AccessDenied', 'InvalidAccessKeyId', 'SignatureDoesNotMatch', 'RequestTimeTooSkewed'];
  return forbidden.includes(err.code) ? 403 : 400;
}

beforeAll(async () => {
  server = http.createServer((req, res) => {
    handle(req, res).catch((err: unknown) => res.writeHead(500).end(String(err)));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.close();
  await once(server, 'close');
});

function client(config: Partial<S3ClientConfig> = {}): S3Client {
  return new S3Client({
    region: REGION,
    endpoint,
    forcePathStyle: true,
    credentials: KEY,
    maxAttempts: 1,
    ...config,
  });
}

function last(): Seen {
  return seen[seen.length - 1]!;
}

function crc32Base64(data: Buffer): string {
  const crc = new Crc32();
  crc.update(data);
  return Buffer.from(crc.digest().toString(16).padStart(8, '0'), 'hex').toString('base64');
}

async function errorOf(
  promise: Promise<unknown>,
): Promise<{ name: string; $metadata: { httpStatusCode?: number } }> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(Error);
  return err as { name: string; $metadata: { httpStatusCode?: number } };
}

const AWKWARD_KEY = "photos/2026 01/ü-ñ+plus=eq&amp;(paren)!*'~tilde;semi:colon,comma @at$dollar.jpg";

describe('the real AWS SDK v3 against verifySignature over node:http', () => {
  it('PutObject with a buffer body (hex x-amz-content-sha256), awkward key and metadata', async () => {
    const body = Buffer.from('hello darkroom');
    await client().send(
      new PutObjectCommand({
        Bucket: 'bucket',
        Key: AWKWARD_KEY,
        Body: body,
        ContentType: 'image/jpeg',
        Metadata: { note: '  several   spaces  here ', other: 'x' },
      }),
    );
    const s = last();
    expect(s.error).toBeUndefined();
    expect(s.auth?.via).toBe('header');
    expect(s.auth?.payloadHash).toMatch(/^[0-9a-f]{64}$/);
    expect(s.body?.equals(body)).toBe(true);
  });

  it('PutObject with a stream body at default settings sends STREAMING-UNSIGNED-PAYLOAD-TRAILER', async () => {
    const payload = Buffer.alloc(300 * 1024, 5);
    await client().send(
      new PutObjectCommand({
        Bucket: 'bucket',
        Key: AWKWARD_KEY,
        Body: Readable.from([payload.subarray(0, 100_000), payload.subarray(100_000)]),
        ContentLength: payload.length,
      }),
    );
    const s = last();
    expect(s.error).toBeUndefined();
    expect(s.auth?.payloadHash).toBe('STREAMING-UNSIGNED-PAYLOAD-TRAILER');
    expect(s.headers['content-encoding']).toBe('aws-chunked');
    expect(s.headers['transfer-encoding']).toBe('chunked');
    expect(s.headers['content-length']).toBeUndefined();
    expect(s.headers['x-amz-decoded-content-length']).toBe(String(payload.length));
    expect(s.headers['x-amz-sdk-checksum-algorithm']).toBe('CRC32');
    expect(s.headers['x-amz-trailer']).toBe('x-amz-checksum-crc32');
    expect(s.body?.equals(payload)).toBe(true);
    expect(s.trailers).toEqual({ 'x-amz-checksum-crc32': crc32Base64(payload) });
  });

  it('UploadPart with a stream body, and with WHEN_REQUIRED checksums', async () => {
    const payload = Buffer.alloc(70 * 1024, 3);
    const input = { Bucket: 'bucket', Key: 'big.bin', UploadId: 'upload+id/=', PartNumber: 2 };
    await client().send(
      new UploadPartCommand({ ...input, Body: Readable.from([payload]), ContentLength: payload.length }),
    );
    expect(last().error).toBeUndefined();
    expect(last().auth?.payloadHash).toBe('STREAMING-UNSIGNED-PAYLOAD-TRAILER');
    expect(last().body?.equals(payload)).toBe(true);

    await client({ requestChecksumCalculation: 'WHEN_REQUIRED' }).send(
      new UploadPartCommand({ ...input, Body: Readable.from([payload]), ContentLength: payload.length }),
    );
    expect(last().error).toBeUndefined();
    expect(last().auth?.payloadHash).toBe('UNSIGNED-PAYLOAD');
    expect(last().headers['content-encoding']).toBeUndefined();
    expect(last().body?.equals(payload)).toBe(true);
  });

  it('GetObject with a range and response-* overrides in the query', async () => {
    const out = await client().send(
      new GetObjectCommand({
        Bucket: 'bucket',
        Key: AWKWARD_KEY,
        Range: 'bytes=0-3',
        ResponseContentType: 'text/plain; charset=utf-8',
        ResponseContentDisposition: 'attachment; filename="a b.jpg"',
      }),
    );
    expect(await out.Body?.transformToString()).toBe('object body');
    expect(last().error).toBeUndefined();
  });

  it('a header sent twice is signed as SigV4 joins it, not as node does', async () => {
    const s3 = client();
    s3.middlewareStack.add(
      (next) => async (args) => {
        (args.request as { headers: Record<string, string> }).headers['x-amz-meta-multi'] = 'one,two';
        return next(args);
      },
      { step: 'build' },
    );
    // The SDK can only send it once; a raw resend of the same signed request splits it in two.
    await s3.send(new GetObjectCommand({ Bucket: 'bucket', Key: 'k' }));
    const signed = last();
    expect(signed.error).toBeUndefined();
    const headers: http.OutgoingHttpHeaders = { ...signed.headers, 'x-amz-meta-multi': ['one', 'two'] };
    const res = await new Promise<http.IncomingMessage>((resolve, reject) => {
      http.request(`${endpoint}${signed.url}`, { method: 'GET', headers }, resolve).on('error', reject).end();
    });
    res.resume();
    expect(last().headers['x-amz-meta-multi']).toBe('one, two');
    expect(last().error).toBeUndefined();
    expect(res.statusCode).toBe(200);
  });

  it('maps bad credentials, region and clock to the codes the SDK expects', async () => {
    const put = () => new PutObjectCommand({ Bucket: 'bucket', Key: 'k', Body: 'x' });
    expect(
      (await errorOf(client({ credentials: { ...KEY, secretAccessKey: 'nope' } }).send(put()))).name,
    ).toBe('SignatureDoesNotMatch');
    expect(
      (await errorOf(client({ credentials: { accessKeyId: 'who', secretAccessKey: 'x' } }).send(put()))).name,
    ).toBe('InvalidAccessKeyId');
    expect((await errorOf(client({ region: 'eu-west-1' }).send(put()))).name).toBe(
      'AuthorizationHeaderMalformed',
    );
    const skewed = await errorOf(client({ systemClockOffset: -20 * 60_000 }).send(put()));
    expect(skewed.name).toBe('RequestTimeTooSkewed');
    expect(skewed.$metadata.httpStatusCode).toBe(403);
  });

  it('lets the SDK correct its clock offset from RequestTimeTooSkewed (ServerTime)', async () => {
    const s3 = client({ systemClockOffset: -20 * 60_000 });
    const put = () => s3.send(new PutObjectCommand({ Bucket: 'bucket', Key: 'k', Body: 'x' }));
    expect((await errorOf(put())).name).toBe('RequestTimeTooSkewed');
    await put();
    expect(last().error).toBeUndefined();
    expect(Math.abs(s3.config.systemClockOffset)).toBeLessThan(5000);
  });
});

describe('presigned URLs used with fetch', () => {
  it('uploads exactly what was signed and nothing else', async () => {
    const s3 = client({ requestChecksumCalculation: 'WHEN_REQUIRED' });
    const url = await getSignedUrl(
      s3,
      new PutObjectCommand({
        Bucket: 'bucket',
        Key: AWKWARD_KEY,
        ContentType: 'image/png',
        ContentLength: 4,
      }),
      { expiresIn: 60, signableHeaders: new Set(['content-type']) },
    );
    const ok = await fetch(url, { method: 'PUT', body: 'abcd', headers: { 'content-type': 'image/png' } });
    expect(ok.status).toBe(200);
    expect(last().auth?.via).toBe('presigned');
    expect(last().body?.toString()).toBe('abcd');

    const wrongType = await fetch(url, {
      method: 'PUT',
      body: 'abcd',
      headers: { 'content-type': 'text/html' },
    });
    expect(wrongType.status).toBe(403);
    expect(await wrongType.text()).toContain('<Code>SignatureDoesNotMatch</Code>');
    const wrongLength = await fetch(url, {
      method: 'PUT',
      body: 'abcde',
      headers: { 'content-type': 'image/png' },
    });
    expect(wrongLength.status).toBe(403);
  });

  it('serves a presigned GET and refuses anonymous requests', async () => {
    const url = await getSignedUrl(client(), new GetObjectCommand({ Bucket: 'bucket', Key: AWKWARD_KEY }));
    const res = await fetch(url);
    expect(res.status).toBe(200);
    const anonymous = await fetch(url.slice(0, url.indexOf('?')));
    expect(anonymous.status).toBe(403);
    expect(await anonymous.text()).toContain('<Code>AccessDenied</Code>');
  });
});
