import http from 'node:http';
import {
  GetObjectCommand,
  HeadObjectCommand,
  ListBucketsCommand,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { expect } from 'vitest';
import { bodyBytes, s3ErrorOf } from '../support.ts';
import { errorCodeOf } from './raw.ts';
import type { SuiteContext } from './suite.ts';

/** SigV4 in headers and presigned URLs, and addressing. */
export function authSuite(s: SuiteContext): void {
  const bucket = s.bucket('auth');
  /** A client that presigns without signing a checksum of an empty body (what Darkroom's API does). */
  let presignClient: S3Client | undefined;
  const presigner = () =>
    (presignClient ??= s.target.client({ requestChecksumCalculation: 'WHEN_REQUIRED' }));
  async function exists(Key: string): Promise<boolean> {
    try {
      await s.client.send(new HeadObjectCommand({ Bucket: bucket.name, Key }));
      return true;
    } catch {
      return false;
    }
  }

  s.describe('header authentication', () => {
    s.it('refuses an unknown key and a wrong secret', async () => {
      const unknown = s.target.client({ credentials: { accessKeyId: 'NOPE', secretAccessKey: 'x' } });
      expect(await s3ErrorOf(() => unknown.send(new ListBucketsCommand({})))).toMatchObject({
        name: 'InvalidAccessKeyId',
        status: 403,
      });
      const wrongSecret = s.target.client({
        credentials: { accessKeyId: s.target.credentials.accessKeyId, secretAccessKey: 'wrong' },
      });
      expect(
        await s3ErrorOf(() =>
          wrongSecret.send(new PutObjectCommand({ Bucket: bucket.name, Key: 'forged', Body: 'x' })),
        ),
      ).toMatchObject({ name: 'SignatureDoesNotMatch', status: 403 });
      expect(await exists('forged')).toBe(false);
    });

    s.it('refuses a signature scoped to another region', async () => {
      const wrongRegion = s.target.client({
        region: s.target.region === 'eu-west-1' ? 'us-east-1' : 'eu-west-1',
      });
      expect((await s3ErrorOf(() => wrongRegion.send(new ListBucketsCommand({})))).name).toBe(
        'AuthorizationHeaderMalformed',
      );
    });

    s.it('refuses anonymous requests to a private bucket', async () => {
      await s.client.send(new PutObjectCommand({ Bucket: bucket.name, Key: 'private', Body: 'x' }));
      const res = await fetch(`${s.target.endpoint}/${bucket.name}/private`);
      expect(res.status).toBe(403);
      expect(errorCodeOf(await res.text())).toBe('AccessDenied');
    });

    s.it('verifies a signed payload hash and refuses a body that does not match it', async () => {
      // Sign a request for one body, then send another of the same length.
      const signed = s.target.client({ requestChecksumCalculation: 'WHEN_REQUIRED' });
      signed.middlewareStack.add(
        (next) => async (args) => {
          const req = args.request as { body: unknown; headers: Record<string, string> };
          req.body = Buffer.from('BBBB');
          return next(args);
        },
        { step: 'finalizeRequest', name: 'swapBody', priority: 'low' },
      );
      const err = await s3ErrorOf(() =>
        signed.send(new PutObjectCommand({ Bucket: bucket.name, Key: 'swapped', Body: Buffer.from('AAAA') })),
      );
      expect(err).toMatchObject({ name: 'XAmzContentSHA256Mismatch', status: 400 });
      expect(await exists('swapped')).toBe(false);
    });
  });

  s.describe('presigned URLs', () => {
    s.it('lets a PUT through only with the signed content type and length', async () => {
      const url = await getSignedUrl(
        presigner(),
        new PutObjectCommand({
          Bucket: bucket.name,
          Key: 'presigned.jpg',
          ContentType: 'image/jpeg',
          ContentLength: 5,
        }),
        { expiresIn: 300, signableHeaders: new Set(['content-type']) },
      );
      const wrongType = await fetch(url, {
        method: 'PUT',
        body: 'hello',
        headers: { 'content-type': 'image/png' },
      });
      expect(wrongType.status).toBe(403);
      expect(errorCodeOf(await wrongType.text())).toBe('SignatureDoesNotMatch');
      const longer = await fetch(url, {
        method: 'PUT',
        body: 'hello!',
        headers: { 'content-type': 'image/jpeg' },
      });
      expect(longer.status).toBe(403);
      expect(await exists('presigned.jpg')).toBe(false);
      const ok = await fetch(url, {
        method: 'PUT',
        body: 'hello',
        headers: { 'content-type': 'image/jpeg' },
      });
      expect(ok.status).toBe(200);
      expect(ok.headers.get('etag')).toBe('"5d41402abc4b2a76b9719d911017c592"');
      const head = await s.client.send(new HeadObjectCommand({ Bucket: bucket.name, Key: 'presigned.jpg' }));
      expect(head).toMatchObject({ ContentType: 'image/jpeg', ContentLength: 5 });
    });

    s.it('serves a presigned GET and refuses it once expired', async () => {
      await s.client.send(new PutObjectCommand({ Bucket: bucket.name, Key: 'to-read', Body: 'readable' }));
      const url = await getSignedUrl(
        presigner(),
        new GetObjectCommand({ Bucket: bucket.name, Key: 'to-read' }),
        {
          expiresIn: 1,
        },
      );
      const ok = await fetch(url);
      expect(await ok.text()).toBe('readable');
      await new Promise((r) => setTimeout(r, 2100));
      const expired = await fetch(url);
      expect(expired.status).toBe(403);
      const body = await expired.text();
      expect(errorCodeOf(body)).toBe('AccessDenied');
      if (!s.deviates('errorDetails')) expect(body).toContain('Request has expired');
    });

    s.it('refuses a tampered URL', async () => {
      const url = new URL(
        await getSignedUrl(presigner(), new GetObjectCommand({ Bucket: bucket.name, Key: 'to-read' }), {
          expiresIn: 60,
        }),
      );
      url.pathname = `/${bucket.name}/other-key`;
      const res = await fetch(url);
      expect(res.status).toBe(403);
      expect(errorCodeOf(await res.text())).toBe('SignatureDoesNotMatch');
    });

    s.it(
      'checks a PUT URL presigned at SDK defaults against its signed CRC32 of the empty body',
      async () => {
        // SDK >= 3.729 signs x-amz-checksum-crc32=AAAAAA== into presigned PutObject URLs; S3 then
        // checks the uploaded bytes against it, so any non-empty upload fails with BadDigest.
        const url = await getSignedUrl(
          s.client,
          new PutObjectCommand({ Bucket: bucket.name, Key: 'default-presign' }),
          {
            expiresIn: 60,
          },
        );
        expect(url).toContain('x-amz-checksum-crc32=AAAAAA%3D%3D');
        const res = await fetch(url, { method: 'PUT', body: 'not empty' });
        expect(res.status).toBe(400);
        expect(errorCodeOf(await res.text())).toBe('BadDigest');
        expect(await exists('default-presign')).toBe(false);
        const empty = await fetch(url, { method: 'PUT', body: '' });
        expect(empty.status).toBe(200);
      },
    );
  });

  s.describe('addressing', () => {
    s.it(
      'serves {bucket}.localhost the same as path style',
      async () => {
        const port = Number(new URL(s.target.endpoint).port);
        // *.localhost does not resolve everywhere; pin it to loopback like a resolver that follows RFC 6761.
        const agent = new http.Agent({
          lookup: (_host, opts, cb) =>
            (opts as { all?: boolean }).all
              ? cb(null, [{ address: '127.0.0.1', family: 4 }])
              : cb(null, '127.0.0.1', 4),
        });
        const vhost = new S3Client({
          endpoint: `http://localhost:${port}`,
          region: s.target.region,
          forcePathStyle: false,
          credentials: s.target.credentials,
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
        try {
          await vhost.send(
            new PutObjectCommand({ Bucket: bucket.name, Key: 'vhost/key.txt', Body: 'virtual' }),
          );
          const got = await vhost.send(new GetObjectCommand({ Bucket: bucket.name, Key: 'vhost/key.txt' }));
          expect((await bodyBytes(got.Body)).toString()).toBe('virtual');
          expect(seen[0]).toBe(`${bucket.name}.localhost/vhost/key.txt`);
        } finally {
          vhost.destroy();
          agent.destroy();
        }
      },
      { needs: 'virtualHostLocalhost' },
    );
  });
}
