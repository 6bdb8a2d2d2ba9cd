// Object tagging on the embedded S3 server, driven by the AWS SDK v3: what the lifecycle rule for
// unprocessed originals relies on (tags set at upload, cleared by the worker, counted on GET/HEAD).
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Sha256 } from '@aws-crypto/sha256-js';
import {
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  DeleteObjectTaggingCommand,
  GetBucketTaggingCommand,
  GetObjectCommand,
  GetObjectTaggingCommand,
  HeadObjectCommand,
  PutObjectCommand,
  PutObjectTaggingCommand,
  type S3Client,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { createPresignedPost } from '@aws-sdk/s3-presigned-post';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ObjectStore } from '../src/store/object-store.ts';
import { bytes, REGION, s3ErrorOf, startTestS3, TEST_KEY, type TestS3 } from './support.ts';

let s3: TestS3;
let client: S3Client;
const Bucket = 'tagging-test';

beforeAll(async () => {
  s3 = await startTestS3();
  client = s3.client();
  await client.send(new CreateBucketCommand({ Bucket }));
});
afterAll(() => s3.stop());

/** A SigV4-signed PUT with a body the SDK would never send (the SDK validates its own input). */
async function signedPut(
  rawPath: string,
  query: Record<string, string>,
  body: string,
  extra: Record<string, string> = {},
): Promise<Response> {
  const url = new URL(s3.endpoint);
  const signer = new SignatureV4({ service: 's3', region: REGION, credentials: TEST_KEY, sha256: Sha256 });
  const signed = await signer.sign(
    new HttpRequest({
      method: 'PUT',
      protocol: 'http:',
      hostname: url.hostname,
      port: Number(url.port),
      path: rawPath,
      query,
      headers: {
        host: url.host,
        'x-amz-content-sha256': createHash('sha256').update(body).digest('hex'),
        ...extra,
      },
      body,
    }),
  );
  const qs = new URLSearchParams(query).toString().replace(/=$/, '').replace(/=&/g, '&');
  return fetch(`${s3.endpoint}${rawPath}${qs ? `?${qs}` : ''}`, {
    method: 'PUT',
    headers: signed.headers,
    body,
  });
}

const tagsOf = async (Key: string) =>
  (await client.send(new GetObjectTaggingCommand({ Bucket, Key }))).TagSet?.map((t) => [t.Key, t.Value]);

describe('tags on write', () => {
  it('PutObject with Tagging stores them; GET and HEAD count them; GetObjectTagging lists them', async () => {
    await client.send(
      new PutObjectCommand({
        Bucket,
        Key: 'a',
        Body: 'x',
        Tagging: 'darkroom-state=unprocessed&b=two%20words',
      }),
    );
    expect(await tagsOf('a')).toEqual([
      ['darkroom-state', 'unprocessed'],
      ['b', 'two words'],
    ]);
    const head = await client.send(new HeadObjectCommand({ Bucket, Key: 'a' }));
    expect(head.$metadata.httpStatusCode).toBe(200);
    const get = await client.send(new GetObjectCommand({ Bucket, Key: 'a' }));
    expect(get.TagCount).toBe(2);
    await get.Body?.transformToString();
  });

  it('an object without tags has an empty tag set and no x-amz-tagging-count', async () => {
    await client.send(new PutObjectCommand({ Bucket, Key: 'plain', Body: 'x' }));
    expect(await tagsOf('plain')).toEqual([]);
    const get = await client.send(new GetObjectCommand({ Bucket, Key: 'plain' }));
    expect(get.TagCount).toBeUndefined();
    await get.Body?.transformToString();
  });

  it('HEAD returns x-amz-tagging-count', async () => {
    await client.send(new PutObjectCommand({ Bucket, Key: 'counted', Body: 'x', Tagging: 'a=1&b=2&c=3' }));
    const url = `${s3.endpoint}/${Bucket}/counted`;
    // HeadObjectOutput has no TagCount field, so read the header off the wire through a presigned HEAD.
    const signed = await getSignedUrl(client, new HeadObjectCommand({ Bucket, Key: 'counted' }), {
      expiresIn: 60,
    });
    expect(signed.startsWith(url)).toBe(true);
    const res = await fetch(signed, { method: 'HEAD' });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-amz-tagging-count')).toBe('3');
  });

  it('CreateMultipartUpload with Tagging gives the completed object those tags', async () => {
    const Key = 'multi';
    const { UploadId } = await client.send(
      new CreateMultipartUploadCommand({ Bucket, Key, Tagging: 'darkroom-state=unprocessed' }),
    );
    const part = await client.send(
      new UploadPartCommand({ Bucket, Key, UploadId, PartNumber: 1, Body: bytes(1000) }),
    );
    await client.send(
      new CompleteMultipartUploadCommand({
        Bucket,
        Key,
        UploadId,
        MultipartUpload: { Parts: [{ PartNumber: 1, ETag: part.ETag }] },
      }),
    );
    expect(await tagsOf(Key)).toEqual([['darkroom-state', 'unprocessed']]);
  });

  it('a POST form tagging field (Tagging XML) tags the object', async () => {
    const xml =
      '<Tagging><TagSet><Tag><Key>darkroom-state</Key><Value>unprocessed</Value></Tag></TagSet></Tagging>';
    const post = await createPresignedPost(client, {
      Bucket,
      Key: 'posted',
      Conditions: [['content-length-range', 1, 100]],
      Fields: { tagging: xml },
      Expires: 60,
    });
    const form = new FormData();
    for (const [k, v] of Object.entries(post.fields)) form.append(k, v);
    form.append('file', new Blob(['hello']), 'a.bin');
    const res = await fetch(post.url, { method: 'POST', body: form });
    expect(res.status).toBe(204);
    expect(await tagsOf('posted')).toEqual([['darkroom-state', 'unprocessed']]);
  });

  it('a POST form whose tagging field is not the signed one is refused by the policy', async () => {
    const post = await createPresignedPost(client, {
      Bucket,
      Key: 'posted-altered',
      Conditions: [['content-length-range', 1, 100]],
      Fields: { tagging: '<Tagging><TagSet><Tag><Key>a</Key><Value>b</Value></Tag></TagSet></Tagging>' },
      Expires: 60,
    });
    const form = new FormData();
    for (const [k, v] of Object.entries({ ...post.fields, tagging: '<Tagging><TagSet/></Tagging>' }))
      form.append(k, v);
    form.append('file', new Blob(['hello']), 'a.bin');
    const res = await fetch(post.url, { method: 'POST', body: form });
    expect(res.status).toBe(403);
    expect(await res.text()).toContain('<Code>AccessDenied</Code>');
  });

  it('a malformed POST tagging field is MalformedXML and stores nothing', async () => {
    const post = await createPresignedPost(client, {
      Bucket,
      Key: 'posted-bad',
      Conditions: [['content-length-range', 1, 100]],
      Fields: { tagging: '<Tagging><TagSet><Tag><Key>a</Key>' },
      Expires: 60,
    });
    const form = new FormData();
    for (const [k, v] of Object.entries(post.fields)) form.append(k, v);
    form.append('file', new Blob(['hello']), 'a.bin');
    const res = await fetch(post.url, { method: 'POST', body: form });
    expect(res.status).toBe(400);
    expect(await res.text()).toContain('<Code>MalformedXML</Code>');
    expect(
      (await s3ErrorOf(() => client.send(new HeadObjectCommand({ Bucket, Key: 'posted-bad' })))).status,
    ).toBe(404);
  });

  it('CopyObject copies tags by default and replaces them with x-amz-tagging-directive REPLACE', async () => {
    await client.send(new PutObjectCommand({ Bucket, Key: 'src', Body: 'x', Tagging: 'k=v' }));
    await client.send(new CopyObjectCommand({ Bucket, Key: 'copy', CopySource: `${Bucket}/src` }));
    expect(await tagsOf('copy')).toEqual([['k', 'v']]);
    await client.send(
      new CopyObjectCommand({
        Bucket,
        Key: 'copy2',
        CopySource: `${Bucket}/src`,
        TaggingDirective: 'REPLACE',
        Tagging: 'other=1',
      }),
    );
    expect(await tagsOf('copy2')).toEqual([['other', '1']]);
    await client.send(
      new CopyObjectCommand({
        Bucket,
        Key: 'copy3',
        CopySource: `${Bucket}/src`,
        TaggingDirective: 'REPLACE',
      }),
    );
    expect(await tagsOf('copy3')).toEqual([]);
  });
});

describe('Put/Get/DeleteObjectTagging', () => {
  it('replaces the whole tag set, and delete empties it, leaving bytes, ETag and Last-Modified', async () => {
    const put = await client.send(
      new PutObjectCommand({ Bucket, Key: 't', Body: 'body', Tagging: 'darkroom-state=unprocessed' }),
    );
    const before = await client.send(new HeadObjectCommand({ Bucket, Key: 't' }));
    await client.send(
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
    const del = await client.send(new DeleteObjectTaggingCommand({ Bucket, Key: 't' }));
    expect(del.$metadata.httpStatusCode).toBe(204);
    expect(await tagsOf('t')).toEqual([]);
    const after = await client.send(new GetObjectCommand({ Bucket, Key: 't' }));
    expect(after.ETag).toBe(put.ETag);
    expect(after.LastModified).toEqual(before.LastModified);
    expect(after.TagCount).toBeUndefined();
    expect(await after.Body?.transformToString()).toBe('body');
  });

  it('answers NoSuchKey for a missing object', async () => {
    for (const send of [
      () => client.send(new GetObjectTaggingCommand({ Bucket, Key: 'missing' })),
      () => client.send(new DeleteObjectTaggingCommand({ Bucket, Key: 'missing' })),
      () =>
        client.send(
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

describe('limits', () => {
  const put = (TagSet: { Key: string; Value: string }[]) =>
    s3ErrorOf(() => client.send(new PutObjectTaggingCommand({ Bucket, Key: 'limits', Tagging: { TagSet } })));

  beforeAll(async () => {
    await client.send(new PutObjectCommand({ Bucket, Key: 'limits', Body: 'x' }));
  });

  it('accepts 10 tags with a 128-character key and a 256-character value', async () => {
    const TagSet = Array.from({ length: 10 }, (_, i) => ({
      Key: `${i}`.padEnd(128, 'k'),
      Value: 'v'.repeat(256),
    }));
    await client.send(new PutObjectTaggingCommand({ Bucket, Key: 'limits', Tagging: { TagSet } }));
    expect((await tagsOf('limits'))?.length).toBe(10);
  });

  it.each<[string, { Key: string; Value: string }[]]>([
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
  ])('refuses %s with InvalidTag and keeps the old tags', async (_, TagSet) => {
    const before = await tagsOf('limits');
    expect(await put(TagSet)).toMatchObject({ name: 'InvalidTag', status: 400 });
    expect(await tagsOf('limits')).toEqual(before);
  });

  it('refuses an x-amz-tagging header over the limits on PutObject and CreateMultipartUpload', async () => {
    const eleven = Array.from({ length: 11 }, (_, i) => `k${i}=v`).join('&');
    expect(
      await s3ErrorOf(() =>
        client.send(new PutObjectCommand({ Bucket, Key: 'bad', Body: 'x', Tagging: eleven })),
      ),
    ).toMatchObject({ name: 'InvalidTag', status: 400 });
    expect(
      await s3ErrorOf(() =>
        client.send(new CreateMultipartUploadCommand({ Bucket, Key: 'bad', Tagging: 'a=1&a=2' })),
      ),
    ).toMatchObject({ name: 'InvalidTag', status: 400 });
    expect((await s3ErrorOf(() => client.send(new HeadObjectCommand({ Bucket, Key: 'bad' })))).status).toBe(
      404,
    );
  });

  it('refuses a tagging document that is not one with MalformedXML', async () => {
    for (const body of [
      'not xml',
      '<Tagging>',
      '<Other/>',
      '<Tagging><TagSet><Tag><Value>v</Value></Tag></TagSet></Tagging>',
    ]) {
      const res = await signedPut(`/${Bucket}/limits`, { tagging: '' }, body);
      expect(res.status, body).toBe(400);
      expect(await res.text(), body).toContain('<Code>MalformedXML</Code>');
    }
  });

  it('refuses tags S3 would refuse in the x-amz-tagging header before reading the body', async () => {
    const res = await signedPut(`/${Bucket}/header-bad`, {}, 'x', {
      'x-amz-tagging': `${'k'.repeat(129)}=v`,
    });
    expect(res.status).toBe(400);
    expect(await res.text()).toContain('<Code>InvalidTag</Code>');
  });

  it('bucket tagging stays NotImplemented', async () => {
    expect(await s3ErrorOf(() => client.send(new GetBucketTaggingCommand({ Bucket })))).toMatchObject({
      name: 'NotImplemented',
      status: 501,
    });
  });
});

describe('schema migration', () => {
  it('adds the tags columns to an index written before tagging, keeping its objects', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'darkroom-s3-v1-'));
    try {
      const db = new Database(path.join(dir, 'index.sqlite'));
      // The version 1 tables as they were, with one object row.
      db.exec(`
        CREATE TABLE buckets (name TEXT PRIMARY KEY, created_at INTEGER NOT NULL, cors TEXT, notification TEXT);
        CREATE TABLE objects (bucket TEXT NOT NULL, key TEXT NOT NULL, blob TEXT NOT NULL, size INTEGER NOT NULL,
          etag TEXT NOT NULL, last_modified INTEGER NOT NULL, headers TEXT NOT NULL, metadata TEXT NOT NULL,
          checksum_algorithm TEXT, checksum_value TEXT, checksum_type TEXT, parts_count INTEGER,
          PRIMARY KEY (bucket, key)) WITHOUT ROWID;
        CREATE TABLE uploads (upload_id TEXT PRIMARY KEY, bucket TEXT NOT NULL, key TEXT NOT NULL,
          initiated INTEGER NOT NULL, headers TEXT NOT NULL, metadata TEXT NOT NULL, checksum_algorithm TEXT);
        CREATE TABLE parts (upload_id TEXT NOT NULL, part_number INTEGER NOT NULL, blob TEXT NOT NULL,
          size INTEGER NOT NULL, etag TEXT NOT NULL, checksum_value TEXT, last_modified INTEGER NOT NULL,
          PRIMARY KEY (upload_id, part_number)) WITHOUT ROWID;
        CREATE TABLE outbox (id INTEGER PRIMARY KEY AUTOINCREMENT, destination TEXT NOT NULL, body TEXT NOT NULL,
          attempts INTEGER NOT NULL DEFAULT 0, next_attempt_at INTEGER NOT NULL);
        INSERT INTO buckets VALUES ('b', 1, NULL, NULL);
        INSERT INTO objects VALUES ('b', 'k', 'nosuchblob', 0, 'e', 1, '{}', '{}', NULL, NULL, NULL, NULL);
        PRAGMA user_version = 1;
      `);
      db.close();
      const store = await ObjectStore.open(dir);
      try {
        expect(store.getObject('b', 'k')?.tags).toEqual({});
        store.setObjectTags('b', 'k', { a: '1' });
        expect(store.getObject('b', 'k')?.tags).toEqual({ a: '1' });
      } finally {
        store.close();
      }
      const check = new Database(path.join(dir, 'index.sqlite'));
      expect(check.pragma('user_version', { simple: true })).toBe(2);
      check.close();
      // Opening again (already migrated) changes nothing.
      (await ObjectStore.open(dir)).close();
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
