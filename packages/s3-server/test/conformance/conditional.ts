// Conditional writes (S3, 2024): If-None-Match: * creates only, If-Match: <etag> replaces only that object,
// on PutObject (also presigned), CopyObject and CompleteMultipartUpload.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  PutObjectCommand,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { expect } from 'vitest';
import { bodyBytes, s3ErrorOf } from '../support.ts';
import { errorCodeOf, sendSigned } from './raw.ts';
import type { SuiteContext } from './suite.ts';

const etagOf = (body: string) => `"${createHash('md5').update(body).digest('hex')}"`;

/** Conditional PutObject, CopyObject and CompleteMultipartUpload. */
export function conditionalSuite(s: SuiteContext): void {
  const bucket = s.bucket('conditional');
  const put = (Key: string, Body: string, cond: { IfNoneMatch?: string; IfMatch?: string } = {}) =>
    s.client.send(new PutObjectCommand({ Bucket: bucket.name, Key, Body, ...cond }));
  const read = async (Key: string) =>
    (
      await bodyBytes((await s.client.send(new GetObjectCommand({ Bucket: bucket.name, Key }))).Body)
    ).toString();

  /** A multipart upload of `key` with one small part, ready to complete. */
  async function oneTinyPart(Key: string) {
    const Bucket = bucket.name;
    const { UploadId } = await s.client.send(new CreateMultipartUploadCommand({ Bucket, Key }));
    const { ETag } = await s.client.send(
      new UploadPartCommand({ Bucket, Key, UploadId, PartNumber: 1, Body: 'part' }),
    );
    const complete = (cond: { IfNoneMatch?: string; IfMatch?: string } = {}) =>
      s.client.send(
        new CompleteMultipartUploadCommand({
          Bucket,
          Key,
          UploadId,
          MultipartUpload: { Parts: [{ PartNumber: 1, ETag }] },
          ...cond,
        }),
      );
    return { UploadId: UploadId!, complete };
  }

  s.describe('conditional PutObject', () => {
    s.it('If-None-Match: * creates a key once, then answers 412 and keeps the first object', async () => {
      await put('create-once', 'first', { IfNoneMatch: '*' });
      expect(await s3ErrorOf(() => put('create-once', 'second', { IfNoneMatch: '*' }))).toMatchObject({
        name: 'PreconditionFailed',
        status: 412,
      });
      expect(await read('create-once')).toBe('first');
      await s.client.send(new DeleteObjectCommand({ Bucket: bucket.name, Key: 'create-once' }));
      await put('create-once', 'again', { IfNoneMatch: '*' });
      expect(await read('create-once')).toBe('again');
    });

    s.it(
      'answers 412 to a streamed body at the SDK defaults (aws-chunked, no Content-Length), not a cut connection',
      async () => {
        // A refused streamed body must reach the client as S3's answer, not as a connection cut mid-write.
        const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 's3-streamed-')), 'body');
        fs.writeFileSync(file, Buffer.alloc(5000, 7));
        // From a file, as a worker uploads: the SDK sends the headers before the stream has read anything.
        const streamed = () =>
          s.client.send(
            new PutObjectCommand({
              Bucket: bucket.name,
              Key: 'streamed-once',
              Body: fs.createReadStream(file),
              ContentLength: 5000,
              IfNoneMatch: '*',
            }),
          );
        await streamed();
        for (let i = 0; i < 5; i++) {
          expect(await s3ErrorOf(streamed)).toMatchObject({ name: 'PreconditionFailed', status: 412 });
        }
        fs.rmSync(path.dirname(file), { recursive: true, force: true });
      },
    );

    s.it(
      'If-Match replaces only the object with that ETag: 412 on another, 404 NoSuchKey when absent',
      async () => {
        const first = await put('swap', 'one');
        expect(await s3ErrorOf(() => put('swap', 'two', { IfMatch: etagOf('other') }))).toMatchObject({
          name: 'PreconditionFailed',
          status: 412,
        });
        await put('swap', 'two', { IfMatch: first.ETag });
        expect(await read('swap')).toBe('two');
        expect(await s3ErrorOf(() => put('never-written', 'x', { IfMatch: first.ETag }))).toMatchObject({
          name: 'NoSuchKey',
          status: 404,
        });
      },
    );

    s.it('If-None-Match other than * and If-Match: * are 501 NotImplemented, as on S3', async () => {
      await put('values', 'v');
      for (const cond of [{ IfNoneMatch: etagOf('v') }, { IfNoneMatch: '"abc"' }, { IfMatch: '*' }]) {
        expect(await s3ErrorOf(() => put('values', 'w', cond)), JSON.stringify(cond)).toMatchObject({
          name: 'NotImplemented',
          status: 501,
        });
      }
      expect(await read('values')).toBe('v');
    });

    s.it('a presigned PUT that signed If-None-Match: * writes once', async () => {
      const presigner = s.target.client({ requestChecksumCalculation: 'WHEN_REQUIRED' });
      const url = await getSignedUrl(
        presigner,
        new PutObjectCommand({ Bucket: bucket.name, Key: 'presigned-once', IfNoneMatch: '*' }),
        { expiresIn: 60 },
      );
      expect(new URL(url).searchParams.get('X-Amz-SignedHeaders')).toContain('if-none-match');
      const first = await fetch(url, { method: 'PUT', body: 'first', headers: { 'if-none-match': '*' } });
      expect(first.status).toBe(200);
      const second = await fetch(url, { method: 'PUT', body: 'second', headers: { 'if-none-match': '*' } });
      expect(second.status).toBe(412);
      expect(errorCodeOf(await second.text())).toBe('PreconditionFailed');
      expect(await read('presigned-once')).toBe('first');
    });

    s.it('of two creates racing for one key, the first to finish wins and the other gets 412', async () => {
      const res = await sendSigned(s.target, {
        method: 'PUT',
        path: `/${bucket.name}/race`,
        headers: { 'if-none-match': '*' },
        body: 'slow',
        // The other writer finishes while this one's body is still on its way.
        beforeBody: async () => {
          await put('race', 'fast', { IfNoneMatch: '*' });
        },
      });
      expect(res.status).toBe(412);
      expect(errorCodeOf(res.body)).toBe('PreconditionFailed');
      expect(await read('race')).toBe('fast');
    });

    s.it(
      'If-Match that still holds after the key was rewritten during the upload is 409 ConditionalRequestConflict',
      async () => {
        const first = await put('rewritten', 'same');
        const res = await sendSigned(s.target, {
          method: 'PUT',
          path: `/${bucket.name}/rewritten`,
          headers: { 'if-match': first.ETag! },
          body: 'mine',
          // Deleted and written again with the very same bytes: same ETag, another object.
          beforeBody: async () => {
            await s.client.send(new DeleteObjectCommand({ Bucket: bucket.name, Key: 'rewritten' }));
            await put('rewritten', 'same');
          },
        });
        expect(res.status).toBe(409);
        expect(errorCodeOf(res.body)).toBe('ConditionalRequestConflict');
        expect(await read('rewritten')).toBe('same');
      },
    );
  });

  s.describe('conditional CopyObject', () => {
    s.it('If-None-Match: * copies only onto a free key', async () => {
      await put('copy-src', 'source');
      await put('copy-dst', 'taken');
      const copy = () =>
        s.client.send(
          new CopyObjectCommand({
            Bucket: bucket.name,
            Key: 'copy-dst',
            CopySource: `${bucket.name}/copy-src`,
            IfNoneMatch: '*',
          }),
        );
      expect(await s3ErrorOf(copy)).toMatchObject({ name: 'PreconditionFailed', status: 412 });
      expect(await read('copy-dst')).toBe('taken');
      await s.client.send(new DeleteObjectCommand({ Bucket: bucket.name, Key: 'copy-dst' }));
      await copy();
      expect(await read('copy-dst')).toBe('source');
    });
  });

  s.describe('conditional CompleteMultipartUpload', () => {
    s.it(
      'If-None-Match: * completes onto a free key, and 412 when the key was taken before or during',
      async () => {
        const free = await oneTinyPart('mp-free');
        await free.complete({ IfNoneMatch: '*' });
        expect(await read('mp-free')).toBe('part');

        await put('mp-taken', 'before');
        const before = await oneTinyPart('mp-taken');
        expect(await s3ErrorOf(() => before.complete({ IfNoneMatch: '*' }))).toMatchObject({
          name: 'PreconditionFailed',
          status: 412,
        });

        const during = await oneTinyPart('mp-during');
        await put('mp-during', 'meanwhile');
        expect(await s3ErrorOf(() => during.complete({ IfNoneMatch: '*' }))).toMatchObject({
          name: 'PreconditionFailed',
          status: 412,
        });
        expect(await read('mp-during')).toBe('meanwhile');
      },
    );

    s.it(
      '409 ConditionalRequestConflict when the key changed after the upload began but the condition holds',
      async () => {
        // Deleted meanwhile: If-None-Match now holds, but against another state than the upload began in.
        await put('mp-deleted', 'there');
        const deleted = await oneTinyPart('mp-deleted');
        await s.client.send(new DeleteObjectCommand({ Bucket: bucket.name, Key: 'mp-deleted' }));
        expect(await s3ErrorOf(() => deleted.complete({ IfNoneMatch: '*' }))).toMatchObject({
          name: 'ConditionalRequestConflict',
          status: 409,
        });
        // Rewritten with the same bytes meanwhile: If-Match on its ETag holds, the object is another.
        const first = await put('mp-same', 'same');
        const same = await oneTinyPart('mp-same');
        await put('mp-same', 'same');
        expect(await s3ErrorOf(() => same.complete({ IfMatch: first.ETag }))).toMatchObject({
          name: 'ConditionalRequestConflict',
          status: 409,
        });
        // A new upload begun after the change completes.
        const again = await oneTinyPart('mp-same');
        await again.complete({ IfMatch: first.ETag });
        expect(await read('mp-same')).toBe('part');
      },
    );

    s.it('a retried complete answers 200 with the same ETag, conditions and all', async () => {
      const upload = await oneTinyPart('mp-retried');
      const first = await upload.complete({ IfNoneMatch: '*' });
      const retry = await upload.complete({ IfNoneMatch: '*' });
      expect(retry.$metadata.httpStatusCode).toBe(200);
      if (!s.deviates('completeEtag')) expect(retry.ETag).toBe(first.ETag);
    });
  });
}
