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
} from '@aws-sdk/client-s3';
import { expect } from 'vitest';
import { bodyBytes, bytes, s3ErrorOf } from '../support.ts';
import { type SuiteContext, uniqueBucketName } from './suite.ts';

/** Buckets, single-request object operations and checksums. */
export function objectsSuite(s: SuiteContext): void {
  s.describe('buckets', () => {
    const bucket = s.bucket('buckets');

    s.it('creates, heads, lists and deletes buckets', async () => {
      const Bucket = uniqueBucketName('short-lived');
      await s.client.send(new CreateBucketCommand({ Bucket }));
      await s.client.send(new HeadBucketCommand({ Bucket }));
      const list = await s.client.send(new ListBucketsCommand({}));
      expect(list.Buckets?.map((b) => b.Name)).toEqual(expect.arrayContaining([bucket.name, Bucket]));
      expect(list.Buckets?.[0]?.CreationDate).toBeInstanceOf(Date);
      await s.client.send(new DeleteBucketCommand({ Bucket }));
      const err = await s3ErrorOf(() => s.client.send(new HeadBucketCommand({ Bucket })));
      expect(err.status).toBe(404);
    });

    s.it('refuses to delete a bucket that still holds objects', async () => {
      const Bucket = await s.target.newBucket('not-empty');
      await s.client.send(new PutObjectCommand({ Bucket, Key: 'a', Body: 'x' }));
      const err = await s3ErrorOf(() => s.client.send(new DeleteBucketCommand({ Bucket })));
      expect(err).toMatchObject({ name: 'BucketNotEmpty', status: 409 });
    });

    s.it('rejects invalid bucket names and unknown buckets', async () => {
      expect(
        (await s3ErrorOf(() => s.client.send(new CreateBucketCommand({ Bucket: 'Bad_Name' })))).name,
      ).toBe('InvalidBucketName');
      const err = await s3ErrorOf(() =>
        s.client.send(
          new PutObjectCommand({ Bucket: uniqueBucketName('no-such-bucket'), Key: 'k', Body: 'x' }),
        ),
      );
      expect(err).toMatchObject({ name: 'NoSuchBucket', status: 404 });
    });
  });

  s.describe('objects', () => {
    const bucket = s.bucket('objects');

    s.it('round-trips bytes, ETag, type and headers, and user metadata', async () => {
      const Bucket = bucket.name;
      const body = bytes(300_000, 7);
      const put = await s.client.send(
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
      const got = await s.client.send(new GetObjectCommand({ Bucket, Key: 'photos/a b+c ü.jpg' }));
      expect(Buffer.compare(await bodyBytes(got.Body), body)).toBe(0);
      expect(got).toMatchObject({
        ContentType: 'image/jpeg',
        ContentLength: body.length,
        CacheControl: 'public, max-age=60',
        ContentDisposition: 'inline; filename="a.jpg"',
        ETag: put.ETag,
        Metadata: { owner: 'alice', 'original-name': 'IMG 1.jpg' },
      });
      const head = await s.client.send(new HeadObjectCommand({ Bucket, Key: 'photos/a b+c ü.jpg' }));
      expect(head.ContentLength).toBe(body.length);
      expect(head.LastModified).toBeInstanceOf(Date);
    });

    s.it('stores an empty object', async () => {
      const Bucket = bucket.name;
      await s.client.send(new PutObjectCommand({ Bucket, Key: 'empty', Body: '' }));
      const got = await s.client.send(new GetObjectCommand({ Bucket, Key: 'empty' }));
      expect((await bodyBytes(got.Body)).length).toBe(0);
      expect(got.ETag).toBe('"d41d8cd98f00b204e9800998ecf8427e"');
    });

    s.it('serves byte ranges and refuses unsatisfiable ones', async () => {
      const Bucket = bucket.name;
      const body = bytes(1000, 3);
      await s.client.send(new PutObjectCommand({ Bucket, Key: 'ranged', Body: body }));
      const part = await s.client.send(
        new GetObjectCommand({ Bucket, Key: 'ranged', Range: 'bytes=100-199' }),
      );
      expect(part.ContentRange).toBe('bytes 100-199/1000');
      expect(Buffer.compare(await bodyBytes(part.Body), body.subarray(100, 200))).toBe(0);
      const tail = await s.client.send(new GetObjectCommand({ Bucket, Key: 'ranged', Range: 'bytes=-10' }));
      expect(Buffer.compare(await bodyBytes(tail.Body), body.subarray(990))).toBe(0);
      const open = await s.client.send(new GetObjectCommand({ Bucket, Key: 'ranged', Range: 'bytes=995-' }));
      expect((await bodyBytes(open.Body)).length).toBe(5);
      const err = await s3ErrorOf(() =>
        s.client.send(new GetObjectCommand({ Bucket, Key: 'ranged', Range: 'bytes=1000-' })),
      );
      expect(err).toMatchObject({ name: 'InvalidRange', status: 416 });
    });

    s.it('honours If-None-Match, If-Match and If-Modified-Since on GET', async () => {
      const Bucket = bucket.name;
      const put = await s.client.send(new PutObjectCommand({ Bucket, Key: 'cond', Body: 'conditional' }));
      const notModified = await s3ErrorOf(() =>
        s.client.send(new GetObjectCommand({ Bucket, Key: 'cond', IfNoneMatch: put.ETag })),
      );
      expect(notModified.status).toBe(304);
      const failed = await s3ErrorOf(() =>
        s.client.send(new GetObjectCommand({ Bucket, Key: 'cond', IfMatch: '"0000"' })),
      );
      expect(failed).toMatchObject({ name: 'PreconditionFailed', status: 412 });
      const later = new Date(Date.now() + 60_000);
      const since = await s3ErrorOf(() =>
        s.client.send(new GetObjectCommand({ Bucket, Key: 'cond', IfModifiedSince: later })),
      );
      expect(since.status).toBe(304);
      const ok = await s.client.send(new GetObjectCommand({ Bucket, Key: 'cond', IfMatch: put.ETag }));
      expect((await bodyBytes(ok.Body)).toString()).toBe('conditional');
    });

    s.it('returns NoSuchKey for missing objects and deletes idempotently', async () => {
      const Bucket = bucket.name;
      const err = await s3ErrorOf(() => s.client.send(new GetObjectCommand({ Bucket, Key: 'missing' })));
      expect(err).toMatchObject({ name: 'NoSuchKey', status: 404 });
      await s.client.send(new PutObjectCommand({ Bucket, Key: 'doomed', Body: 'x' }));
      await s.client.send(new DeleteObjectCommand({ Bucket, Key: 'doomed' }));
      await s.client.send(new DeleteObjectCommand({ Bucket, Key: 'doomed' }));
      expect(
        (await s3ErrorOf(() => s.client.send(new HeadObjectCommand({ Bucket, Key: 'doomed' })))).status,
      ).toBe(404);
    });

    s.it('copies objects, keeping or replacing metadata', async () => {
      const Bucket = bucket.name;
      await s.client.send(
        new PutObjectCommand({
          Bucket,
          Key: 'src.txt',
          Body: 'copy me',
          ContentType: 'text/plain',
          Metadata: { a: '1' },
        }),
      );
      const copied = await s.client.send(
        new CopyObjectCommand({ Bucket, Key: 'dst.txt', CopySource: `${Bucket}/src.txt` }),
      );
      expect(copied.CopyObjectResult?.ETag).toBeDefined();
      const kept = await s.client.send(new HeadObjectCommand({ Bucket, Key: 'dst.txt' }));
      expect(kept).toMatchObject({ ContentType: 'text/plain', Metadata: { a: '1' } });
      await s.client.send(
        new CopyObjectCommand({
          Bucket,
          Key: 'dst.txt',
          CopySource: `${Bucket}/src.txt`,
          MetadataDirective: 'REPLACE',
          ContentType: 'text/markdown',
          Metadata: { b: '2' },
        }),
      );
      const replaced = await s.client.send(new GetObjectCommand({ Bucket, Key: 'dst.txt' }));
      expect(replaced).toMatchObject({ ContentType: 'text/markdown', Metadata: { b: '2' } });
      expect((await bodyBytes(replaced.Body)).toString()).toBe('copy me');
      const self = await s3ErrorOf(() =>
        s.client.send(new CopyObjectCommand({ Bucket, Key: 'src.txt', CopySource: `${Bucket}/src.txt` })),
      );
      expect(self.name).toBe('InvalidRequest');
    });

    s.it('deletes many objects at once', async () => {
      const Bucket = bucket.name;
      for (const k of ['m/1', 'm/2', 'm/3'])
        await s.client.send(new PutObjectCommand({ Bucket, Key: k, Body: k }));
      const res = await s.client.send(
        new DeleteObjectsCommand({
          Bucket,
          Delete: { Objects: [{ Key: 'm/1' }, { Key: 'm/2' }, { Key: 'm/404' }] },
        }),
      );
      expect(res.Deleted?.map((d) => d.Key).sort()).toEqual(['m/1', 'm/2', 'm/404']);
      const left = await s.client.send(new ListObjectsV2Command({ Bucket, Prefix: 'm/' }));
      expect(left.Contents?.map((c) => c.Key)).toEqual(['m/3']);
    });
  });

  s.describe('checksums', () => {
    const bucket = s.bucket('checksums');

    for (const ChecksumAlgorithm of ['CRC32', 'CRC32C', 'SHA1', 'SHA256'] as const) {
      s.it(`verifies and returns ${ChecksumAlgorithm}`, async () => {
        const Bucket = bucket.name;
        const body = bytes(100_000, 11);
        const put = await s.client.send(
          new PutObjectCommand({ Bucket, Key: `sum-${ChecksumAlgorithm}`, Body: body, ChecksumAlgorithm }),
        );
        const field = `Checksum${ChecksumAlgorithm}` as const;
        expect(put[field]).toBeTruthy();
        const got = await s.client.send(
          new GetObjectCommand({ Bucket, Key: `sum-${ChecksumAlgorithm}`, ChecksumMode: 'ENABLED' }),
        );
        expect(got[field]).toBe(put[field]);
        expect(Buffer.compare(await bodyBytes(got.Body), body)).toBe(0);
      });
    }

    s.it('refuses a wrong checksum, writing nothing', async () => {
      const Bucket = bucket.name;
      const wrong = await s3ErrorOf(() =>
        s.client.send(
          new PutObjectCommand({ Bucket, Key: 'bad-sum', Body: 'hello', ChecksumCRC32: 'AAAAAA==' }),
        ),
      );
      expect(wrong).toMatchObject({ name: 'BadDigest', status: 400 });
      expect(
        (await s3ErrorOf(() => s.client.send(new HeadObjectCommand({ Bucket, Key: 'bad-sum' })))).status,
      ).toBe(404);
    });

    s.it('refuses a wrong Content-MD5, writing nothing', async () => {
      const Bucket = bucket.name;
      const md5 = await s3ErrorOf(() =>
        s.client.send(
          new PutObjectCommand({
            Bucket,
            Key: 'bad-md5',
            Body: 'hello',
            ContentMD5: createHash('md5').update('other').digest('base64'),
          }),
        ),
      );
      expect(md5).toMatchObject({ name: 'BadDigest', status: 400 });
      expect(
        (await s3ErrorOf(() => s.client.send(new HeadObjectCommand({ Bucket, Key: 'bad-md5' })))).status,
      ).toBe(404);
    });
  });
}
