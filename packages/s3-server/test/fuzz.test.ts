import { createHash } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Sha256 } from '@aws-crypto/sha256-js';
import {
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  PutObjectCommand,
} from '@aws-sdk/client-s3';
import { xorshift } from '@darkroom/testdata';
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bodyBytes, REGION, startTestS3, TEST_KEY, type TestS3 } from './support.ts';

// The embedded S3 server's parsers under malformed and hostile requests, sent raw (node:http keeps the
// path byte for byte; fetch would normalise `..` away) and SigV4-signed where the request needs it.
// Nothing may crash it, every answer is the right 4xx, and no file outside its data dir is touched.

const BUCKET = 'fuzz';
let root: string;
let s3: TestS3;
let sibling: string;
let snapshotBefore: Map<string, string>;

/** Every file under `dir` with its SHA-256, for "nothing here changed". */
function snapshot(dir: string, skip?: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (p === skip) continue;
      if (e.isDirectory()) walk(p);
      else out.set(path.relative(dir, p), createHash('sha256').update(fs.readFileSync(p)).digest('hex'));
    }
  };
  walk(dir);
  return out;
}

beforeAll(async () => {
  // root/data is the server's data dir; root/sibling holds a canary a traversal would reach first.
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'darkroom-s3fuzz-'));
  fs.mkdirSync(path.join(root, 'data'));
  sibling = path.join(root, 'sibling');
  fs.mkdirSync(sibling);
  fs.writeFileSync(path.join(sibling, 'canary.txt'), 'CANARY-DO-NOT-READ');
  fs.writeFileSync(path.join(root, 'escape'), 'ROOT-CANARY');
  snapshotBefore = snapshot(root, path.join(root, 'data'));
  s3 = await startTestS3({ dataDir: path.join(root, 'data') });
  await s3.client().send(new CreateBucketCommand({ Bucket: BUCKET }));
}, 30_000);

afterAll(async () => {
  await s3.stop();
  fs.rmSync(root, { recursive: true, force: true });
});

interface RawResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  text: string;
  code: string | undefined;
}

/** RFC 3986 encoding, as SigV4 wants query strings. */
const enc = (s: string) =>
  encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);

/** Sends a request with `rawPath` exactly as given; signs it (header auth) unless `sign` is false. */
async function raw(
  method: string,
  rawPath: string,
  opts: {
    query?: Record<string, string>;
    headers?: Record<string, string>;
    body?: Buffer | string;
    sign?: boolean;
    payloadHash?: string;
  } = {},
): Promise<RawResponse> {
  const url = new URL(s3.endpoint);
  const body = opts.body === undefined ? Buffer.alloc(0) : Buffer.from(opts.body);
  let headers: Record<string, string> = {
    host: url.host,
    'content-length': String(body.length),
    'x-amz-content-sha256': opts.payloadHash ?? createHash('sha256').update(body).digest('hex'),
    ...opts.headers,
  };
  const query = opts.query ?? {};
  if (opts.sign !== false) {
    const signer = new SignatureV4({
      service: 's3',
      region: REGION,
      credentials: TEST_KEY,
      sha256: Sha256,
      uriEscapePath: false,
    });
    const signed = await signer.sign(
      new HttpRequest({
        method,
        protocol: 'http:',
        hostname: url.hostname,
        port: Number(url.port),
        path: rawPath,
        query,
        headers,
      }),
    );
    headers = signed.headers;
  }
  const qs = Object.entries(query)
    .map(([k, v]) => (v === '' ? enc(k) : `${enc(k)}=${enc(v)}`))
    .join('&');
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: url.hostname,
        port: url.port,
        method,
        path: qs ? `${rawPath}?${qs}` : rawPath,
        headers,
        agent: false,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            text,
            code: /<Code>([^<]+)<\/Code>/.exec(text)?.[1],
          });
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/** Writes raw bytes on a socket and returns the status line's code (0 when the server just closes). */
async function rawSocket(bytes: Buffer | string): Promise<number> {
  const url = new URL(s3.endpoint);
  return new Promise((resolve) => {
    const sock = net.connect(Number(url.port), url.hostname, () => sock.end(bytes));
    let out = '';
    sock.on('data', (d: Buffer) => (out += d.toString('latin1')));
    sock.on('close', () => resolve(Number(/^HTTP\/1\.1 (\d{3})/.exec(out)?.[1] ?? 0)));
    sock.on('error', () => undefined);
    sock.setTimeout(5000, () => sock.destroy());
  });
}

/** The server still does ordinary work. */
async function stillServes(): Promise<void> {
  const client = s3.client();
  const Key = `health/${Date.now()}-${Math.random()}`;
  await client.send(new PutObjectCommand({ Bucket: BUCKET, Key, Body: 'ok' }));
  const got = await client.send(new GetObjectCommand({ Bucket: BUCKET, Key }));
  expect((await bodyBytes(got.Body)).toString()).toBe('ok');
}

const md5 = (b: string | Buffer) => createHash('md5').update(b).digest('base64');

describe('path traversal in keys', () => {
  // [what, raw path after /fuzz/, the key S3 should store it as (or undefined: refused with 400)]
  const cases: [string, string, string | undefined][] = [
    ['../', '../escape', '../escape'],
    ['../../ to the sibling', '../../sibling/canary.txt', '../../sibling/canary.txt'],
    [
      'deep ../',
      'a/b/../../../../../../../../../../tmp/darkroom-escape',
      'a/b/../../../../../../../../../../tmp/darkroom-escape',
    ],
    ['%2e%2e%2f', '%2e%2e%2f%2e%2e%2fescape', '../../escape'],
    ['double-encoded', '%252e%252e%252fescape', '%2e%2e%2fescape'],
    ['absolute /etc/passwd', '/etc/passwd', '/etc/passwd'],
    ['backslashes', '..\\..\\escape', '..\\..\\escape'],
    ['encoded backslashes', '..%5c..%5cescape', '..\\..\\escape'],
    ['dot segments only', './././.', './././.'],
    ['NUL', 'nul%00byte', undefined],
    ['NUL then ../', '%00/../../escape', undefined],
    ['invalid UTF-8', '%ff%fe%fd', undefined],
    ['overlong UTF-8 for /', '%c0%af%c0%afescape', undefined],
    ['lone surrogate', '%ed%a0%80', undefined],
    ['a key over 1024 bytes', 'k'.repeat(1025), undefined],
  ];

  it.each(cases)(
    '%s: stored as an ordinary key or refused, never a file path',
    async (_what, keyPath, storedAs) => {
      const payload = `payload for ${keyPath}`;
      const put = await raw('PUT', `/${BUCKET}/${keyPath}`, {
        body: payload,
        headers: { 'content-type': 'text/plain' },
      });
      if (storedAs === undefined) {
        expect(put.status, put.text.slice(0, 300)).toBe(400);
        expect(['InvalidURI', 'KeyTooLongError', 'InvalidArgument']).toContain(put.code);
        return;
      }
      expect(put.status, put.text.slice(0, 300)).toBe(200);
      const get = await raw('GET', `/${BUCKET}/${keyPath}`);
      expect([get.status, get.text]).toEqual([200, payload]);
      const list = await raw('GET', `/${BUCKET}`, { query: { 'list-type': '2', prefix: storedAs } });
      expect(list.text).toContain(`<Key>${storedAs.replace(/&/g, '&amp;')}</Key>`);
      const del = await raw('DELETE', `/${BUCKET}/${keyPath}`);
      expect(del.status).toBe(204);
    },
  );

  it('never reads outside the data dir: traversal GETs of files that exist on disk are 404 NoSuchKey', async () => {
    for (const p of [
      '../../sibling/canary.txt',
      '..%2f..%2fsibling%2fcanary.txt',
      '../../escape',
      '/etc/passwd',
      '..%5c..%5cescape',
    ]) {
      const res = await raw('GET', `/${BUCKET}/${p}`);
      expect([res.status, res.code], p).toEqual([404, 'NoSuchKey']);
      expect(res.text).not.toContain('CANARY');
      expect(res.text).not.toContain('root:');
    }
    // Path-style addressing with the traversal in the bucket segment.
    for (const p of ['/..%2fsibling/canary.txt', '/../sibling/canary.txt', '/%2e%2e/escape']) {
      const res = await raw('GET', p);
      expect(res.status, p).toBeGreaterThanOrEqual(400);
      expect(res.status, p).toBeLessThan(500);
      expect(res.text).not.toContain('CANARY');
    }
  });

  it('never wrote outside the data dir', () => {
    expect(snapshot(root, path.join(root, 'data'))).toEqual(snapshotBefore);
    expect(fs.existsSync('/tmp/darkroom-escape')).toBe(false);
  });
});

describe('malformed XML bodies', () => {
  const bodies: [string, string][] = [
    ['empty', ''],
    ['not XML', 'this is not xml'],
    ['unterminated', '<Delete><Object><Key>a</Key>'],
    ['wrong root', '<Nope><Object><Key>a</Key></Object></Nope>'],
    ['binary', '\u0000\u0001\u0002<\u00ff>'],
    [
      'billion laughs',
      `<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">]><Delete><Object><Key>&c;</Key></Object></Delete>`,
    ],
    [
      'XXE',
      '<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]><Delete><Object><Key>&x;</Key></Object></Delete>',
    ],
    ['deep nesting', `${'<a>'.repeat(50_000)}${'</a>'.repeat(50_000)}`],
    [
      'deep nesting under the root',
      `<Delete>${'<Object>'.repeat(20_000)}${'</Object>'.repeat(20_000)}</Delete>`,
    ],
  ];

  const expectMalformed = (res: RawResponse) => {
    expect(res.status, res.text.slice(0, 300)).toBe(400);
    expect([
      'MalformedXML',
      'InvalidRequest',
      'InvalidArgument',
      'KeyTooLongError',
      'InvalidPart',
      'InvalidPartOrder',
    ]).toContain(res.code);
    expect(res.text).not.toContain('root:');
  };

  it.each(bodies)('DeleteObjects with %s → 400', async (_what, body) => {
    expectMalformed(
      await raw('POST', `/${BUCKET}`, { query: { delete: '' }, body, headers: { 'content-md5': md5(body) } }),
    );
  });

  it('DeleteObjects with a 900 kB key answers without a 5xx (S3 reports such keys per object)', async () => {
    const body = `<Delete><Object><Key>${'k'.repeat(900_000)}</Key></Object></Delete>`;
    const res = await raw('POST', `/${BUCKET}`, {
      query: { delete: '' },
      body,
      headers: { 'content-md5': md5(body) },
    });
    expect(res.status).toBeLessThan(500);
  });

  it('DeleteObjects with 1001 keys → 400 MalformedXML', async () => {
    const body = `<Delete>${Array.from({ length: 1001 }, (_, i) => `<Object><Key>k${i}</Key></Object>`).join('')}</Delete>`;
    const res = await raw('POST', `/${BUCKET}`, {
      query: { delete: '' },
      body,
      headers: { 'content-md5': md5(body) },
    });
    expect([res.status, res.code]).toEqual([400, 'MalformedXML']);
  });

  it.each(bodies)('PutBucketCors with %s → 400', async (_what, body) => {
    expectMalformed(
      await raw('PUT', `/${BUCKET}`, { query: { cors: '' }, body, headers: { 'content-md5': md5(body) } }),
    );
  });

  it('PutBucketCors with hostile rules → 400, and the bucket keeps no CORS rule', async () => {
    const hack =
      '<CORSConfiguration><CORSRule><AllowedOrigin>*</AllowedOrigin><AllowedMethod>HACK</AllowedMethod></CORSRule></CORSConfiguration>';
    const refused = await raw('PUT', `/${BUCKET}`, {
      query: { cors: '' },
      body: hack,
      headers: { 'content-md5': md5(hack) },
    });
    expect([refused.status, refused.code]).toEqual([400, 'InvalidRequest']); // S3's answer to an unknown method
    for (const body of [
      '<CORSConfiguration><CORSRule><AllowedMethod>GET</AllowedMethod></CORSRule></CORSConfiguration>',
      `<CORSConfiguration>${'<CORSRule><AllowedOrigin>*</AllowedOrigin><AllowedMethod>GET</AllowedMethod></CORSRule>'.repeat(101)}</CORSConfiguration>`,
    ]) {
      const res = await raw('PUT', `/${BUCKET}`, {
        query: { cors: '' },
        body,
        headers: { 'content-md5': md5(body) },
      });
      expect([res.status, res.code]).toEqual([400, 'MalformedXML']);
    }
    const get = await raw('GET', `/${BUCKET}`, { query: { cors: '' } });
    expect([get.status, get.code]).toEqual([404, 'NoSuchCORSConfiguration']);
  });

  it.each([
    ...bodies,
    [
      'part number 0',
      '<CompleteMultipartUpload><Part><PartNumber>0</PartNumber><ETag>"x"</ETag></Part></CompleteMultipartUpload>',
    ],
    [
      'part number overflow',
      '<CompleteMultipartUpload><Part><PartNumber>99999999999999999999</PartNumber><ETag>"x"</ETag></Part></CompleteMultipartUpload>',
    ],
    [
      'part number NaN',
      '<CompleteMultipartUpload><Part><PartNumber>abc</PartNumber><ETag>"x"</ETag></Part></CompleteMultipartUpload>',
    ],
    ['no parts', '<CompleteMultipartUpload></CompleteMultipartUpload>'],
  ])('CompleteMultipartUpload with %s → 400', async (_what, body) => {
    const mpu = await s3.client().send(new CreateMultipartUploadCommand({ Bucket: BUCKET, Key: 'mpu/fuzz' }));
    expectMalformed(await raw('POST', `/${BUCKET}/mpu/fuzz`, { query: { uploadId: mpu.UploadId! }, body }));
  });

  it('CompleteMultipartUpload with a garbage uploadId → 404 NoSuchUpload', async () => {
    const body =
      '<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>"x"</ETag></Part></CompleteMultipartUpload>';
    for (const uploadId of ['', 'garbage', '../../etc', '%00', 'x'.repeat(5000)]) {
      const res = await raw('POST', `/${BUCKET}/mpu/fuzz`, { query: { uploadId }, body });
      expect(res.status, uploadId).toBeGreaterThanOrEqual(400);
      expect(res.status, uploadId).toBeLessThan(500);
    }
  });

  it('still serves', stillServes);
});

describe('aws-chunked bodies', () => {
  const chunkedPut = (
    key: string,
    body: string,
    decoded: number,
    mode = 'STREAMING-UNSIGNED-PAYLOAD-TRAILER',
  ) =>
    raw('PUT', `/${BUCKET}/chunked/${key}`, {
      payloadHash: mode,
      body,
      headers: {
        'content-encoding': 'aws-chunked',
        'x-amz-decoded-content-length': String(decoded),
        ...(mode.includes('TRAILER') ? { 'x-amz-trailer': 'x-amz-checksum-crc32' } : {}),
      },
    });

  it.each<[string, string, number, string?]>([
    ['a non-hex size', 'zz\r\nabc\r\n0\r\n\r\n', 3],
    ['a negative size', '-1\r\nabc\r\n0\r\n\r\n', 3],
    ['an overflowing size', 'ffffffffffffffffffff\r\nabc\r\n0\r\n\r\n', 3],
    ['a size past the decoded length', '10\r\nabcdefghijklmnop\r\n0\r\n\r\n', 3],
    ['a size shorter than the data', '1\r\nabc\r\n0\r\n\r\n', 3],
    ['no CRLF after the size', '3abc0\r\n\r\n', 3],
    ['no final chunk', '3\r\nabc\r\n', 3],
    ['a huge chunk-extension line', `3;${'x'.repeat(100_000)}\r\nabc\r\n0\r\n\r\n`, 3],
    ['a bogus trailer', '3\r\nabc\r\n0\r\nx-amz-checksum-crc32:AAAAAA==\r\n\r\n', 3],
    ['a decoded length that lies', '3\r\nabc\r\n0\r\n\r\n', 99],
    ['a negative decoded length', '3\r\nabc\r\n0\r\n\r\n', -1],
    [
      'a forged chunk signature',
      `3;chunk-signature=${'0'.repeat(64)}\r\nabc\r\n0;chunk-signature=${'0'.repeat(64)}\r\n\r\n`,
      3,
      'STREAMING-AWS4-HMAC-SHA256-PAYLOAD',
    ],
    [
      'a signed-chunk body without signatures',
      '3\r\nabc\r\n0\r\n\r\n',
      3,
      'STREAMING-AWS4-HMAC-SHA256-PAYLOAD',
    ],
  ])('refuses %s with a 4xx and stores nothing', async (what, body, decoded, mode) => {
    const key = what.replace(/\W+/g, '-');
    const res = await chunkedPut(key, body, decoded, mode);
    expect(res.status, res.text.slice(0, 300)).toBeGreaterThanOrEqual(400);
    expect(res.status, res.text.slice(0, 300)).toBeLessThan(500);
    if (what.includes('forged')) expect([res.status, res.code]).toEqual([403, 'SignatureDoesNotMatch']);
    expect((await raw('HEAD', `/${BUCKET}/chunked/${key}`)).status).toBe(404);
  });

  it('still serves', stillServes);
});

describe('Range headers on a 1000-byte object', () => {
  beforeAll(async () => {
    await s3
      .client()
      .send(new PutObjectCommand({ Bucket: BUCKET, Key: 'ranged', Body: Buffer.alloc(1000, 7) }));
  });

  it.each<[string, number, number?]>([
    ['bytes=0-99', 206, 100],
    ['bytes=-1-5', 200],
    ['bytes=abc', 200],
    ['bytes=5-1', 200],
    ['bytes=0-0,5-6', 200],
    ['bytes=', 200],
    ['items=0-5', 200],
    ['bytes=1e3-', 200],
    ['bytes=0x10-', 200],
    ['bytes=-0', 416],
    ['bytes=1000-', 416],
    ['bytes=99999999999999999999999-', 416],
    ['bytes=9007199254740993-', 416],
    ['bytes=-99999999999999999999', 206, 1000],
    ['bytes=0-99999999999999999999999', 206, 1000],
    ['bytes=999-', 206, 1],
    [`bytes=${'9'.repeat(5000)}-`, 416],
  ])('%s → %i', async (range, status, length) => {
    const res = await raw('GET', `/${BUCKET}/ranged`, { headers: { range } });
    expect(res.status).toBe(status);
    if (status === 416) expect(res.code).toBe('InvalidRange');
    if (status === 200) expect(res.text.length).toBe(1000);
    if (length !== undefined) expect(Buffer.byteLength(res.text, 'latin1')).toBe(length);
  });
});

describe('malformed HTTP', () => {
  it('answers huge headers with 431/400 and keeps serving', async () => {
    const status = await rawSocket(
      `GET /${BUCKET}/x HTTP/1.1\r\nHost: localhost\r\nX-Big: ${'a'.repeat(200_000)}\r\n\r\n`,
    );
    expect([400, 431, 0]).toContain(status);
    const many = await rawSocket(
      `GET /${BUCKET}/x HTTP/1.1\r\nHost: localhost\r\n${'X-A: b\r\n'.repeat(5000)}\r\n`,
    );
    expect([400, 431, 0]).toContain(many);
    await stillServes();
  });

  it.each([
    ['garbage request line', 'HELLO\r\n\r\n'],
    ['bad HTTP version', 'GET / HTTP/9.9\r\nHost: x\r\n\r\n'],
    [
      'conflicting lengths',
      `PUT /${BUCKET}/x HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n`,
    ],
    ['a negative content-length', `PUT /${BUCKET}/x HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n`],
    ['NUL in the path', `GET /${BUCKET}/a\u0000b HTTP/1.1\r\nHost: x\r\n\r\n`],
    ['a bare LF', `GET /${BUCKET}/x HTTP/1.1\nHost: x\n\n`],
  ])('%s: a 4xx or a closed connection, never a crash', async (_what, bytes) => {
    const status = await rawSocket(bytes);
    expect(status === 0 || (status >= 400 && status < 500)).toBe(true);
  });

  it('a signed request with a huge but legal header set is refused cleanly or served', async () => {
    const headers: Record<string, string> = {};
    for (let i = 0; i < 100; i++) headers[`x-amz-meta-k${i}`] = 'v'.repeat(100);
    const res = await raw('PUT', `/${BUCKET}/meta-heavy`, { body: 'x', headers });
    // S3 caps user metadata at 2 KB.
    expect([res.status, res.code]).toEqual([400, 'MetadataTooLarge']);
  });

  it('still serves', stillServes);
});

describe('seeded random requests', () => {
  it('500 signed requests with random methods, paths, subresources, headers and bodies: never a 5xx', async () => {
    const r = xorshift(0x2026_1126).random;
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
    const bytesOf = (n: number) => Buffer.from(Array.from({ length: n }, () => Math.floor(r() * 256)));
    const pathPart = () => {
      const raws = [
        '..',
        '.',
        '%2e',
        '%2F',
        '%00',
        '%ff',
        '\\',
        'a',
        'uploads',
        '~',
        '%20',
        '+',
        '%',
        '%zz',
        "'",
        '"',
        '<',
        '>',
      ];
      return Array.from({ length: 1 + Math.floor(r() * 5) }, () => pick(raws)).join(pick(['/', '', '/']));
    };
    const subresources = [
      '',
      'uploads',
      'delete',
      'cors',
      'notification',
      'location',
      'acl',
      'tagging',
      'versioning',
      'list-type',
      'uploadId',
      'partNumber',
      'max-keys',
      'continuation-token',
      'response-content-type',
      'x-id',
    ];
    const values = [
      '',
      '0',
      '-1',
      '2',
      '99999999999999999999',
      'abc',
      '%',
      '../..',
      '\u0000',
      'ﬀ',
      'x'.repeat(2000),
    ];
    const hdrs = [
      'range',
      'if-match',
      'if-none-match',
      'if-modified-since',
      'x-amz-copy-source',
      'x-amz-checksum-crc32',
      'x-amz-checksum-sha256',
      'content-md5',
      'x-amz-metadata-directive',
      'content-type',
      'x-amz-meta-a',
      'expect',
      'x-amz-checksum-algorithm',
    ];
    const statuses: Record<number, number> = {};
    for (let i = 0; i < 500; i++) {
      const method = pick(['GET', 'PUT', 'POST', 'DELETE', 'HEAD', 'PATCH', 'OPTIONS']);
      const p = pick([`/${BUCKET}/${pathPart()}`, `/${pathPart()}`, `/${BUCKET}`, '/', `/${BUCKET}/ranged`]);
      const query: Record<string, string> = {};
      for (let q = Math.floor(r() * 3); q > 0; q--) query[pick(subresources)] = pick(values);
      const headers: Record<string, string> = {};
      for (let h = Math.floor(r() * 3); h > 0; h--)
        headers[pick(hdrs)] = pick(values.filter((v) => !v.includes('\u0000') && !/[^\x20-\x7e]/.test(v)));
      const body = r() < 0.5 ? bytesOf(Math.floor(r() * 2000)) : Buffer.alloc(0);
      let res: RawResponse;
      try {
        res = await raw(method, p, { query, headers, body, sign: r() < 0.9 });
      } catch (err) {
        throw new Error(
          `case ${i}: ${method} ${p} ${JSON.stringify(query)} ${JSON.stringify(headers)}: ${String(err)}`,
        );
      }
      statuses[res.status] = (statuses[res.status] ?? 0) + 1;
      if (res.status >= 500 && res.status !== 501) {
        throw new Error(
          `case ${i}: ${method} ${p} ${JSON.stringify(query)} ${JSON.stringify(headers)} → ${res.status} ${res.text.slice(0, 500)}`,
        );
      }
    }
    console.info(`s3 random requests: ${JSON.stringify(statuses)}`);
    await stillServes();
    expect(snapshot(root, path.join(root, 'data'))).toEqual(snapshotBefore);
  }, 60_000);
});
