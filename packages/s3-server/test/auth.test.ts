import http from 'node:http';
import {
  CreateBucketCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListBucketsCommand,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bodyBytes, REGION, SECOND_KEY, s3ErrorOf, startTestS3, TEST_KEY, type TestS3 } from './support.ts';

let s3: TestS3;
let client: S3Client;
const Bucket = 'auth-test';

beforeAll(async () => {
  s3 = await startTestS3();
  client = s3.client();
  await client.send(new CreateBucketCommand({ Bucket }));
});
afterAll(() => s3.stop());

/** A client that presigns without signing a checksum of an empty body (what Darkroom's API does). */
function presigner(): S3Client {
  return s3.client({ requestChecksumCalculation: 'WHEN_REQUIRED' });
}

async function errorCode(res: Response): Promise<string | undefined> {
  return /<Code>([^<]+)<\/Code>/.exec(await res.text())?.[1];
}

async function exists(Key: string): Promise<boolean> {
  try {
    await client.send(new HeadObjectCommand({ Bucket, Key }));
    return true;
  } catch {
    return false;
  }
}

describe('header authentication', () => {
  it('accepts every configured key pair', async () => {
    const second = s3.client({ credentials: SECOND_KEY });
    await second.send(new PutObjectCommand({ Bucket, Key: 'by-second', Body: 'hi' }));
    expect(await exists('by-second')).toBe(true);
  });

  it('refuses an unknown key, a wrong secret and a wrong region', async () => {
    const unknown = s3.client({ credentials: { accessKeyId: 'NOPE', secretAccessKey: 'x' } });
    expect(await s3ErrorOf(() => unknown.send(new ListBucketsCommand({})))).toMatchObject({
      name: 'InvalidAccessKeyId',
      status: 403,
    });
    const wrongSecret = s3.client({
      credentials: { accessKeyId: SECOND_KEY.accessKeyId, secretAccessKey: 'wrong' },
    });
    expect(
      await s3ErrorOf(() => wrongSecret.send(new PutObjectCommand({ Bucket, Key: 'forged', Body: 'x' }))),
    ).toMatchObject({ name: 'SignatureDoesNotMatch', status: 403 });
    expect(await exists('forged')).toBe(false);
    const wrongRegion = s3.client({ region: 'eu-west-1' });
    expect((await s3ErrorOf(() => wrongRegion.send(new ListBucketsCommand({})))).name).toBe(
      'AuthorizationHeaderMalformed',
    );
  });

  it('refuses anonymous requests', async () => {
    const res = await fetch(`${s3.endpoint}/${Bucket}/by-second`);
    expect(res.status).toBe(403);
    expect(await errorCode(res)).toBe('AccessDenied');
  });

  it('verifies a signed payload hash and refuses a body that does not match it', async () => {
    // Sign a request for one body, then send another of the same length.
    const signed = s3.client({ requestChecksumCalculation: 'WHEN_REQUIRED' });
    signed.middlewareStack.add(
      (next) => async (args) => {
        const req = args.request as { body: unknown; headers: Record<string, string> };
        req.body = Buffer.from('BBBB');
        return next(args);
      },
      { step: 'finalizeRequest', name: 'swapBody', priority: 'low' },
    );
    const err = await s3ErrorOf(() =>
      signed.send(new PutObjectCommand({ Bucket, Key: 'swapped', Body: Buffer.from('AAAA') })),
    );
    expect(err).toMatchObject({ name: 'XAmzContentSHA256Mismatch', status: 400 });
    expect(await exists('swapped')).toBe(false);
  });
});

describe('presigned URLs', () => {
  it('lets a PUT through only with the signed content type and length', async () => {
    const url = await getSignedUrl(
      presigner(),
      new PutObjectCommand({ Bucket, Key: 'presigned.jpg', ContentType: 'image/jpeg', ContentLength: 5 }),
      { expiresIn: 300, signableHeaders: new Set(['content-type']) },
    );
    const wrongType = await fetch(url, {
      method: 'PUT',
      body: 'hello',
      headers: { 'content-type': 'image/png' },
    });
    expect(wrongType.status).toBe(403);
    expect(await errorCode(wrongType)).toBe('SignatureDoesNotMatch');
    const longer = await fetch(url, {
      method: 'PUT',
      body: 'hello!',
      headers: { 'content-type': 'image/jpeg' },
    });
    expect(longer.status).toBe(403);
    expect(await exists('presigned.jpg')).toBe(false);
    const ok = await fetch(url, { method: 'PUT', body: 'hello', headers: { 'content-type': 'image/jpeg' } });
    expect(ok.status).toBe(200);
    expect(ok.headers.get('etag')).toBe('"5d41402abc4b2a76b9719d911017c592"');
    const head = await client.send(new HeadObjectCommand({ Bucket, Key: 'presigned.jpg' }));
    expect(head).toMatchObject({ ContentType: 'image/jpeg', ContentLength: 5 });
  });

  it('serves a presigned GET and refuses it once expired', async () => {
    await client.send(new PutObjectCommand({ Bucket, Key: 'to-read', Body: 'readable' }));
    const url = await getSignedUrl(presigner(), new GetObjectCommand({ Bucket, Key: 'to-read' }), {
      expiresIn: 1,
    });
    const ok = await fetch(url);
    expect(await ok.text()).toBe('readable');
    await new Promise((r) => setTimeout(r, 2100));
    const expired = await fetch(url);
    expect(expired.status).toBe(403);
    const body = await expired.text();
    expect(body).toContain('<Code>AccessDenied</Code>');
    expect(body).toContain('Request has expired');
  });

  it('refuses a tampered URL', async () => {
    const url = new URL(
      await getSignedUrl(presigner(), new GetObjectCommand({ Bucket, Key: 'to-read' }), { expiresIn: 60 }),
    );
    url.pathname = `/${Bucket}/other-key`;
    const res = await fetch(url);
    expect(res.status).toBe(403);
    expect(await errorCode(res)).toBe('SignatureDoesNotMatch');
  });

  it('behaves as AWS for a PUT URL presigned at SDK defaults (CRC32 of the empty body is signed in)', async () => {
    // SDK >= 3.729 signs x-amz-checksum-crc32=AAAAAA== into presigned PutObject URLs; S3 then
    // checks the uploaded bytes against it, so any non-empty upload fails with BadDigest.
    const url = await getSignedUrl(s3.client(), new PutObjectCommand({ Bucket, Key: 'default-presign' }), {
      expiresIn: 60,
    });
    expect(url).toContain('x-amz-checksum-crc32=AAAAAA%3D%3D');
    const res = await fetch(url, { method: 'PUT', body: 'not empty' });
    expect(res.status).toBe(400);
    expect(await errorCode(res)).toBe('BadDigest');
    expect(await exists('default-presign')).toBe(false);
    const empty = await fetch(url, { method: 'PUT', body: '' });
    expect(empty.status).toBe(200);
  });
});

describe('virtual-host-style addressing', () => {
  it('serves {bucket}.localhost the same as path style', async () => {
    const port = Number(new URL(s3.endpoint).port);
    // *.localhost does not resolve everywhere; pin it to loopback like a resolver that follows RFC 6761.
    const agent = new http.Agent({
      lookup: (_host, opts, cb) =>
        (opts as { all?: boolean }).all
          ? cb(null, [{ address: '127.0.0.1', family: 4 }])
          : cb(null, '127.0.0.1', 4),
    });
    const vhost = new S3Client({
      endpoint: `http://localhost:${port}`,
      region: REGION,
      forcePathStyle: false,
      credentials: TEST_KEY,
      requestHandler: new NodeHttpHandler({ httpAgent: agent }),
    });
    const seen: string[] = [];
    vhost.middlewareStack.add(
      (next) => async (args) => {
        const req = args.request as { hostname: string; path: string };
        seen.push(`${req.hostname}${req.path}`);
        return next(args);
      },
      { step: 'finalizeRequest', name: 'recordHost' },
    );
    await vhost.send(new PutObjectCommand({ Bucket, Key: 'vhost/key.txt', Body: 'virtual' }));
    const got = await vhost.send(new GetObjectCommand({ Bucket, Key: 'vhost/key.txt' }));
    expect((await bodyBytes(got.Body)).toString()).toBe('virtual');
    expect(seen[0]).toBe(`${Bucket}.localhost/vhost/key.txt`);
    vhost.destroy();
    agent.destroy();
  });
});

describe('unsupported signature versions', () => {
  it('answers a SigV2 presigned URL with InvalidRequest naming the supported mechanism', async () => {
    const res = await fetch(
      `${s3.endpoint}/${Bucket}/by-second?AWSAccessKeyId=AKID&Expires=2000000000&Signature=abc%3D`,
    );
    expect(res.status).toBe(400);
    const body = await res.text();
    expect(body).toContain('<Code>InvalidRequest</Code>');
    expect(body).toContain('AWS4-HMAC-SHA256');
  });
});
