// Object tagging: what the lifecycle rule for unprocessed originals relies on (tags set at upload,
// cleared by the worker, counted on GET/HEAD).
import {
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateMultipartUploadCommand,
  DeleteObjectTaggingCommand,
  GetObjectCommand,
  GetObjectTaggingCommand,
  HeadObjectCommand,
  PutObjectCommand,
  PutObjectTaggingCommand,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { createPresignedPost } from '@aws-sdk/s3-presigned-post';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { beforeAll, expect } from 'vitest';
import { bytes, s3ErrorOf } from '../support.ts';
import { errorCodeOf, sendSigned } from './raw.ts';
import type { SuiteContext } from './suite.ts';

/** Object tags on write, Put/Get/DeleteObjectTagging, and S3's limits. */
export function taggingSuite(s: SuiteContext): void {
  const bucket = s.bucket('tagging');
  /** The tag set as [key, value] pairs sorted by key (S3 does not promise an order). */
  const tagsOf = async (Key: string) =>
    (await s.client.send(new GetObjectTaggingCommand({ Bucket: bucket.name, Key }))).TagSet?.map((t) => [
      t.Key,
      t.Value,
    ]).sort(([a], [b]) => (a! < b! ? -1 : a! > b! ? 1 : 0));

  async function postForm(Key: string, tagging: string, override?: string): Promise<Response> {
    const post = await createPresignedPost(s.client, {
      Bucket: bucket.name,
      Key,
      Conditions: [['content-length-range', 1, 100]],
      Fields: { tagging },
      Expires: 60,
    });
    const form = new FormData();
    for (const [k, v] of Object.entries({ ...post.fields, ...(override ? { tagging: override } : {}) }))
      form.append(k, v);
    form.append('file', new Blob(['hello']), 'a.bin');
    return fetch(post.url, { method: 'POST', body: form });
  }

  s.describe('tags on write', () => {
    s.it('PutObject with Tagging stores them; GET counts them; GetObjectTagging lists them', async () => {
      const Bucket = bucket.name;
      await s.client.send(
        new PutObjectCommand({
          Bucket,
          Key: 'a',
          Body: 'x',
          Tagging: 'darkroom-state=unprocessed&b=two%20words',
        }),
      );
      expect(await tagsOf('a')).toEqual([
        ['b', 'two words'],
        ['darkroom-state', 'unprocessed'],
      ]);
      const get = await s.client.send(new GetObjectCommand({ Bucket, Key: 'a' }));
      expect(get.TagCount).toBe(2);
      await get.Body?.transformToString();
    });

    s.it('an object without tags has an empty tag set and no x-amz-tagging-count', async () => {
      const Bucket = bucket.name;
      await s.client.send(new PutObjectCommand({ Bucket, Key: 'plain', Body: 'x' }));
      expect(await tagsOf('plain')).toEqual([]);
      const get = await s.client.send(new GetObjectCommand({ Bucket, Key: 'plain' }));
      expect(get.TagCount).toBeUndefined();
      await get.Body?.transformToString();
    });

    s.it('HEAD returns x-amz-tagging-count', async () => {
      const Bucket = bucket.name;
      await s.client.send(
        new PutObjectCommand({ Bucket, Key: 'counted', Body: 'x', Tagging: 'a=1&b=2&c=3' }),
      );
      // HeadObjectOutput has no TagCount field, so read the header off the wire through a presigned HEAD.
      const signed = await getSignedUrl(s.client, new HeadObjectCommand({ Bucket, Key: 'counted' }), {
        expiresIn: 60,
      });
      const res = await fetch(signed, { method: 'HEAD' });
      expect(res.status).toBe(200);
      expect(res.headers.get('x-amz-tagging-count')).toBe('3');
    });

    s.it('CreateMultipartUpload with Tagging gives the completed object those tags', async () => {
      const Bucket = bucket.name;
      const Key = 'multi';
      const { UploadId } = await s.client.send(
        new CreateMultipartUploadCommand({ Bucket, Key, Tagging: 'darkroom-state=unprocessed' }),
      );
      const part = await s.client.send(
        new UploadPartCommand({ Bucket, Key, UploadId, PartNumber: 1, Body: bytes(1000) }),
      );
      await s.client.send(
        new CompleteMultipartUploadCommand({
          Bucket,
          Key,
          UploadId,
          MultipartUpload: { Parts: [{ PartNumber: 1, ETag: part.ETag }] },
        }),
      );
      expect(await tagsOf(Key)).toEqual([['darkroom-state', 'unprocessed']]);
    });

    s.it('a POST form tagging field (Tagging XML) tags the object', async () => {
      const xml =
        '<Tagging><TagSet><Tag><Key>darkroom-state</Key><Value>unprocessed</Value></Tag></TagSet></Tagging>';
      const res = await postForm('posted', xml);
      expect(res.status).toBe(204);
      expect(await tagsOf('posted')).toEqual([['darkroom-state', 'unprocessed']]);
    });

    s.it('a POST form whose tagging field is not the signed one is refused by the policy', async () => {
      const res = await postForm(
        'posted-altered',
        '<Tagging><TagSet><Tag><Key>a</Key><Value>b</Value></Tag></TagSet></Tagging>',
        '<Tagging><TagSet/></Tagging>',
      );
      expect(res.status).toBe(403);
      expect(errorCodeOf(await res.text())).toBe('AccessDenied');
    });

    s.it('a malformed POST tagging field is MalformedXML and stores nothing', async () => {
      const res = await postForm('posted-bad', '<Tagging><TagSet><Tag><Key>a</Key>');
      expect(res.status).toBe(400);
      expect(errorCodeOf(await res.text())).toBe('MalformedXML');
      expect(
        (
          await s3ErrorOf(() =>
            s.client.send(new HeadObjectCommand({ Bucket: bucket.name, Key: 'posted-bad' })),
          )
        ).status,
      ).toBe(404);
    });

    s.it(
      'CopyObject copies tags by default and replaces them with x-amz-tagging-directive REPLACE',
      async () => {
        const Bucket = bucket.name;
        await s.client.send(new PutObjectCommand({ Bucket, Key: 'src', Body: 'x', Tagging: 'k=v' }));
        await s.client.send(new CopyObjectCommand({ Bucket, Key: 'copy', CopySource: `${Bucket}/src` }));
        expect(await tagsOf('copy')).toEqual([['k', 'v']]);
        await s.client.send(
          new CopyObjectCommand({
            Bucket,
            Key: 'copy2',
            CopySource: `${Bucket}/src`,
            TaggingDirective: 'REPLACE',
            Tagging: 'other=1',
          }),
        );
        expect(await tagsOf('copy2')).toEqual([['other', '1']]);
        await s.client.send(
          new CopyObjectCommand({
            Bucket,
            Key: 'copy3',
            CopySource: `${Bucket}/src`,
            TaggingDirective: 'REPLACE',
          }),
        );
        expect(await tagsOf('copy3')).toEqual([]);
      },
    );
  });

  s.describe('Put/Get/DeleteObjectTagging', () => {
    s.it(
      'replaces the whole tag set, and delete empties it, leaving bytes, ETag and Last-Modified',
      async () => {
        const Bucket = bucket.name;
        const put = await s.client.send(
          new PutObjectCommand({ Bucket, Key: 't', Body: 'body', Tagging: 'darkroom-state=unprocessed' }),
        );
        const before = await s.client.send(new HeadObjectCommand({ Bucket, Key: 't' }));
        await s.client.send(
          new PutObjectTaggingCommand({
            Bucket,
            Key: 't',
            Tagging: {
              TagSet: [
                { Key: 'darkroom-state', Value: 'processed' },
                { Key: 'owner', Value: 'alice@example.com' },
              ],
            },
          }),
        );
        expect(await tagsOf('t')).toEqual([
          ['darkroom-state', 'processed'],
          ['owner', 'alice@example.com'],
        ]);
        const del = await s.client.send(new DeleteObjectTaggingCommand({ Bucket, Key: 't' }));
        expect(del.$metadata.httpStatusCode).toBe(204);
        expect(await tagsOf('t')).toEqual([]);
        const after = await s.client.send(new GetObjectCommand({ Bucket, Key: 't' }));
        expect(after.ETag).toBe(put.ETag);
        expect(after.LastModified).toEqual(before.LastModified);
        expect(after.TagCount).toBeUndefined();
        expect(await after.Body?.transformToString()).toBe('body');
      },
    );

    s.it('answers NoSuchKey for a missing object', async () => {
      const Bucket = bucket.name;
      for (const send of [
        () => s.client.send(new GetObjectTaggingCommand({ Bucket, Key: 'missing' })),
        () => s.client.send(new DeleteObjectTaggingCommand({ Bucket, Key: 'missing' })),
        () =>
          s.client.send(
            new PutObjectTaggingCommand({
              Bucket,
              Key: 'missing',
              Tagging: { TagSet: [{ Key: 'a', Value: 'b' }] },
            }),
          ),
      ]) {
        expect(await s3ErrorOf(send)).toMatchObject({ name: 'NoSuchKey', status: 404 });
      }
    });
  });

  s.describe('tag limits', () => {
    const put = (TagSet: { Key: string; Value: string }[]) =>
      s3ErrorOf(() =>
        s.client.send(
          new PutObjectTaggingCommand({ Bucket: bucket.name, Key: 'limits', Tagging: { TagSet } }),
        ),
      );

    beforeAll(async () => {
      await s.client.send(new PutObjectCommand({ Bucket: bucket.name, Key: 'limits', Body: 'x' }));
    });

    s.it('accepts 10 tags with a 128-character key and a 256-character value', async () => {
      const TagSet = Array.from({ length: 10 }, (_, i) => ({
        Key: `${i}`.padEnd(128, 'k'),
        Value: 'v'.repeat(256),
      }));
      await s.client.send(
        new PutObjectTaggingCommand({ Bucket: bucket.name, Key: 'limits', Tagging: { TagSet } }),
      );
      expect((await tagsOf('limits'))?.length).toBe(10);
    });

    const refused: [string, { Key: string; Value: string }[]][] = [
      ['11 tags', Array.from({ length: 11 }, (_, i) => ({ Key: `k${i}`, Value: 'v' }))],
      ['a 129-character key', [{ Key: 'k'.repeat(129), Value: 'v' }]],
      ['a 257-character value', [{ Key: 'k', Value: 'v'.repeat(257) }]],
      [
        'the same key twice',
        [
          { Key: 'k', Value: '1' },
          { Key: 'k', Value: '2' },
        ],
      ],
      ['an empty key', [{ Key: '', Value: 'v' }]],
    ];
    for (const [what, TagSet] of refused) {
      s.it(`refuses ${what} with InvalidTag and keeps the old tags`, async () => {
        const before = await tagsOf('limits');
        expect(await put(TagSet)).toMatchObject({ name: 'InvalidTag', status: 400 });
        expect(await tagsOf('limits')).toEqual(before);
      });
    }

    s.it(
      'refuses an x-amz-tagging header over the limits on PutObject and CreateMultipartUpload',
      async () => {
        const Bucket = bucket.name;
        const eleven = Array.from({ length: 11 }, (_, i) => `k${i}=v`).join('&');
        expect(
          await s3ErrorOf(() =>
            s.client.send(new PutObjectCommand({ Bucket, Key: 'bad', Body: 'x', Tagging: eleven })),
          ),
        ).toMatchObject({ name: 'InvalidTag', status: 400 });
        expect(
          await s3ErrorOf(() =>
            s.client.send(new CreateMultipartUploadCommand({ Bucket, Key: 'bad', Tagging: 'a=1&a=2' })),
          ),
        ).toMatchObject({ name: 'InvalidTag', status: 400 });
        expect(
          (await s3ErrorOf(() => s.client.send(new HeadObjectCommand({ Bucket, Key: 'bad' })))).status,
        ).toBe(404);
      },
    );

    s.it('refuses a tagging document that is not one with MalformedXML', async () => {
      for (const body of [
        'not xml',
        '<Tagging>',
        '<Other/>',
        '<Tagging><TagSet><Tag><Value>v</Value></Tag></TagSet></Tagging>',
      ]) {
        const res = await sendSigned(s.target, {
          method: 'PUT',
          path: `/${bucket.name}/limits`,
          query: { tagging: '' },
          body,
        });
        expect(res.status, body).toBe(400);
        expect(errorCodeOf(res.body), body).toBe('MalformedXML');
      }
    });

    s.it('refuses tags S3 would refuse in the x-amz-tagging header before reading the body', async () => {
      const res = await sendSigned(s.target, {
        method: 'PUT',
        path: `/${bucket.name}/header-bad`,
        body: 'x',
        headers: { 'x-amz-tagging': `${'k'.repeat(129)}=v` },
      });
      expect(res.status).toBe(400);
      expect(errorCodeOf(res.body)).toBe('InvalidTag');
    });
  });
}
