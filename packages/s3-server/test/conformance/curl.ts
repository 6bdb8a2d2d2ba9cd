// Raw HTTP with curl: presigned URLs and browser-style POST forms exactly as a non-SDK client sends
// them, with S3's XML error documents checked on every refusal.
import { execFile, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { GetObjectCommand, HeadObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { createPresignedPost } from '@aws-sdk/s3-presigned-post';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { XMLParser } from 'fast-xml-parser';
import { afterAll, beforeAll, expect } from 'vitest';
import { bodyBytes, bytes, s3ErrorOf } from '../support.ts';
import type { SuiteContext } from './suite.ts';

const xmlParser = new XMLParser({ parseTagValue: false });

/** Presigned PUT and GET, and POST forms, sent by curl. */
export function curlSuite(s: SuiteContext): void {
  try {
    execFileSync('curl', ['--version'], { stdio: 'ignore' });
  } catch {
    throw new Error('curl is not on PATH. These tests need it: install curl and rerun.');
  }
  const bucket = s.bucket('curl');
  let work: string;
  /** A client for presigning: no flexible checksums, so the URL carries no checksum of an empty body. */
  let presignClient: S3Client | undefined;
  const presigner = () =>
    (presignClient ??= s.target.client({ requestChecksumCalculation: 'WHEN_REQUIRED' }));
  beforeAll(() => {
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'darkroom-curl-'));
  });
  afterAll(() => {
    if (work) fs.rmSync(work, { recursive: true, force: true });
  });

  interface CurlResult {
    status: number;
    body: Buffer;
    headers: Record<string, string>;
  }

  /** Runs curl with `args` and the URL; the status, body and (lowercased) response headers come back. */
  function curl(url: string, ...args: string[]): Promise<CurlResult> {
    const id = Math.random().toString(36).slice(2);
    const bodyFile = path.join(work, `curl-${id}.body`);
    const headerFile = path.join(work, `curl-${id}.headers`);
    return new Promise((resolve, reject) => {
      execFile(
        'curl',
        ['-sS', '-o', bodyFile, '-D', headerFile, '-w', '%{http_code}', ...args, url],
        { timeout: 30_000 },
        (err, stdout, stderr) => {
          if (err) {
            reject(new Error(`curl ${args.join(' ')} failed: ${err.message}\n${stderr}`));
            return;
          }
          const headers: Record<string, string> = {};
          const rawHeaders = fs.readFileSync(headerFile, 'latin1');
          fs.rmSync(headerFile);
          // With 100-continue there are two header blocks; the last one is the final response.
          const blocks = rawHeaders.trim().split(/\r?\n\r?\n/);
          for (const line of (blocks.at(-1) ?? '').split(/\r?\n/).slice(1)) {
            const colon = line.indexOf(':');
            if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
          }
          const body = fs.existsSync(bodyFile) ? fs.readFileSync(bodyFile) : Buffer.alloc(0);
          fs.rmSync(bodyFile, { force: true });
          resolve({ status: Number(stdout), body, headers });
        },
      );
    });
  }

  /** Parses an S3 error document and checks the fields every S3 error carries. */
  function s3ErrorBody(res: CurlResult): Record<string, string> {
    expect(res.headers['content-type']).toBe('application/xml');
    const doc = xmlParser.parse(res.body.toString('utf8')) as { Error?: Record<string, string> };
    expect(doc.Error, `not an S3 error document: ${res.body.toString('utf8')}`).toBeDefined();
    const error = doc.Error!;
    expect(error.Code).toMatch(/^[A-Za-z]+$/);
    if (!s.deviates('errorDetails')) expect(error.Message).toBeTruthy();
    expect(error.RequestId).toBeTruthy();
    // The body's RequestId is the one in the x-amz-request-id header, as on S3.
    expect(error.RequestId).toBe(res.headers['x-amz-request-id']);
    return error;
  }

  async function absent(key: string): Promise<void> {
    const err = await s3ErrorOf(() =>
      s.client.send(new HeadObjectCommand({ Bucket: bucket.name, Key: key })),
    );
    expect(err.status).toBe(404);
  }

  function writeFile(name: string, data: Buffer): string {
    const file = path.join(work, name);
    fs.writeFileSync(file, data);
    return file;
  }

  async function presignPut(
    key: string,
    contentType: string,
    length: number,
    expiresIn = 300,
  ): Promise<string> {
    return getSignedUrl(
      presigner(),
      new PutObjectCommand({
        Bucket: bucket.name,
        Key: key,
        ContentType: contentType,
        ContentLength: length,
      }),
      { expiresIn, signableHeaders: new Set(['content-type']) },
    );
  }

  s.describe('presigned PUT with curl', () => {
    s.it('signs content-type and content-length into the URL', async () => {
      const url = new URL(await presignPut('signed/check.png', 'image/png', 10));
      const signed = url.searchParams.get('X-Amz-SignedHeaders')?.split(';');
      expect(signed).toEqual(expect.arrayContaining(['content-length', 'content-type', 'host']));
      // No checksum of an empty body hoisted into the query (what the default client would add).
      expect([...url.searchParams.keys()].some((k) => k.toLowerCase().startsWith('x-amz-checksum'))).toBe(
        false,
      );
    });

    s.it('uploads with curl -T and the signed Content-Type', async () => {
      const data = bytes(200_000, 5);
      const file = writeFile('photo.png', data);
      const url = await presignPut('uploads/photo.png', 'image/png', data.length);
      const res = await curl(url, '-T', file, '-H', 'Content-Type: image/png');
      expect(res.status).toBe(200);
      expect(res.headers.etag).toMatch(/^"[0-9a-f]{32}"$/);
      const got = await s.client.send(
        new GetObjectCommand({ Bucket: bucket.name, Key: 'uploads/photo.png' }),
      );
      expect(got.ContentType).toBe('image/png');
      expect(got.ETag).toBe(res.headers.etag);
      expect(Buffer.compare(await bodyBytes(got.Body), data)).toBe(0);
    });

    s.it('refuses the URL with another Content-Type, writing nothing', async () => {
      const data = bytes(50_000, 6);
      const file = writeFile('wrong-type.png', data);
      const url = await presignPut('uploads/wrong-type.png', 'image/png', data.length);
      const res = await curl(url, '-T', file, '-H', 'Content-Type: text/html');
      expect(res.status).toBe(403);
      expect(s3ErrorBody(res).Code).toBe('SignatureDoesNotMatch');
      // Without any Content-Type the signed header is missing, which fails the same way.
      const none = await curl(url, '-T', file);
      expect(none.status).toBe(403);
      expect(s3ErrorBody(none).Code).toBe('SignatureDoesNotMatch');
      await absent('uploads/wrong-type.png');
    });

    s.it('refuses a body one byte longer or shorter than signed, writing nothing', async () => {
      const data = bytes(100_000, 7);
      const url = await presignPut('uploads/sized.bin', 'application/octet-stream', data.length);
      for (const [name, body] of [
        ['longer.bin', Buffer.concat([data, Buffer.from([0])])],
        ['shorter.bin', data.subarray(0, data.length - 1)],
      ] as const) {
        const res = await curl(
          url,
          '-T',
          writeFile(name, body),
          '-H',
          'Content-Type: application/octet-stream',
        );
        expect(res.status, name).toBe(403);
        expect(s3ErrorBody(res).Code).toBe('SignatureDoesNotMatch');
        await absent('uploads/sized.bin');
      }
      const ok = await curl(
        url,
        '-T',
        writeFile('exact.bin', data),
        '-H',
        'Content-Type: application/octet-stream',
      );
      expect(ok.status).toBe(200);
    });

    s.it('refuses a large upload before its body (Expect: 100-continue), writing nothing', async () => {
      // curl sends Expect: 100-continue for bodies over 1 MiB; the 403 comes instead of the "100 Continue".
      const data = bytes(3 * 1024 * 1024, 8);
      const file = writeFile('large.bin', data);
      const url = await presignPut('uploads/large.bin', 'image/jpeg', data.length);
      const refused = await curl(url, '-T', file, '-H', 'Content-Type: image/png');
      expect(refused.status).toBe(403);
      expect(s3ErrorBody(refused).Code).toBe('SignatureDoesNotMatch');
      await absent('uploads/large.bin');
      const ok = await curl(url, '-T', file, '-H', 'Content-Type: image/jpeg');
      expect(ok.status).toBe(200);
      const head = await s.client.send(
        new HeadObjectCommand({ Bucket: bucket.name, Key: 'uploads/large.bin' }),
      );
      expect(head).toMatchObject({ ContentLength: data.length, ContentType: 'image/jpeg' });
    });

    s.it('refuses an expired URL with AccessDenied "Request has expired", writing nothing', async () => {
      const data = Buffer.from('too late');
      const file = writeFile('late.txt', data);
      const url = await presignPut('uploads/late.txt', 'text/plain', data.length, 1);
      await new Promise((resolve) => setTimeout(resolve, 2000));
      const res = await curl(url, '-T', file, '-H', 'Content-Type: text/plain');
      expect(res.status).toBe(403);
      const error = s3ErrorBody(res);
      expect(error.Code).toBe('AccessDenied');
      if (!s.deviates('errorDetails')) {
        expect(error.Message).toBe('Request has expired');
        expect(error['X-Amz-Expires']).toBe('1');
      }
      await absent('uploads/late.txt');
    });
  });

  s.describe('presigned GET with curl', () => {
    s.it('downloads the object, whole and by range', async () => {
      const data = bytes(150_000, 9);
      await s.client.send(
        new PutObjectCommand({
          Bucket: bucket.name,
          Key: 'get/me.bin',
          Body: data,
          ContentType: 'image/webp',
        }),
      );
      const url = await getSignedUrl(
        presigner(),
        new GetObjectCommand({ Bucket: bucket.name, Key: 'get/me.bin' }),
        {
          expiresIn: 300,
        },
      );
      const res = await curl(url);
      expect(res.status).toBe(200);
      expect(res.headers['content-type']).toBe('image/webp');
      expect(Number(res.headers['content-length'])).toBe(data.length);
      expect(Buffer.compare(res.body, data)).toBe(0);
      const part = await curl(url, '-r', '1000-1999');
      expect(part.status).toBe(206);
      expect(part.headers['content-range']).toBe(`bytes 1000-1999/${data.length}`);
      expect(Buffer.compare(part.body, data.subarray(1000, 2000))).toBe(0);
    });

    s.it('answers a missing key with NoSuchKey XML', async () => {
      const url = await getSignedUrl(
        presigner(),
        new GetObjectCommand({ Bucket: bucket.name, Key: 'get/missing' }),
        {
          expiresIn: 300,
        },
      );
      const res = await curl(url);
      expect(res.status).toBe(404);
      const error = s3ErrorBody(res);
      expect(error.Code).toBe('NoSuchKey');
      if (!s.deviates('errorDetails')) expect(error.Key).toBe('get/missing');
    });

    s.it('refuses an expired GET URL', async () => {
      await s.client.send(new PutObjectCommand({ Bucket: bucket.name, Key: 'get/expiring', Body: 'x' }));
      const url = await getSignedUrl(
        presigner(),
        new GetObjectCommand({ Bucket: bucket.name, Key: 'get/expiring' }),
        {
          expiresIn: 1,
        },
      );
      await new Promise((resolve) => setTimeout(resolve, 2000));
      const res = await curl(url);
      expect(res.status).toBe(403);
      const error = s3ErrorBody(res);
      expect(error.Code).toBe('AccessDenied');
      if (!s.deviates('errorDetails')) expect(error.Message).toBe('Request has expired');
    });
  });

  s.describe('browser-style POST form with curl -F', () => {
    const MAX = 64 * 1024;

    async function presignPost(key: string) {
      return createPresignedPost(presigner(), {
        Bucket: bucket.name,
        Key: key,
        Conditions: [
          ['content-length-range', 1, MAX],
          ['starts-with', '$Content-Type', 'image/'],
        ],
        Expires: 300,
      });
    }

    /** The form as a browser sends it: policy fields first, then Content-Type, then the file last. */
    function formArgs(fields: Record<string, string>, contentType: string, file: string): string[] {
      const args: string[] = [];
      // --form-string is -F without curl's @file / <file / ;type= interpretation of the value.
      for (const [name, value] of Object.entries(fields)) args.push('--form-string', `${name}=${value}`);
      args.push('--form-string', `Content-Type=${contentType}`);
      args.push('-F', `file=@${file};type=${contentType}`);
      return args;
    }

    s.it('uploads within the policy: 204, and the object has the right bytes and type', async () => {
      const data = bytes(40_000, 10);
      const file = writeFile('form.png', data);
      const { url, fields } = await presignPost('forms/ok.png');
      const res = await curl(url, ...formArgs(fields, 'image/png', file));
      expect(res.status).toBe(204);
      expect(res.body.length).toBe(0);
      expect(res.headers.etag).toMatch(/^"[0-9a-f]{32}"$/);
      expect(res.headers.location).toContain('/forms/ok.png');
      const got = await s.client.send(new GetObjectCommand({ Bucket: bucket.name, Key: 'forms/ok.png' }));
      expect(got.ContentType).toBe('image/png');
      expect(Buffer.compare(await bodyBytes(got.Body), data)).toBe(0);
    });

    s.it('answers success_action_status=201 with a PostResponse document', async () => {
      const data = bytes(1000, 11);
      const file = writeFile('form201.png', data);
      const { url, fields } = await createPresignedPost(presigner(), {
        Bucket: bucket.name,
        Key: 'forms/created.png',
        Conditions: [['starts-with', '$Content-Type', 'image/']],
        Fields: { success_action_status: '201' },
        Expires: 300,
      });
      const res = await curl(url, ...formArgs(fields, 'image/gif', file));
      expect(res.status).toBe(201);
      const doc = xmlParser.parse(res.body.toString('utf8')) as { PostResponse: Record<string, string> };
      expect(doc.PostResponse).toMatchObject({ Bucket: bucket.name, Key: 'forms/created.png' });
      expect(doc.PostResponse.ETag).toBe(res.headers.etag);
    });

    s.it('refuses a Content-Type outside the policy with 403, writing nothing', async () => {
      const file = writeFile('form.html', Buffer.from('<script>alert(1)</script>'));
      const { url, fields } = await presignPost('forms/evil.html');
      const res = await curl(url, ...formArgs(fields, 'text/html', file));
      expect(res.status).toBe(403);
      const error = s3ErrorBody(res);
      expect(error.Code).toBe('AccessDenied');
      if (!s.deviates('errorDetails'))
        expect(error.Message).toMatch(
          /^Invalid according to Policy: Policy Condition failed: .*Content-Type/,
        );
      await absent('forms/evil.html');
    });

    s.it(
      'refuses a file outside content-length-range (EntityTooLarge / EntityTooSmall), writing nothing',
      async () => {
        const { url, fields } = await presignPost('forms/sized.png');
        const big = await curl(
          url,
          ...formArgs(fields, 'image/png', writeFile('big.png', bytes(MAX + 1, 12))),
        );
        // S3 answers a size outside the policy's range with 400 EntityTooLarge, not 403.
        expect(big.status).toBe(400);
        const error = s3ErrorBody(big);
        expect(error.Code).toBe('EntityTooLarge');
        if (!s.deviates('errorDetails')) expect(error.MaxSizeAllowed).toBe(String(MAX));
        await absent('forms/sized.png');
        const empty = await curl(
          url,
          ...formArgs(fields, 'image/png', writeFile('empty.png', Buffer.alloc(0))),
        );
        expect(empty.status).toBe(400);
        expect(s3ErrorBody(empty).Code).toBe('EntityTooSmall');
        await absent('forms/sized.png');
      },
    );

    s.it('refuses a tampered key with 403, writing nothing', async () => {
      const file = writeFile('form2.png', bytes(100, 13));
      const { url, fields } = await presignPost('forms/mine.png');
      const otherKey = await curl(
        url,
        ...formArgs({ ...fields, key: 'forms/theirs.png' }, 'image/png', file),
      );
      expect(otherKey.status).toBe(403);
      expect(s3ErrorBody(otherKey).Code).toBe('AccessDenied');
      await absent('forms/theirs.png');
      await absent('forms/mine.png');
    });

    s.it('refuses a tampered policy with 403 SignatureDoesNotMatch, writing nothing', async () => {
      const file = writeFile('form3.png', bytes(100, 14));
      const { url, fields } = await presignPost('forms/forged.png');
      const policy = JSON.parse(Buffer.from(fields.Policy!, 'base64').toString('utf8')) as {
        conditions: unknown[];
      };
      policy.conditions = policy.conditions.filter(
        (c) => !Array.isArray(c) || c[0] !== 'content-length-range',
      );
      const forged = Buffer.from(JSON.stringify(policy)).toString('base64');
      const tampered = await curl(url, ...formArgs({ ...fields, Policy: forged }, 'image/png', file));
      expect(tampered.status).toBe(403);
      expect(s3ErrorBody(tampered).Code).toBe('SignatureDoesNotMatch');
      await absent('forms/forged.png');
    });

    s.it('refuses a field the policy does not name with 403, writing nothing', async () => {
      const file = writeFile('form4.png', bytes(100, 15));
      const { url, fields } = await presignPost('forms/extra.png');
      const extra = await curl(
        url,
        ...formArgs({ ...fields, 'x-amz-meta-owner': 'mallory' }, 'image/png', file),
      );
      expect(extra.status).toBe(403);
      const error = s3ErrorBody(extra);
      expect(error.Code).toBe('AccessDenied');
      if (!s.deviates('errorDetails'))
        expect(error.Message).toBe('Invalid according to Policy: Extra input fields: x-amz-meta-owner');
      await absent('forms/extra.png');
    });
  });
}
