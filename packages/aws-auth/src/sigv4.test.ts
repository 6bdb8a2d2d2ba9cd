import type { IncomingHttpHeaders } from 'node:http';
import { Sha256 } from '@aws-crypto/sha256-js';
import { GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';
import { describe, expect, it } from 'vitest';
import { AwsRequestError } from './errors.ts';
import { parseQuery, type SignedRequest, verifySignature } from './sigv4.ts';

const REGION = 'us-east-1';
const KEY = { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY' };
const KEYS = [{ accessKeyId: 'OTHERKEY', secretAccessKey: 'other-secret' }, KEY];
const NOW = new Date('2026-01-01T12:00:00Z');
const HOST = '127.0.0.1:9000';

function signer(credentials = KEY, region = REGION, applyChecksum = true): SignatureV4 {
  return new SignatureV4({
    service: 's3',
    region,
    credentials,
    sha256: Sha256,
    uriEscapePath: false,
    applyChecksum,
  });
}

interface SmithyRequest {
  method: string;
  path: string;
  query?: Record<string, string | string[] | null>;
  headers: Record<string, string>;
}

/** What node:http would hand the server for a smithy request sent as-is. */
function wire(request: SmithyRequest): SignedRequest {
  const headers: IncomingHttpHeaders = {};
  for (const [name, value] of Object.entries(request.headers)) headers[name.toLowerCase()] = value.trim();
  const rawQuery = Object.entries(request.query ?? {})
    .flatMap(([k, v]) => (Array.isArray(v) ? v : [v]).map((x) => `${encode(k)}=${encode(x ?? '')}`))
    .join('&');
  return { method: request.method, rawPath: request.path, query: parseQuery(rawQuery), headers };
}

function encode(text: string): string {
  return encodeURIComponent(text).replace(
    /[!'()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );
}

/** A presigned URL turned into what the server would see for a request to it. */
function fromUrl(url: string, method: string, headers: IncomingHttpHeaders = {}): SignedRequest {
  const parsed = new URL(url);
  return {
    method,
    rawPath: parsed.pathname,
    query: parseQuery(parsed.search),
    headers: { host: parsed.host, ...headers },
  };
}

function put(headers: Record<string, string> = {}, path = '/bucket/photos/a%20b%2Bc.jpg'): HttpRequest {
  return new HttpRequest({
    method: 'PUT',
    protocol: 'http:',
    hostname: '127.0.0.1',
    port: 9000,
    path,
    query: { 'x-id': 'PutObject' },
    headers: { host: HOST, 'content-type': 'image/jpeg', 'content-length': '5', ...headers },
    body: 'hello',
  });
}

async function rejection(promise: Promise<unknown>): Promise<AwsRequestError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(AwsRequestError);
  return err as AwsRequestError;
}

function client(opts: Partial<ConstructorParameters<typeof S3Client>[0]> = {}): S3Client {
  return new S3Client({
    region: REGION,
    endpoint: `http://${HOST}`,
    forcePathStyle: true,
    credentials: KEY,
    ...opts,
  });
}

describe('parseQuery', () => {
  it('decodes values, keeps + literal, collects repeats and bare keys', () => {
    const q = parseQuery('?uploads&prefix=a%20b+c&tag=1&tag=2&empty=&bad=%E0%A4%A');
    expect(q).toEqual({ uploads: '', prefix: 'a b+c', tag: ['1', '2'], empty: '', bad: '%E0%A4%A' });
    expect(parseQuery('')).toEqual({});
    expect(Object.entries(parseQuery('__proto__=x'))).toEqual([['__proto__', 'x']]);
  });
});

describe('verifySignature: Authorization header', () => {
  it('accepts a request signed by the SDK signer, returning what the chunk decoder needs', async () => {
    const signed = await signer().sign(
      put({ 'x-amz-meta-note': '  spaced    out  ', 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' }),
      { signingDate: NOW },
    );
    const auth = await verifySignature(wire(signed), KEYS, { region: REGION, now: NOW });
    expect(auth.accessKeyId).toBe(KEY.accessKeyId);
    expect(auth.via).toBe('header');
    expect(auth.payloadHash).toBe('UNSIGNED-PAYLOAD');
    expect(auth.signing.longDate).toBe('20260101T120000Z');
    expect(auth.signing.scope).toBe('20260101/us-east-1/s3/aws4_request');
    expect(auth.signing.seedSignature).toBe(
      /Signature=([0-9a-f]{64})/.exec(signed.headers.authorization!)![1],
    );
    expect(auth.signing.key).toBeInstanceOf(Uint8Array);
  });

  it('accepts a hex payload hash and repeated query keys', async () => {
    const request = put();
    request.query = { tagging: '', list: ['b', 'a', 'c d'] };
    const signed = await signer().sign(request, { signingDate: NOW });
    const auth = await verifySignature(wire(signed), KEYS, { region: REGION, now: NOW });
    expect(auth.payloadHash).toBe('2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824');
  });

  it('includes headers smithy never signs itself when the client signed them', async () => {
    const signed = await signer().sign(put({ 'user-agent': 'curl/8', expect: '100-continue' }), {
      signingDate: NOW,
      signableHeaders: new Set(['user-agent', 'expect']),
    });
    expect(signed.headers.authorization).toContain('expect;host');
    await verifySignature(wire(signed), KEYS, { region: REGION, now: NOW });
    const changed = { ...wire(signed), headers: { ...wire(signed).headers, 'user-agent': 'curl/9' } };
    expect((await rejection(verifySignature(changed, KEYS, { region: REGION, now: NOW }))).code).toBe(
      'SignatureDoesNotMatch',
    );
  });

  it('signs repeated headers joined with a bare comma when node gives headersDistinct', async () => {
    const signed = await signer().sign(put({ 'x-amz-meta-multi': 'one,two' }), { signingDate: NOW });
    const req = wire(signed);
    req.headers['x-amz-meta-multi'] = 'one, two';
    req.headersDistinct = { 'x-amz-meta-multi': ['one', 'two'] };
    await verifySignature(req, KEYS, { region: REGION, now: NOW });
  });

  it('accepts the Date header when x-amz-date is absent', async () => {
    const signed = await signer().sign(put(), { signingDate: NOW });
    const req = wire(signed);
    const amzDate = req.headers['x-amz-date'];
    delete req.headers['x-amz-date'];
    req.headers.date = NOW.toUTCString();
    // The client signed x-amz-date, not date, so it must now fail on the signature, not on the date.
    expect(amzDate).toBe('20260101T120000Z');
    expect((await rejection(verifySignature(req, KEYS, { region: REGION, now: NOW }))).code).toBe(
      'SignatureDoesNotMatch',
    );
  });

  const cases: [string, (r: SignedRequest) => void, string, RegExp?][] = [
    [
      'tampered signature',
      (r) => {
        r.headers.authorization = String(r.headers.authorization).replace(/.$/, (c) =>
          c === '0' ? '1' : '0',
        );
      },
      'SignatureDoesNotMatch',
    ],
    [
      'altered content-type',
      (r) => {
        r.headers['content-type'] = 'text/html';
      },
      'SignatureDoesNotMatch',
    ],
    [
      'altered content-length',
      (r) => {
        r.headers['content-length'] = '6';
      },
      'SignatureDoesNotMatch',
    ],
    [
      'dropped signed header',
      (r) => {
        delete r.headers['content-type'];
      },
      'SignatureDoesNotMatch',
    ],
    [
      'altered path',
      (r) => {
        r.rawPath = '/bucket/photos/other.jpg';
      },
      'SignatureDoesNotMatch',
    ],
    [
      'altered query',
      (r) => {
        r.query = { 'x-id': 'GetObject' };
      },
      'SignatureDoesNotMatch',
    ],
    [
      'altered method',
      (r) => {
        r.method = 'POST';
      },
      'SignatureDoesNotMatch',
    ],
    [
      'unsigned x-amz header',
      (r) => {
        r.headers['x-amz-acl'] = 'public-read';
      },
      'AccessDenied',
      /headers present in the request which were not signed/,
    ],
    [
      'no auth at all',
      (r) => {
        delete r.headers.authorization;
      },
      'AccessDenied',
      // No detail: each server says it in its own words (S3: "Access Denied").
      /^AccessDenied$/,
    ],
    [
      'missing x-amz-content-sha256',
      (r) => {
        delete r.headers['x-amz-content-sha256'];
      },
      'InvalidRequest',
      /^Missing required header for this request: x-amz-content-sha256$/,
    ],
    [
      'bogus x-amz-content-sha256',
      (r) => {
        r.headers['x-amz-content-sha256'] = 'abc';
      },
      'InvalidArgument',
      /x-amz-content-sha256 must be/,
    ],
    [
      'missing date',
      (r) => {
        delete r.headers['x-amz-date'];
      },
      'AccessDenied',
      /requires a valid Date or x-amz-date header/,
    ],
    [
      'malformed header',
      (r) => {
        r.headers.authorization = 'AWS4-HMAC-SHA256 Credential=x';
      },
      'AuthorizationHeaderMalformed',
      /requires three components/,
    ],
    [
      'malformed credential',
      (r) => {
        r.headers.authorization = String(r.headers.authorization).replace('/aws4_request', '');
      },
      'AuthorizationHeaderMalformed',
      /Credential is mal-formed/,
    ],
    [
      'wrong service',
      (r) => {
        r.headers.authorization = String(r.headers.authorization).replace('/s3/', '/ec2/');
      },
      'AuthorizationHeaderMalformed',
      /incorrect service "ec2"/,
    ],
    [
      'scope date not the request date',
      (r) => {
        r.headers.authorization = String(r.headers.authorization).replace('/20260101/', '/20251231/');
      },
      'AuthorizationHeaderMalformed',
      /Invalid credential date/,
    ],
    [
      'SigV2',
      (r) => {
        r.headers.authorization = 'AWS AKIDEXAMPLE:c2lnbmF0dXJl';
      },
      'InvalidRequest',
      /Please use AWS4-HMAC-SHA256/,
    ],
    [
      'both header and query auth',
      (r) => {
        r.query = { ...r.query, 'X-Amz-Algorithm': 'AWS4-HMAC-SHA256' };
      },
      'InvalidArgument',
      /Only one auth mechanism allowed/,
    ],
  ];
  for (const [name, mutate, code, message] of cases) {
    it(`rejects ${name} with ${code}`, async () => {
      const signed = await signer().sign(put(), { signingDate: NOW });
      const req = wire(signed);
      mutate(req);
      const err = await rejection(verifySignature(req, KEYS, { region: REGION, now: NOW }));
      expect(err.code).toBe(code);
      if (message) expect(err.message).toMatch(message);
    });
  }

  it('reports SignatureDoesNotMatch with the canonical request S3 would show', async () => {
    const signed = await signer({ ...KEY, secretAccessKey: 'wrong' }).sign(put(), { signingDate: NOW });
    const err = await rejection(verifySignature(wire(signed), KEYS, { region: REGION, now: NOW }));
    expect(err.code).toBe('SignatureDoesNotMatch');
    expect(err.fields.AWSAccessKeyId).toBe(KEY.accessKeyId);
    expect(String(err.fields.CanonicalRequest)).toMatch(
      /^PUT\n\/bucket\/photos\/a%20b%2Bc\.jpg\nx-id=PutObject\n/,
    );
    expect(String(err.fields.StringToSign)).toMatch(/^AWS4-HMAC-SHA256\n20260101T120000Z\n/);
  });

  it('rejects an unknown access key with InvalidAccessKeyId', async () => {
    const signed = await signer({ accessKeyId: 'NOPE', secretAccessKey: 'x' }).sign(put(), {
      signingDate: NOW,
    });
    const err = await rejection(verifySignature(wire(signed), KEYS, { region: REGION, now: NOW }));
    expect(err.code).toBe('InvalidAccessKeyId');
    expect(err.fields.AWSAccessKeyId).toBe('NOPE');
  });

  it('rejects a scope in another region with AuthorizationHeaderMalformed naming the right one', async () => {
    const signed = await signer(KEY, 'eu-west-1').sign(put(), { signingDate: NOW });
    const err = await rejection(verifySignature(wire(signed), KEYS, { region: REGION, now: NOW }));
    expect(err.code).toBe('AuthorizationHeaderMalformed');
    expect(err.message).toBe(
      "The authorization header is malformed; the region 'eu-west-1' is wrong; expecting 'us-east-1'",
    );
    expect(err.fields.Region).toBe('us-east-1');
  });

  it('rejects more than 15 minutes of clock skew either way with RequestTimeTooSkewed', async () => {
    for (const offset of [-16, 16]) {
      const signed = await signer().sign(put(), { signingDate: new Date(NOW.getTime() + offset * 60_000) });
      const err = await rejection(verifySignature(wire(signed), KEYS, { region: REGION, now: NOW }));
      expect(err.code).toBe('RequestTimeTooSkewed');
      expect(err.fields.MaxAllowedSkewMilliseconds).toBe(900000);
      expect(err.fields.ServerTime).toBe('2026-01-01T12:00:00Z');
    }
    const within = await signer().sign(put(), { signingDate: new Date(NOW.getTime() - 14 * 60_000) });
    await verifySignature(wire(within), KEYS, { region: REGION, now: NOW });
  });

  it('requires host to be signed', async () => {
    const signed = await signer().sign(put(), { signingDate: NOW, unsignableHeaders: new Set(['host']) });
    const err = await rejection(verifySignature(wire(signed), KEYS, { region: REGION, now: NOW }));
    expect(err.code).toBe('AccessDenied');
    expect(err.fields.HeadersNotSigned).toBe('host');
  });

  it("verifies AWS's published streaming PUT example (seed signature)", async () => {
    const req: SignedRequest = {
      method: 'PUT',
      rawPath: '/examplebucket/chunkObject.txt',
      query: {},
      headers: {
        host: 's3.amazonaws.com',
        'x-amz-date': '20130524T000000Z',
        'x-amz-storage-class': 'REDUCED_REDUNDANCY',
        authorization:
          'AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,SignedHeaders=content-encoding;content-length;host;x-amz-content-sha256;x-amz-date;x-amz-decoded-content-length;x-amz-storage-class,Signature=4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9',
        'x-amz-content-sha256': 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD',
        'content-encoding': 'aws-chunked',
        'x-amz-decoded-content-length': '66560',
        'content-length': '66824',
      },
    };
    const keys = [{ accessKeyId: 'AKIAIOSFODNN7EXAMPLE', secretAccessKey: KEY.secretAccessKey }];
    const auth = await verifySignature(req, keys, { region: REGION, now: new Date('2013-05-24T00:05:00Z') });
    expect(auth.payloadHash).toBe('STREAMING-AWS4-HMAC-SHA256-PAYLOAD');
    expect(auth.signing.seedSignature).toBe(
      '4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9',
    );
  });
});

describe('verifySignature: presigned URLs from @aws-sdk/s3-request-presigner', () => {
  const s3 = client({ requestChecksumCalculation: 'WHEN_REQUIRED' });
  const presignPut = (expiresIn = 300, signingDate = NOW) =>
    getSignedUrl(
      s3,
      new PutObjectCommand({
        Bucket: 'bucket',
        Key: 'up/ü näme+(1).jpg',
        ContentType: 'image/jpeg',
        ContentLength: 5,
      }),
      { expiresIn, signingDate, signableHeaders: new Set(['content-type']) },
    );
  const goodHeaders = { 'content-type': 'image/jpeg', 'content-length': '5' };

  it('accepts the request the URL was made for, with UNSIGNED-PAYLOAD', async () => {
    const url = await presignPut();
    expect(url).toContain('X-Amz-SignedHeaders=content-length%3Bcontent-type%3Bhost');
    const auth = await verifySignature(fromUrl(url, 'PUT', goodHeaders), KEYS, { region: REGION, now: NOW });
    expect(auth.via).toBe('presigned');
    expect(auth.payloadHash).toBe('UNSIGNED-PAYLOAD');
    expect(auth.signing.seedSignature).toBe(new URL(url).searchParams.get('X-Amz-Signature'));
  });

  it('refuses another content type or length than was signed', async () => {
    const url = await presignPut();
    for (const headers of [
      { ...goodHeaders, 'content-type': 'text/html' },
      { ...goodHeaders, 'content-length': '6' },
      { 'content-length': '5' },
    ]) {
      const err = await rejection(
        verifySignature(fromUrl(url, 'PUT', headers), KEYS, { region: REGION, now: NOW }),
      );
      expect(err.code).toBe('SignatureDoesNotMatch');
    }
  });

  it('refuses a different method, a changed key or a tampered signature', async () => {
    const url = await presignPut();
    const variants = [
      fromUrl(url, 'GET', goodHeaders),
      fromUrl(url.replace('/bucket/up/', '/bucket/down/'), 'PUT', goodHeaders),
      fromUrl(url.replace(/X-Amz-Signature=[0-9a-f]/, 'X-Amz-Signature=x'), 'PUT', goodHeaders),
    ];
    for (const req of variants) {
      const err = await rejection(verifySignature(req, KEYS, { region: REGION, now: NOW }));
      expect(err.code).toBe('SignatureDoesNotMatch');
    }
  });

  it('expires after X-Amz-Expires seconds with the fields S3 adds', async () => {
    const url = await presignPut(60);
    const opts = { region: REGION, now: new Date(NOW.getTime() + 60_000) };
    await verifySignature(fromUrl(url, 'PUT', goodHeaders), KEYS, opts);
    opts.now = new Date(NOW.getTime() + 61_000);
    const err = await rejection(verifySignature(fromUrl(url, 'PUT', goodHeaders), KEYS, opts));
    expect(err.code).toBe('AccessDenied');
    expect(err.message).toBe('Request has expired');
    expect(err.fields).toEqual({
      'X-Amz-Expires': 60,
      Expires: '2026-01-01T12:01:00Z',
      ServerTime: '2026-01-01T12:01:01Z',
    });
  });

  it('is not valid yet when dated more than 15 minutes ahead', async () => {
    const url = await presignPut(3600, new Date(NOW.getTime() + 16 * 60_000));
    const err = await rejection(
      verifySignature(fromUrl(url, 'PUT', goodHeaders), KEYS, { region: REGION, now: NOW }),
    );
    expect(err.code).toBe('AccessDenied');
    expect(err.message).toBe('Request is not valid yet');
  });

  it('bounds X-Amz-Expires to 1..604800 and needs every parameter', async () => {
    const url = await presignPut();
    for (const bad of ['0', '604801', 'soon']) {
      const req = fromUrl(url.replace('X-Amz-Expires=300', `X-Amz-Expires=${bad}`), 'PUT', goodHeaders);
      const err = await rejection(verifySignature(req, KEYS, { region: REGION, now: NOW }));
      expect(err.code).toBe('AuthorizationQueryParametersError');
    }
    const missing = fromUrl(url.replace(/&?X-Amz-SignedHeaders=[^&]*/, ''), 'PUT', goodHeaders);
    expect((await rejection(verifySignature(missing, KEYS, { region: REGION, now: NOW }))).code).toBe(
      'AuthorizationQueryParametersError',
    );
  });

  it('reports a wrong region and an unknown key', async () => {
    const other = await getSignedUrl(
      client({ region: 'eu-west-1' }),
      new GetObjectCommand({ Bucket: 'b', Key: 'k' }),
      {
        signingDate: NOW,
      },
    );
    const err = await rejection(verifySignature(fromUrl(other, 'GET'), KEYS, { region: REGION, now: NOW }));
    expect(err.code).toBe('AuthorizationQueryParametersError');
    expect(err.message).toMatch(/the region 'eu-west-1' is wrong; expecting 'us-east-1'/);
    expect(err.fields.Region).toBe('us-east-1');

    const stranger = await getSignedUrl(
      client({ credentials: { accessKeyId: 'STRANGER', secretAccessKey: 'x' } }),
      new GetObjectCommand({ Bucket: 'b', Key: 'k' }),
      { signingDate: NOW },
    );
    const err2 = await rejection(
      verifySignature(fromUrl(stranger, 'GET'), KEYS, { region: REGION, now: NOW }),
    );
    expect(err2.code).toBe('InvalidAccessKeyId');
  });

  it('refuses a wrong secret and unsigned x-amz headers sent alongside', async () => {
    const wrong = await getSignedUrl(
      client({ credentials: { ...KEY, secretAccessKey: 'wrong' } }),
      new GetObjectCommand({ Bucket: 'b', Key: 'k' }),
      { signingDate: NOW },
    );
    expect(
      (await rejection(verifySignature(fromUrl(wrong, 'GET'), KEYS, { region: REGION, now: NOW }))).code,
    ).toBe('SignatureDoesNotMatch');
    const url = await getSignedUrl(client(), new GetObjectCommand({ Bucket: 'b', Key: 'k' }), {
      signingDate: NOW,
    });
    await verifySignature(fromUrl(url, 'GET'), KEYS, { region: REGION, now: NOW });
    const extra = fromUrl(url, 'GET', { 'x-amz-acl': 'public-read' });
    expect((await rejection(verifySignature(extra, KEYS, { region: REGION, now: NOW }))).code).toBe(
      'AccessDenied',
    );
  });

  it('verifies a PutObject URL presigned at the default checksum settings', async () => {
    const url = await getSignedUrl(
      client(),
      new PutObjectCommand({ Bucket: 'bucket', Key: 'k.jpg', ContentType: 'image/jpeg' }),
      { signingDate: NOW },
    );
    const params = new URL(url).searchParams;
    // Recorded for the report: what the SDK puts in a default-settings presigned PUT.
    expect(params.get('X-Amz-Content-Sha256')).toBe('UNSIGNED-PAYLOAD');
    expect(params.get('x-amz-sdk-checksum-algorithm')).toBe('CRC32');
    expect(params.get('x-amz-checksum-crc32')).toBe('AAAAAA==');
    const auth = await verifySignature(fromUrl(url, 'PUT', { 'content-type': 'image/png' }), KEYS, {
      region: REGION,
      now: NOW,
    });
    expect(auth.payloadHash).toBe('UNSIGNED-PAYLOAD');
  });
});
