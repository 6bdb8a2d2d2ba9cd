import { createHash } from 'node:crypto';
import {
  CopyObjectCommand,
  CreateBucketCommand,
  DeleteBucketCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListBucketsCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bodyBytes, bytes, s3ErrorOf, startTestS3, type TestS3 } from './support.ts';

let s3: TestS3;
let client: S3Client;
const Bucket = 'objects-test';

beforeAll(async () => {
  s3 = await startTestS3();
  client = s3.client();
  await client.send(new CreateBucketCommand({ Bucket }));
});
afterAll(() => s3.stop());

describe('buckets', () => {
  it('creates, heads, lists and deletes buckets', async () => {
    await client.send(new CreateBucketCommand({ Bucket: 'short-lived' }));
    await client.send(new HeadBucketCommand({ Bucket: 'short-lived' }));
    const list = await client.send(new ListBucketsCommand({}));
    expect(list.Buckets?.map((b) => b.Name)).toEqual(expect.arrayContaining([Bucket, 'short-lived']));
    expect(list.Buckets?.[0]?.CreationDate).toBeInstanceOf(Date);
    await client.send(new DeleteBucketCommand({ Bucket: 'short-lived' }));
    const err = await s3ErrorOf(() => client.send(new HeadBucketCommand({ Bucket: 'short-lived' })));
    expect(err.status).toBe(404);
  });

  it('refuses to delete a bucket that still holds objects', async () => {
    await client.send(new CreateBucketCommand({ Bucket: 'not-empty' }));
    await client.send(new PutObjectCommand({ Bucket: 'not-empty', Key: 'a', Body: 'x' }));
    const err = await s3ErrorOf(() => client.send(new DeleteBucketCommand({ Bucket: 'not-empty' })));
    expect(err).toMatchObject({ name: 'BucketNotEmpty', status: 409 });
  });

  it('rejects invalid bucket names and unknown buckets', async () => {
    expect((await s3ErrorOf(() => client.send(new CreateBucketCommand({ Bucket: 'Bad_Name' })))).name).toBe(
      'InvalidBucketName',
    );
    const err = await s3ErrorOf(() =>
      client.send(new PutObjectCommand({ Bucket: 'no-such-bucket', Key: 'k', Body: 'x' })),
    );
    expect(err).toMatchObject({ name: 'NoSuchBucket', status: 404 });
  });
});

describe('objects', () => {
  it('round-trips bytes, ETag, type and headers, and user metadata', async () => {
    const body = bytes(300_000, 7);
    const put = await client.send(
      new PutObjectCommand({
        Bucket,
        Key: 'photos/a b+c ü.jpg',
        Body: body,
        ContentType: 'image/jpeg',
        CacheControl: 'public, max-age=60',
        ContentDisposition: 'inline; filename="a.jpg"',
        Metadata: { owner: 'alice', 'original-name': 'IMG 1.jpg' },
      }),
    );
    expect(put.ETag).toBe(`"${createHash('md5').update(body).digest('hex')}"`);
    const got = await client.send(new GetObjectCommand({ Bucket, Key: 'photos/a b+c ü.jpg' }));
    expect(Buffer.compare(await bodyBytes(got.Body), body)).toBe(0);
    expect(got).toMatchObject({
      ContentType: 'image/jpeg',
      ContentLength: body.length,
      CacheControl: 'public, max-age=60',
      ContentDisposition: 'inline; filename="a.jpg"',
      ETag: put.ETag,
      Metadata: { owner: 'alice', 'original-name': 'IMG 1.jpg' },
    });
    const head = await client.send(new HeadObjectCommand({ Bucket, Key: 'photos/a b+c ü.jpg' }));
    expect(head.ContentLength).toBe(body.length);
    expect(head.LastModified).toBeInstanceOf(Date);
  });

  it('stores an empty object', async () => {
    await client.send(new PutObjectCommand({ Bucket, Key: 'empty', Body: '' }));
    const got = await client.send(new GetObjectCommand({ Bucket, Key: 'empty' }));
    expect((await bodyBytes(got.Body)).length).toBe(0);
    expect(got.ETag).toBe('"d41d8cd98f00b204e9800998ecf8427e"');
  });

  it('serves byte ranges and refuses unsatisfiable ones', async () => {
    const body = bytes(1000, 3);
    await client.send(new PutObjectCommand({ Bucket, Key: 'ranged', Body: body }));
    const part = await client.send(new GetObjectCommand({ Bucket, Key: 'ranged', Range: 'bytes=100-199' }));
    expect(part.ContentRange).toBe('bytes 100-199/1000');
    expect(Buffer.compare(await bodyBytes(part.Body), body.subarray(100, 200))).toBe(0);
    const tail = await client.send(new GetObjectCommand({ Bucket, Key: 'ranged', Range: 'bytes=-10' }));
    expect(Buffer.compare(await bodyBytes(tail.Body), body.subarray(990))).toBe(0);
    const open = await client.send(new GetObjectCommand({ Bucket, Key: 'ranged', Range: 'bytes=995-' }));
    expect((await bodyBytes(open.Body)).length).toBe(5);
    const err = await s3ErrorOf(() =>
      client.send(new GetObjectCommand({ Bucket, Key: 'ranged', Range: 'bytes=1000-' })),
    );
    expect(err).toMatchObject({ name: 'InvalidRange', status: 416 });
  });

  it('honours If-None-Match, If-Match and If-Modified-Since', async () => {
    const put = await client.send(new PutObjectCommand({ Bucket, Key: 'cond', Body: 'conditional' }));
    const notModified = await s3ErrorOf(() =>
      client.send(new GetObjectCommand({ Bucket, Key: 'cond', IfNoneMatch: put.ETag })),
    );
    expect(notModified.status).toBe(304);
    const failed = await s3ErrorOf(() =>
      client.send(new GetObjectCommand({ Bucket, Key: 'cond', IfMatch: '"0000"' })),
    );
    expect(failed).toMatchObject({ name: 'PreconditionFailed', status: 412 });
    const later = new Date(Date.now() + 60_000);
    const since = await s3ErrorOf(() =>
      client.send(new GetObjectCommand({ Bucket, Key: 'cond', IfModifiedSince: later })),
    );
    expect(since.status).toBe(304);
    const ok = await client.send(new GetObjectCommand({ Bucket, Key: 'cond', IfMatch: put.ETag }));
    expect((await bodyBytes(ok.Body)).toString()).toBe('conditional');
  });

  it('returns NoSuchKey for missing objects and deletes idempotently', async () => {
    const err = await s3ErrorOf(() => client.send(new GetObjectCommand({ Bucket, Key: 'missing' })));
    expect(err).toMatchObject({ name: 'NoSuchKey', status: 404 });
    await client.send(new PutObjectCommand({ Bucket, Key: 'doomed', Body: 'x' }));
    await client.send(new DeleteObjectCommand({ Bucket, Key: 'doomed' }));
    await client.send(new DeleteObjectCommand({ Bucket, Key: 'doomed' }));
    expect(
      (await s3ErrorOf(() => client.send(new HeadObjectCommand({ Bucket, Key: 'doomed' })))).status,
    ).toBe(404);
  });

  it('copies objects, keeping or replacing metadata', async () => {
    await client.send(
      new PutObjectCommand({
        Bucket,
        Key: 'src.txt',
        Body: 'copy me',
        ContentType: 'text/plain',
        Metadata: { a: '1' },
      }),
    );
    const copied = await client.send(
      new CopyObjectCommand({ Bucket, Key: 'dst.txt', CopySource: `${Bucket}/src.txt` }),
    );
    expect(copied.CopyObjectResult?.ETag).toBeDefined();
    const kept = await client.send(new HeadObjectCommand({ Bucket, Key: 'dst.txt' }));
    expect(kept).toMatchObject({ ContentType: 'text/plain', Metadata: { a: '1' } });
    await client.send(
      new CopyObjectCommand({
        Bucket,
        Key: 'dst.txt',
        CopySource: `${Bucket}/src.txt`,
        MetadataDirective: 'REPLACE',
        ContentType: 'text/markdown',
        Metadata: { b: '2' },
      }),
    );
    const replaced = await client.send(new GetObjectCommand({ Bucket, Key: 'dst.txt' }));
    expect(replaced).toMatchObject({ ContentType: 'text/markdown', Metadata: { b: '2' } });
    expect((await bodyBytes(replaced.Body)).toString()).toBe('copy me');
    const self = await s3ErrorOf(() =>
      client.send(new CopyObjectCommand({ Bucket, Key: 'src.txt', CopySource: `${Bucket}/src.txt` })),
    );
    expect(self.name).toBe('InvalidRequest');
  });

  it('deletes many objects at once', async () => {
    for (const k of ['m/1', 'm/2', 'm/3'])
      await client.send(new PutObjectCommand({ Bucket, Key: k, Body: k }));
    const res = await client.send(
      new DeleteObjectsCommand({
        Bucket,
        Delete: { Objects: [{ Key: 'm/1' }, { Key: 'm/2' }, { Key: 'm/404' }] },
      }),
    );
    expect(res.Deleted?.map((d) => d.Key).sort()).toEqual(['m/1', 'm/2', 'm/404']);
    const left = await client.send(new ListObjectsV2Command({ Bucket, Prefix: 'm/' }));
    expect(left.Contents?.map((c) => c.Key)).toEqual(['m/3']);
  });
});

describe('checksums', () => {
  for (const ChecksumAlgorithm of ['CRC32', 'CRC32C', 'SHA1', 'SHA256'] as const) {
    it(`verifies and returns ${ChecksumAlgorithm}`, async () => {
      const body = bytes(100_000, 11);
      const put = await client.send(
        new PutObjectCommand({ Bucket, Key: `sum-${ChecksumAlgorithm}`, Body: body, ChecksumAlgorithm }),
      );
      const field = `Checksum${ChecksumAlgorithm}` as const;
      expect(put[field]).toBeTruthy();
      const got = await client.send(
        new GetObjectCommand({ Bucket, Key: `sum-${ChecksumAlgorithm}`, ChecksumMode: 'ENABLED' }),
      );
      expect(got[field]).toBe(put[field]);
      expect(Buffer.compare(await bodyBytes(got.Body), body)).toBe(0);
    });
  }

  it('refuses a wrong checksum and a wrong Content-MD5, writing nothing', async () => {
    const wrong = await s3ErrorOf(() =>
      client.send(new PutObjectCommand({ Bucket, Key: 'bad-sum', Body: 'hello', ChecksumCRC32: 'AAAAAA==' })),
    );
    expect(wrong).toMatchObject({ name: 'BadDigest', status: 400 });
    const md5 = await s3ErrorOf(() =>
      client.send(
        new PutObjectCommand({
          Bucket,
          Key: 'bad-sum',
          Body: 'hello',
          ContentMD5: createHash('md5').update('other').digest('base64'),
        }),
      ),
    );
    expect(md5).toMatchObject({ name: 'BadDigest', status: 400 });
    expect(
      (await s3ErrorOf(() => client.send(new HeadObjectCommand({ Bucket, Key: 'bad-sum' })))).status,
    ).toBe(404);
  });
});

describe('ListObjectsV2', () => {
  const keys = [
    'list/a.jpg',
    'list/b/1.jpg',
    'list/b/2.jpg',
    'list/c.jpg',
    'list/d/x/y.jpg',
    'list/e.jpg',
    'listless',
  ];
  beforeAll(async () => {
    for (const Key of keys) await client.send(new PutObjectCommand({ Bucket, Key, Body: Key }));
  });

  it('filters by prefix and groups by delimiter', async () => {
    const res = await client.send(new ListObjectsV2Command({ Bucket, Prefix: 'list/', Delimiter: '/' }));
    expect(res.Contents?.map((c) => c.Key)).toEqual(['list/a.jpg', 'list/c.jpg', 'list/e.jpg']);
    expect(res.CommonPrefixes?.map((p) => p.Prefix)).toEqual(['list/b/', 'list/d/']);
    expect(res.KeyCount).toBe(5);
    expect(res.IsTruncated).toBe(false);
  });

  it('pages with max-keys and continuation tokens, each key once', async () => {
    const seen: string[] = [];
    let token: string | undefined;
    let pages = 0;
    do {
      const res = await client.send(
        new ListObjectsV2Command({
          Bucket,
          Prefix: 'list/',
          Delimiter: '/',
          MaxKeys: 2,
          ContinuationToken: token,
        }),
      );
      seen.push(
        ...(res.Contents ?? []).map((c) => c.Key!),
        ...(res.CommonPrefixes ?? []).map((p) => p.Prefix!),
      );
      token = res.NextContinuationToken;
      expect(res.IsTruncated).toBe(token !== undefined);
      pages++;
    } while (token);
    expect(pages).toBe(3);
    expect(seen).toEqual(['list/a.jpg', 'list/b/', 'list/c.jpg', 'list/d/', 'list/e.jpg']);
  });

  it('starts after a key and lists everything without a delimiter', async () => {
    const res = await client.send(
      new ListObjectsV2Command({ Bucket, Prefix: 'list', StartAfter: 'list/c.jpg' }),
    );
    expect(res.Contents?.map((c) => c.Key)).toEqual(['list/d/x/y.jpg', 'list/e.jpg', 'listless']);
  });
});
