import {
  DeleteBucketCorsCommand,
  GetBucketCorsCommand,
  GetObjectCommand,
  HeadObjectCommand,
  PutBucketCorsCommand,
  PutObjectCommand,
} from '@aws-sdk/client-s3';
import { createPresignedPost } from '@aws-sdk/s3-presigned-post';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { expect } from 'vitest';
import { bodyBytes, s3ErrorOf } from '../support.ts';
import type { SuiteContext } from './suite.ts';

const APP = 'https://app.example.com';

/** What a browser on another origin does: CORS preflight, then a direct PUT or POST form upload. */
export function browserSuite(s: SuiteContext): void {
  const bucket = s.bucket('browser');

  s.describe('bucket CORS', () => {
    s.it('refuses preflights while no CORS configuration exists', async () => {
      expect(
        (await s3ErrorOf(() => s.client.send(new GetBucketCorsCommand({ Bucket: bucket.name })))).name,
      ).toBe('NoSuchCORSConfiguration');
      const res = await fetch(`${s.target.endpoint}/${bucket.name}/x`, {
        method: 'OPTIONS',
        headers: { origin: APP, 'access-control-request-method': 'PUT' },
      });
      expect(res.status).toBe(403);
      expect(await res.text()).toContain('<Code>AccessForbidden</Code>');
    });

    s.it('answers preflights and actual requests from allowed origins, exposing ETag', async () => {
      await s.client.send(
        new PutBucketCorsCommand({
          Bucket: bucket.name,
          CORSConfiguration: {
            CORSRules: [
              {
                AllowedOrigins: [APP, 'http://localhost:*'],
                AllowedMethods: ['PUT', 'POST', 'GET', 'HEAD'],
                AllowedHeaders: ['content-type', 'x-amz-*'],
                ExposeHeaders: ['ETag'],
                MaxAgeSeconds: 600,
              },
            ],
          },
        }),
      );
      const stored = await s.client.send(new GetBucketCorsCommand({ Bucket: bucket.name }));
      expect(stored.CORSRules?.[0]?.AllowedOrigins?.sort()).toEqual([APP, 'http://localhost:*'].sort());
      expect(stored.CORSRules?.[0]).toMatchObject({
        ExposeHeaders: ['ETag'],
        MaxAgeSeconds: 600,
      });

      const preflight = await fetch(`${s.target.endpoint}/${bucket.name}/upload.jpg`, {
        method: 'OPTIONS',
        headers: {
          origin: APP,
          'access-control-request-method': 'PUT',
          'access-control-request-headers': 'content-type, x-amz-checksum-sha256',
        },
      });
      expect(preflight.status).toBe(200);
      expect(preflight.headers.get('access-control-allow-origin')).toBe(APP);
      expect(preflight.headers.get('access-control-allow-methods')).toContain('PUT');
      // A list header: S3 joins with ", ", RGW with ","; both are the same list.
      expect(preflight.headers.get('access-control-allow-headers')?.split(/\s*,\s*/)).toEqual([
        'content-type',
        'x-amz-checksum-sha256',
      ]);
      expect(preflight.headers.get('access-control-max-age')).toBe('600');

      const wildcardPort = await fetch(`${s.target.endpoint}/${bucket.name}/upload.jpg`, {
        method: 'OPTIONS',
        headers: { origin: 'http://localhost:5173', 'access-control-request-method': 'POST' },
      });
      expect(wildcardPort.status).toBe(200);

      const denied = await fetch(`${s.target.endpoint}/${bucket.name}/upload.jpg`, {
        method: 'OPTIONS',
        headers: { origin: 'https://evil.example', 'access-control-request-method': 'PUT' },
      });
      expect(denied.status).toBe(403);
      const badHeader = await fetch(`${s.target.endpoint}/${bucket.name}/upload.jpg`, {
        method: 'OPTIONS',
        headers: {
          origin: APP,
          'access-control-request-method': 'PUT',
          'access-control-request-headers': 'x-secret',
        },
      });
      expect(badHeader.status).toBe(403);

      const url = await getSignedUrl(
        s.target.client({ requestChecksumCalculation: 'WHEN_REQUIRED' }),
        new PutObjectCommand({ Bucket: bucket.name, Key: 'upload.jpg', ContentType: 'image/jpeg' }),
        { expiresIn: 60, signableHeaders: new Set(['content-type']) },
      );
      const put = await fetch(url, {
        method: 'PUT',
        body: 'jpeg bytes',
        headers: { origin: APP, 'content-type': 'image/jpeg' },
      });
      expect(put.status).toBe(200);
      expect(put.headers.get('access-control-allow-origin')).toBe(APP);
      expect(put.headers.get('access-control-expose-headers')).toBe('ETag');
      expect(put.headers.get('vary')).toContain('Origin');

      await s.client.send(new DeleteBucketCorsCommand({ Bucket: bucket.name }));
      expect(
        (await s3ErrorOf(() => s.client.send(new GetBucketCorsCommand({ Bucket: bucket.name })))).name,
      ).toBe('NoSuchCORSConfiguration');
    });
  });

  s.describe('browser POST uploads', () => {
    async function form(Key: string, max: number) {
      return createPresignedPost(s.client, {
        Bucket: bucket.name,
        Key,
        Conditions: [
          ['content-length-range', 1, max],
          ['starts-with', '$Content-Type', 'image/'],
        ],
        Fields: { 'Content-Type': 'image/png', success_action_status: '201' },
        Expires: 60,
      });
    }

    function submit(
      post: { url: string; fields: Record<string, string> },
      file: Blob,
      overrides: Record<string, string> = {},
    ) {
      const body = new FormData();
      for (const [k, v] of Object.entries({ ...post.fields, ...overrides })) body.append(k, v);
      body.append('file', file, 'photo.png');
      return fetch(post.url, { method: 'POST', body });
    }

    s.it('stores the file under the policy key with the policy content type', async () => {
      const post = await form('posted/a.png', 1024);
      const res = await submit(post, new Blob(['png bytes']));
      expect(res.status).toBe(201);
      const xml = await res.text();
      expect(xml).toContain('<Key>posted/a.png</Key>');
      const got = await s.client.send(new GetObjectCommand({ Bucket: bucket.name, Key: 'posted/a.png' }));
      expect(got.ContentType).toBe('image/png');
      expect((await bodyBytes(got.Body)).toString()).toBe('png bytes');
    });

    s.it(
      'refuses a file over the content-length-range and one with another type, storing nothing',
      async () => {
        const post = await form('posted/b.png', 16);
        const big = await submit(post, new Blob(['x'.repeat(17)]));
        expect(big.status).toBe(400);
        expect(await big.text()).toContain('<Code>EntityTooLarge</Code>');
        const wrongType = await submit(post, new Blob(['ok']), { 'Content-Type': 'text/html' });
        expect(wrongType.status).toBe(403);
        expect(
          (
            await s3ErrorOf(() =>
              s.client.send(new HeadObjectCommand({ Bucket: bucket.name, Key: 'posted/b.png' })),
            )
          ).status,
        ).toBe(404);
      },
    );
  });
}
