import {
  CreateBucketCommand,
  DeleteBucketCorsCommand,
  GetBucketCorsCommand,
  GetObjectCommand,
  HeadObjectCommand,
  PutBucketCorsCommand,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { createPresignedPost } from '@aws-sdk/s3-presigned-post';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bodyBytes, s3ErrorOf, startTestS3, type TestS3 } from './support.ts';

/** What a browser on another origin does: CORS preflight, then a direct PUT or POST form upload. */
let s3: TestS3;
let client: S3Client;
const Bucket = 'browser-test';
const APP = 'https://app.example.com';

beforeAll(async () => {
  s3 = await startTestS3();
  client = s3.client();
  await client.send(new CreateBucketCommand({ Bucket }));
});
afterAll(() => s3.stop());

describe('bucket CORS', () => {
  it('refuses preflights while no CORS configuration exists', async () => {
    expect((await s3ErrorOf(() => client.send(new GetBucketCorsCommand({ Bucket })))).name).toBe(
      'NoSuchCORSConfiguration',
    );
    const res = await fetch(`${s3.endpoint}/${Bucket}/x`, {
      method: 'OPTIONS',
      headers: { origin: APP, 'access-control-request-method': 'PUT' },
    });
    expect(res.status).toBe(403);
    expect(await res.text()).toContain('<Code>AccessForbidden</Code>');
  });

  it('answers preflights and actual requests from allowed origins, exposing ETag', async () => {
    await client.send(
      new PutBucketCorsCommand({
        Bucket,
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
    const stored = await client.send(new GetBucketCorsCommand({ Bucket }));
    expect(stored.CORSRules?.[0]).toMatchObject({
      AllowedOrigins: [APP, 'http://localhost:*'],
      ExposeHeaders: ['ETag'],
      MaxAgeSeconds: 600,
    });

    const preflight = await fetch(`${s3.endpoint}/${Bucket}/upload.jpg`, {
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
    expect(preflight.headers.get('access-control-allow-headers')).toBe('content-type, x-amz-checksum-sha256');
    expect(preflight.headers.get('access-control-max-age')).toBe('600');

    const wildcardPort = await fetch(`${s3.endpoint}/${Bucket}/upload.jpg`, {
      method: 'OPTIONS',
      headers: { origin: 'http://localhost:5173', 'access-control-request-method': 'POST' },
    });
    expect(wildcardPort.status).toBe(200);

    const denied = await fetch(`${s3.endpoint}/${Bucket}/upload.jpg`, {
      method: 'OPTIONS',
      headers: { origin: 'https://evil.example', 'access-control-request-method': 'PUT' },
    });
    expect(denied.status).toBe(403);
    const badHeader = await fetch(`${s3.endpoint}/${Bucket}/upload.jpg`, {
      method: 'OPTIONS',
      headers: {
        origin: APP,
        'access-control-request-method': 'PUT',
        'access-control-request-headers': 'x-secret',
      },
    });
    expect(badHeader.status).toBe(403);

    const url = await getSignedUrl(
      s3.client({ requestChecksumCalculation: 'WHEN_REQUIRED' }),
      new PutObjectCommand({ Bucket, Key: 'upload.jpg', ContentType: 'image/jpeg' }),
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

    await client.send(new DeleteBucketCorsCommand({ Bucket }));
    expect((await s3ErrorOf(() => client.send(new GetBucketCorsCommand({ Bucket })))).name).toBe(
      'NoSuchCORSConfiguration',
    );
  });
});

describe('browser POST uploads', () => {
  async function form(Key: string, max: number) {
    return createPresignedPost(s3.client(), {
      Bucket,
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

  it('stores the file under the policy key with the policy content type', async () => {
    const post = await form('posted/a.png', 1024);
    const res = await submit(post, new Blob(['png bytes']));
    expect(res.status).toBe(201);
    const xml = await res.text();
    expect(xml).toContain('<Key>posted/a.png</Key>');
    const got = await client.send(new GetObjectCommand({ Bucket, Key: 'posted/a.png' }));
    expect(got.ContentType).toBe('image/png');
    expect((await bodyBytes(got.Body)).toString()).toBe('png bytes');
  });

  it('refuses a file over the content-length-range and one with another type, storing nothing', async () => {
    const post = await form('posted/b.png', 16);
    const big = await submit(post, new Blob(['x'.repeat(17)]));
    expect(big.status).toBe(400);
    expect(await big.text()).toContain('<Code>EntityTooLarge</Code>');
    const wrongType = await submit(post, new Blob(['ok']), { 'Content-Type': 'text/html' });
    expect(wrongType.status).toBe(403);
    expect(
      (await s3ErrorOf(() => client.send(new HeadObjectCommand({ Bucket, Key: 'posted/b.png' })))).status,
    ).toBe(404);
  });
});
