import { createHash } from 'node:crypto';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Crc32 } from '@aws-crypto/crc32';
import { Sha256 } from '@aws-crypto/sha256-js';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { HttpRequest, HttpResponse } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';
import { describe, expect, it } from 'vitest';
import {
  type ChunkedDecoderOptions,
  type ChunkedMode,
  createChunkedDecoder,
  isChunkedPayload,
} from './aws-chunked.ts';
import { AwsRequestError } from './errors.ts';
import { parseQuery, type SignedRequest, type VerifiedAuth, verifySignature } from './sigv4.ts';

const REGION = 'us-east-1';
const KEY = {
  accessKeyId: 'AKIAIOSFODNN7EXAMPLE',
  secretAccessKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY',
};
const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';
const EXAMPLE_DATE = new Date('2013-05-24T00:00:00Z');
const EXAMPLE_SIGS = [
  'ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648',
  '0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497',
  'b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9',
];

const sha256hex = (data: Uint8Array | string) => createHash('sha256').update(data).digest('hex');

/** Splits a body into pieces of `size` bytes, as a slow socket would deliver it. */
function pieces(body: Buffer, size = body.length): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < body.length; i += size) out.push(body.subarray(i, i + size));
  return out;
}

interface Decoded {
  data: Buffer;
  trailers: Record<string, string>;
}

/** Runs a body through the decoder; on failure, rejects with the decoder's error and what had come out. */
async function decode(input: Buffer[], opts: ChunkedDecoderOptions): Promise<Decoded> {
  const decoder = createChunkedDecoder(opts);
  const out: Buffer[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      out.push(chunk);
      cb();
    },
  });
  try {
    await pipeline(Readable.from(input), decoder, sink);
  } catch (err) {
    await expect(decoder.trailers).rejects.toBe(err);
    throw Object.assign(err as Error, { output: Buffer.concat(out) });
  }
  return { data: Buffer.concat(out), trailers: await decoder.trailers };
}

async function failure(
  input: Buffer[],
  opts: ChunkedDecoderOptions,
): Promise<AwsRequestError & { output: Buffer }> {
  const err = await decode(input, opts).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(AwsRequestError);
  return err as AwsRequestError & { output: Buffer };
}

/** The signing context for AWS's published streaming example, from the real verifier. */
async function exampleSigning(): Promise<VerifiedAuth['signing']> {
  const req: SignedRequest = {
    method: 'PUT',
    rawPath: '/examplebucket/chunkObject.txt',
    query: {},
    headers: {
      host: 's3.amazonaws.com',
      'x-amz-date': '20130524T000000Z',
      'x-amz-storage-class': 'REDUCED_REDUNDANCY',
      authorization:
        'AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, SignedHeaders=content-encoding;content-length;host;x-amz-content-sha256;x-amz-date;x-amz-decoded-content-length;x-amz-storage-class, Signature=4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9',
      'x-amz-content-sha256': 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD',
      'content-encoding': 'aws-chunked',
      'x-amz-decoded-content-length': '66560',
      'content-length': '66824',
    },
  };
  return (await verifySignature(req, [KEY], { region: REGION, now: EXAMPLE_DATE })).signing;
}

function exampleBody(corrupt = false): Buffer {
  const parts: Buffer[] = [];
  for (const [i, size] of [65536, 1024, 0].entries()) {
    const data = Buffer.alloc(size, 'a');
    if (corrupt && size === 1024) data[10] = 0x62;
    parts.push(
      Buffer.from(`${size.toString(16)};chunk-signature=${EXAMPLE_SIGS[i]}\r\n`),
      data,
      Buffer.from('\r\n'),
    );
  }
  return Buffer.concat(parts);
}

/** Builds a signed aws-chunked body with the SDK signer producing every signature. */
async function sdkSignedBody(
  chunks: Buffer[],
  trailers?: Record<string, string>,
): Promise<{ body: Buffer; signing: VerifiedAuth['signing']; mode: ChunkedMode }> {
  const mode: ChunkedMode = trailers
    ? 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER'
    : 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD';
  const signingDate = new Date();
  const signer = new SignatureV4({
    service: 's3',
    region: REGION,
    credentials: KEY,
    sha256: Sha256,
    uriEscapePath: false,
  });
  const decodedLength = chunks.reduce((n, c) => n + c.length, 0);
  const request = await signer.sign(
    new HttpRequest({
      method: 'PUT',
      hostname: 'localhost',
      path: '/bucket/key',
      headers: {
        host: 'localhost:9000',
        'content-encoding': 'aws-chunked',
        'x-amz-content-sha256': mode,
        'x-amz-decoded-content-length': String(decodedLength),
        ...(trailers ? { 'x-amz-trailer': Object.keys(trailers).join(',') } : {}),
      },
    }),
    { signingDate },
  );
  const headers = Object.fromEntries(Object.entries(request.headers).map(([k, v]) => [k.toLowerCase(), v]));
  const auth = await verifySignature(
    { method: 'PUT', rawPath: '/bucket/key', query: parseQuery(''), headers },
    [KEY],
    { region: REGION, now: signingDate },
  );
  const { longDate, scope } = auth.signing;
  let previous = auth.signing.seedSignature;
  const parts: Buffer[] = [];
  for (const data of [...chunks, Buffer.alloc(0)]) {
    const toSign = [
      'AWS4-HMAC-SHA256-PAYLOAD',
      longDate,
      scope,
      previous,
      EMPTY_SHA256,
      sha256hex(data),
    ].join('\n');
    previous = await signer.sign(toSign, { signingDate });
    parts.push(Buffer.from(`${data.length.toString(16)};chunk-signature=${previous}\r\n`), data);
    if (data.length > 0 || !trailers) parts.push(Buffer.from('\r\n'));
  }
  if (trailers) {
    const canonical = Object.entries(trailers)
      .map(([k, v]) => `${k}:${v}\n`)
      .join('');
    const toSign = ['AWS4-HMAC-SHA256-TRAILER', longDate, scope, previous, sha256hex(canonical)].join('\n');
    const signature = await signer.sign(toSign, { signingDate });
    parts.push(Buffer.from(canonical.replaceAll('\n', '\r\n')));
    parts.push(Buffer.from(`x-amz-trailer-signature:${signature}\r\n\r\n`));
  }
  return { body: Buffer.concat(parts), signing: auth.signing, mode };
}

interface Captured {
  headers: Record<string, string>;
  body: Buffer;
}

/** Sends a PutObject through the real SDK at default settings and captures the bytes it would put on the wire. */
async function captureSdkPut(body: Readable, contentLength?: number): Promise<Captured> {
  let captured: Captured | undefined;
  const s3 = new S3Client({
    region: REGION,
    endpoint: 'http://127.0.0.1:9000',
    forcePathStyle: true,
    credentials: KEY,
    requestHandler: {
      async handle(request: HttpRequest) {
        const parts: Buffer[] = [];
        for await (const c of request.body as Readable) parts.push(Buffer.from(c));
        captured = { headers: request.headers, body: Buffer.concat(parts) };
        return {
          response: new HttpResponse({ statusCode: 200, headers: { etag: '"e"' }, body: Readable.from([]) }),
        };
      },
    },
  });
  await s3.send(
    new PutObjectCommand({ Bucket: 'bucket', Key: 'key', Body: body, ContentLength: contentLength }),
  );
  return captured!;
}

function crc32Base64(data: Buffer): string {
  const crc = new Crc32();
  crc.update(data);
  return Buffer.from(crc.digest().toString(16).padStart(8, '0'), 'hex').toString('base64');
}

const unsignedOpts = (signing: VerifiedAuth['signing'], extra: Partial<ChunkedDecoderOptions> = {}) => ({
  mode: 'STREAMING-UNSIGNED-PAYLOAD-TRAILER' as const,
  signing,
  ...extra,
});
const dummySigning: VerifiedAuth['signing'] = {
  key: new Uint8Array(32),
  longDate: '20260101T000000Z',
  scope: '20260101/us-east-1/s3/aws4_request',
  seedSignature: '0'.repeat(64),
};

describe('isChunkedPayload', () => {
  it('recognises exactly the HMAC and unsigned streaming modes', () => {
    expect(isChunkedPayload('STREAMING-UNSIGNED-PAYLOAD-TRAILER')).toBe(true);
    expect(isChunkedPayload('STREAMING-AWS4-HMAC-SHA256-PAYLOAD')).toBe(true);
    expect(isChunkedPayload('STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER')).toBe(true);
    expect(isChunkedPayload('UNSIGNED-PAYLOAD')).toBe(false);
    expect(isChunkedPayload('STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD')).toBe(false);
    expect(isChunkedPayload(EMPTY_SHA256)).toBe(false);
  });
});

describe('signed chunks (STREAMING-AWS4-HMAC-SHA256-PAYLOAD)', () => {
  it("decodes AWS's published example whatever the read sizes", async () => {
    const signing = await exampleSigning();
    for (const size of [1, 7, 4096, 70000]) {
      const { data } = await decode(pieces(exampleBody(), size), {
        mode: 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD',
        signing,
        decodedLength: 66560,
      });
      expect(data.equals(Buffer.alloc(66560, 'a'))).toBe(true);
    }
  });

  it('never lets out a chunk whose signature fails', async () => {
    const signing = await exampleSigning();
    const err = await failure(pieces(exampleBody(true), 1000), {
      mode: 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD',
      signing,
    });
    expect(err.code).toBe('SignatureDoesNotMatch');
    expect(err.output.length).toBe(65536);
  });

  it('decodes SDK-signed chunks and rejects a forged chunk signature', async () => {
    const chunks = [Buffer.alloc(70000, 1), Buffer.alloc(65536, 2), Buffer.from('tail')];
    const { body, signing, mode } = await sdkSignedBody(chunks);
    const { data, trailers } = await decode(pieces(body, 8192), { mode, signing, decodedLength: 135540 });
    expect(data.equals(Buffer.concat(chunks))).toBe(true);
    expect(trailers).toEqual({});

    const forged = Buffer.from(body);
    const at = forged.indexOf(';chunk-signature=', 70000) + 17;
    forged[at] = forged[at] === 0x30 ? 0x31 : 0x30;
    expect((await failure([forged], { mode, signing })).code).toBe('SignatureDoesNotMatch');
  });

  it('rejects chunks reordered or signed with another seed', async () => {
    const { body, signing, mode } = await sdkSignedBody([Buffer.from('first chunk'), Buffer.from('second')]);
    const other = { ...signing, seedSignature: 'f'.repeat(64) };
    expect((await failure([body], { mode, signing: other })).code).toBe('SignatureDoesNotMatch');
  });

  it('refuses a chunk header without a signature and sizes above maxChunkSize', async () => {
    const signing = await exampleSigning();
    const mode = 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD';
    expect((await failure([Buffer.from('5\r\nhello\r\n')], { mode, signing })).code).toBe('InvalidRequest');
    const big = Buffer.from(`1000001;chunk-signature=${EXAMPLE_SIGS[0]}\r\n`);
    expect((await failure([big], { mode, signing })).message).toMatch(/exceeds 16777216/);
    expect((await failure([exampleBody()], { mode, signing, maxChunkSize: 1024 })).code).toBe(
      'InvalidRequest',
    );
  });
});

describe('signed chunks with trailer (STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER)', () => {
  const trailerSig = 'df5735bd9f3295cd9386572292562fefc93ba94e80a0a1ddcbd652c4e0a75e6c';
  const exampleWithTrailer = (trailerLines: string) => {
    const body = exampleBody();
    // The published example's final chunk, then the AWS CRT test vector's trailer section.
    return Buffer.concat([body.subarray(0, body.length - 2), Buffer.from(trailerLines)]);
  };
  const mode = 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER' as const;

  it('checks the trailer signature against the AWS CRT test vector', async () => {
    const signing = await exampleSigning();
    const body = exampleWithTrailer(
      `first:1st\r\nsecond:2nd\r\nthird:3rd\r\nx-amz-trailer-signature:${trailerSig}\r\n\r\n`,
    );
    const { data, trailers } = await decode(pieces(body, 333), { mode, signing, decodedLength: 66560 });
    expect(data.length).toBe(66560);
    expect(trailers).toEqual({ first: '1st', second: '2nd', third: '3rd' });
  });

  it('rejects an altered trailer, a wrong or missing trailer signature', async () => {
    const signing = await exampleSigning();
    for (const lines of [
      `first:1st\r\nsecond:2nd\r\nthird:3RD\r\nx-amz-trailer-signature:${trailerSig}\r\n\r\n`,
      `first:1st\r\nsecond:2nd\r\nthird:3rd\r\nx-amz-trailer-signature:${'0'.repeat(64)}\r\n\r\n`,
      'first:1st\r\nsecond:2nd\r\nthird:3rd\r\n\r\n',
    ]) {
      expect((await failure([exampleWithTrailer(lines)], { mode, signing })).code).toBe(
        'SignatureDoesNotMatch',
      );
    }
    const after = `x-amz-trailer-signature:${trailerSig}\r\nfirst:1st\r\n\r\n`;
    expect((await failure([exampleWithTrailer(after)], { mode, signing })).code).toBe('InvalidRequest');
  });

  it('decodes an SDK-signed body with a checksum trailer', async () => {
    const payload = Buffer.alloc(100_000, 7);
    const checksum = crc32Base64(payload);
    const { body, signing } = await sdkSignedBody([payload.subarray(0, 65536), payload.subarray(65536)], {
      'x-amz-checksum-crc32': checksum,
    });
    const { data, trailers } = await decode(pieces(body, 10_000), { mode, signing, decodedLength: 100_000 });
    expect(data.equals(payload)).toBe(true);
    expect(trailers).toEqual({ 'x-amz-checksum-crc32': checksum });
  });
});

describe('unsigned chunks with trailer, as the AWS SDK v3 sends them by default', () => {
  const payload = Buffer.alloc(200 * 1024);
  for (let i = 0; i < payload.length; i++) payload[i] = i % 251;
  const sdkBody = () =>
    captureSdkPut(
      Readable.from([payload.subarray(0, 70000), payload.subarray(70000, 140000), payload.subarray(140000)]),
      payload.length,
    );

  it('is what PutObject sends for a stream body, and decodes to the payload with its checksum', async () => {
    const { headers, body } = await sdkBody();
    expect(headers['x-amz-content-sha256']).toBe('STREAMING-UNSIGNED-PAYLOAD-TRAILER');
    expect(headers['content-encoding']).toBe('aws-chunked');
    expect(headers['x-amz-trailer']).toBe('x-amz-checksum-crc32');
    expect(headers['x-amz-decoded-content-length']).toBe(String(payload.length));
    expect(headers['content-length']).toBeUndefined();
    expect(body.subarray(-40).toString()).toMatch(/\r\n0\r\nx-amz-checksum-crc32:[A-Za-z0-9+/=]+\r\n\r\n$/);
    for (const size of [1, 3, 65536, body.length]) {
      const { data, trailers } = await decode(
        pieces(body, size),
        unsignedOpts(dummySigning, { decodedLength: payload.length }),
      );
      expect(data.equals(payload)).toBe(true);
      expect(trailers).toEqual({ 'x-amz-checksum-crc32': crc32Base64(payload) });
    }
  });

  it('accepts a single chunk far larger than 16 MiB, as the SDK sends for one big buffer in a stream', async () => {
    const big = Buffer.alloc(20 * 1024 * 1024, 9);
    const { headers, body } = await captureSdkPut(Readable.from([big]));
    expect(headers['x-amz-decoded-content-length']).toBeUndefined();
    const { data } = await decode(pieces(body, 1 << 20), unsignedOpts(dummySigning));
    expect(data.length).toBe(big.length);
  });

  it('tolerates the body ending right after 0\\r\\n or the last trailer line', async () => {
    const body = Buffer.from('5\r\nhello\r\n0\r\n');
    expect((await decode([body], unsignedOpts(dummySigning))).data.toString()).toBe('hello');
    const withTrailer = Buffer.from('5\r\nhello\r\n0\r\nx-amz-checksum-crc32:NhCmhg==\r\n');
    expect((await decode([withTrailer], unsignedOpts(dummySigning))).trailers).toEqual({
      'x-amz-checksum-crc32': 'NhCmhg==',
    });
  });

  it('fails every truncation of a real SDK body with IncompleteBody or InvalidRequest', async () => {
    const { body } = await sdkBody();
    const cuts = [0, 1, 5, 7, 70000, 70008, 70009, body.length - 40, body.length - 3, body.length - 1];
    for (const cut of cuts) {
      const err = await failure(
        [body.subarray(0, cut)],
        unsignedOpts(dummySigning, { decodedLength: payload.length }),
      );
      expect(['IncompleteBody', 'InvalidRequest']).toContain(err.code);
    }
  });

  const corrupt: [string, string, string][] = [
    ['a non-hex size', 'zz\r\nhello\r\n0\r\n\r\n', 'InvalidRequest'],
    ['an empty size', '\r\nhello\r\n0\r\n\r\n', 'InvalidRequest'],
    ['a negative size', '-5\r\nhello\r\n0\r\n\r\n', 'InvalidRequest'],
    ['a bare LF', '5\nhello\r\n0\r\n\r\n', 'InvalidRequest'],
    ['a missing CRLF after data', '5\r\nhello0\r\n\r\n', 'InvalidRequest'],
    ['a chunk longer than its size', '3\r\nhello\r\n0\r\n\r\n', 'InvalidRequest'],
    ['data after the final chunk', '5\r\nhello\r\n0\r\n\r\nextra', 'InvalidRequest'],
    ['a trailer without a colon', '5\r\nhello\r\n0\r\nx-amz-checksum-crc32\r\n\r\n', 'InvalidRequest'],
    ['a duplicate trailer', '5\r\nhello\r\n0\r\na:1\r\na:2\r\n\r\n', 'InvalidRequest'],
    ['a chunk-size line that never ends', `${'0'.repeat(5000)}`, 'InvalidRequest'],
    ['a body that stops mid-chunk', '5\r\nhel', 'IncompleteBody'],
    ['a body that stops mid-size-line', '5\r', 'IncompleteBody'],
    ['a body that stops mid-trailer-line', '5\r\nhello\r\n0\r\nx-amz-checksum', 'IncompleteBody'],
  ];
  for (const [name, text, code] of corrupt) {
    it(`rejects ${name} with ${code}`, async () => {
      expect((await failure([Buffer.from(text)], unsignedOpts(dummySigning))).code).toBe(code);
    });
  }

  it('holds the decoded total to x-amz-decoded-content-length', async () => {
    const body = [Buffer.from('5\r\nhello\r\n0\r\n\r\n')];
    expect((await decode(body, unsignedOpts(dummySigning, { decodedLength: 5 }))).data.toString()).toBe(
      'hello',
    );
    expect((await failure(body, unsignedOpts(dummySigning, { decodedLength: 6 }))).code).toBe(
      'IncompleteBody',
    );
    expect((await failure(body, unsignedOpts(dummySigning, { decodedLength: 4 }))).code).toBe(
      'IncompleteBody',
    );
  });

  it('rejects its trailers promise when the source aborts', async () => {
    const decoder = createChunkedDecoder(unsignedOpts(dummySigning));
    decoder.write(Buffer.from('5\r\nhel'));
    decoder.destroy();
    await expect(decoder.trailers).rejects.toMatchObject({ code: 'IncompleteBody' });
  });
});
