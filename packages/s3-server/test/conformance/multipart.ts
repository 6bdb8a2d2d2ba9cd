import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListPartsCommand,
  PutObjectCommand,
  UploadPartCommand,
  UploadPartCopyCommand,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { beforeAll, expect } from 'vitest';
import { bodyBytes, bytes, s3ErrorOf } from '../support.ts';
import { errorCodeOf, sendSigned } from './raw.ts';
import type { SuiteContext } from './suite.ts';

const MiB = 1024 * 1024;
const md5 = (b: Buffer) => createHash('md5').update(b).digest();

/** Multipart uploads: the SDK's managed upload, the low-level calls, and presigned parts. */
export function multipartSuite(s: SuiteContext): void {
  s.describe('multipart', () => {
    const bucket = s.bucket('multipart');

    async function start(Key: string, ChecksumAlgorithm?: 'CRC32' | 'SHA256') {
      const { UploadId } = await s.client.send(
        new CreateMultipartUploadCommand({
          Bucket: bucket.name,
          Key,
          ChecksumAlgorithm,
          Metadata: { m: '1' },
        }),
      );
      return UploadId!;
    }

    s.it('uploads a 13 MiB stream in parts with lib-storage, read back byte for byte', async () => {
      const Bucket = bucket.name;
      const body = bytes(13 * MiB, 5);
      const progress: number[] = [];
      const upload = new Upload({
        client: s.client,
        params: {
          Bucket,
          Key: 'big/stream.bin',
          Body: Readable.from([body.subarray(0, 7 * MiB), body.subarray(7 * MiB)]),
          ContentType: 'application/x-test',
        },
        partSize: 5 * MiB,
        queueSize: 2,
      });
      upload.on('httpUploadProgress', (p) => progress.push(p.loaded ?? 0));
      const done = await upload.done();
      const parts = [body.subarray(0, 5 * MiB), body.subarray(5 * MiB, 10 * MiB), body.subarray(10 * MiB)];
      const expected = `"${createHash('md5')
        .update(Buffer.concat(parts.map(md5)))
        .digest('hex')}-3"`;
      if (!s.deviates('completeEtag')) expect(done.ETag).toBe(expected);
      expect(Math.max(...progress)).toBe(body.length);
      const got = await s.client.send(new GetObjectCommand({ Bucket, Key: 'big/stream.bin' }));
      expect(got.ContentType).toBe('application/x-test');
      expect(got.ETag).toBe(expected);
      expect(
        createHash('sha256')
          .update(await bodyBytes(got.Body))
          .digest('hex'),
      ).toBe(createHash('sha256').update(body).digest('hex'));
    });

    s.it('lists parts and uploads, and keeps metadata', async () => {
      const Bucket = bucket.name;
      const Key = 'mp/listed.bin';
      const UploadId = await start(Key);
      const p1 = bytes(5 * MiB, 1);
      const p2 = bytes(1234, 2);
      const r1 = await s.client.send(
        new UploadPartCommand({ Bucket, Key, UploadId, PartNumber: 1, Body: p1 }),
      );
      const r2 = await s.client.send(
        new UploadPartCommand({ Bucket, Key, UploadId, PartNumber: 2, Body: p2 }),
      );
      const listed = await s.client.send(new ListPartsCommand({ Bucket, Key, UploadId }));
      expect(listed.Parts?.map((p) => [p.PartNumber, p.Size, p.ETag])).toEqual([
        [1, p1.length, r1.ETag],
        [2, p2.length, r2.ETag],
      ]);
      const uploads = await s.client.send(new ListMultipartUploadsCommand({ Bucket, Prefix: 'mp/' }));
      expect(uploads.Uploads?.map((u) => u.UploadId)).toContain(UploadId);
      await s.client.send(
        new CompleteMultipartUploadCommand({
          Bucket,
          Key,
          UploadId,
          MultipartUpload: {
            Parts: [
              { PartNumber: 1, ETag: r1.ETag },
              { PartNumber: 2, ETag: r2.ETag },
            ],
          },
        }),
      );
      const head = await s.client.send(new HeadObjectCommand({ Bucket, Key }));
      expect(head).toMatchObject({ ContentLength: p1.length + p2.length, Metadata: { m: '1' } });
      expect(head.ETag).toBe(
        `"${createHash('md5')
          .update(Buffer.concat([md5(p1), md5(p2)]))
          .digest('hex')}-2"`,
      );
      const after = await s.client.send(new ListMultipartUploadsCommand({ Bucket, Prefix: 'mp/' }));
      expect(after.Uploads?.map((u) => u.UploadId) ?? []).not.toContain(UploadId);
    });

    s.it("composes a COMPOSITE checksum from the parts' checksums", async () => {
      const Bucket = bucket.name;
      const Key = 'mp/checked.bin';
      const UploadId = await start(Key, 'SHA256');
      const p1 = bytes(5 * MiB, 1);
      const p2 = bytes(1234, 2);
      const [r1, r2] = await Promise.all(
        [p1, p2].map((Body, i) =>
          s.client.send(
            new UploadPartCommand({
              Bucket,
              Key,
              UploadId,
              PartNumber: i + 1,
              Body,
              ChecksumAlgorithm: 'SHA256',
            }),
          ),
        ),
      );
      expect(r1!.ChecksumSHA256).toBe(createHash('sha256').update(p1).digest('base64'));
      const done = await s.client.send(
        new CompleteMultipartUploadCommand({
          Bucket,
          Key,
          UploadId,
          MultipartUpload: {
            Parts: [
              { PartNumber: 1, ETag: r1!.ETag, ChecksumSHA256: r1!.ChecksumSHA256 },
              { PartNumber: 2, ETag: r2!.ETag, ChecksumSHA256: r2!.ChecksumSHA256 },
            ],
          },
        }),
      );
      const composite = createHash('sha256')
        .update(
          Buffer.concat([createHash('sha256').update(p1).digest(), createHash('sha256').update(p2).digest()]),
        )
        .digest('base64');
      expect(done.ChecksumSHA256).toBe(`${composite}-2`);
    });

    s.it('refuses wrong ETags, bad order, small parts and unknown uploads, storing nothing', async () => {
      const Bucket = bucket.name;
      const Key = 'mp/refused.bin';
      const UploadId = await start(Key);
      const r1 = await s.client.send(
        new UploadPartCommand({ Bucket, Key, UploadId, PartNumber: 1, Body: bytes(1000, 3) }),
      );
      const r2 = await s.client.send(
        new UploadPartCommand({ Bucket, Key, UploadId, PartNumber: 2, Body: bytes(1000, 4) }),
      );
      const complete = (Parts: { PartNumber: number; ETag?: string }[]) =>
        s3ErrorOf(() =>
          s.client.send(
            new CompleteMultipartUploadCommand({ Bucket, Key, UploadId, MultipartUpload: { Parts } }),
          ),
        );
      expect((await complete([{ PartNumber: 1, ETag: '"00000000000000000000000000000000"' }])).name).toBe(
        'InvalidPart',
      );
      expect((await complete([{ PartNumber: 3, ETag: r1.ETag }])).name).toBe('InvalidPart');
      expect(
        (
          await complete([
            { PartNumber: 2, ETag: r2.ETag },
            { PartNumber: 1, ETag: r1.ETag },
          ])
        ).name,
      ).toBe('InvalidPartOrder');
      expect(
        await complete([
          { PartNumber: 1, ETag: r1.ETag },
          { PartNumber: 2, ETag: r2.ETag },
        ]),
      ).toMatchObject({ name: 'EntityTooSmall', status: 400 });
      expect((await s3ErrorOf(() => s.client.send(new HeadObjectCommand({ Bucket, Key })))).status).toBe(404);
      const badPart = await s3ErrorOf(() =>
        s.client.send(new UploadPartCommand({ Bucket, Key, UploadId, PartNumber: 10001, Body: 'x' })),
      );
      expect(badPart.name).toBe('InvalidArgument');
      await s.client.send(new AbortMultipartUploadCommand({ Bucket, Key, UploadId }));
      expect(
        (await s3ErrorOf(() => s.client.send(new ListPartsCommand({ Bucket, Key, UploadId })))).name,
      ).toBe('NoSuchUpload');
    });

    s.it('accepts parts through presigned UploadPart URLs (as browsers send them)', async () => {
      const Bucket = bucket.name;
      const Key = 'mp/presigned.bin';
      const UploadId = await start(Key);
      const presigner = s.target.client({ requestChecksumCalculation: 'WHEN_REQUIRED' });
      const parts = [bytes(5 * MiB, 8), bytes(100, 9)];
      const etags: string[] = [];
      for (const [i, part] of parts.entries()) {
        const url = await getSignedUrl(
          presigner,
          new UploadPartCommand({ Bucket, Key, UploadId, PartNumber: i + 1 }),
          { expiresIn: 60 },
        );
        const res = await fetch(url, { method: 'PUT', body: new Uint8Array(part) });
        expect(res.status).toBe(200);
        etags.push(res.headers.get('etag')!);
      }
      await s.client.send(
        new CompleteMultipartUploadCommand({
          Bucket,
          Key,
          UploadId,
          MultipartUpload: { Parts: etags.map((ETag, i) => ({ PartNumber: i + 1, ETag })) },
        }),
      );
      const got = await s.client.send(new GetObjectCommand({ Bucket, Key }));
      expect(Buffer.compare(await bodyBytes(got.Body), Buffer.concat(parts))).toBe(0);
    });

    /** A 2-part upload of `Key`, completed once; gives its first answer and ways to complete it again. */
    async function completedUpload(Key: string) {
      const Bucket = bucket.name;
      const UploadId = await start(Key);
      const p1 = await s.client.send(
        new UploadPartCommand({ Bucket, Key, UploadId, PartNumber: 1, Body: bytes(5 * MiB, 21) }),
      );
      const p2 = await s.client.send(
        new UploadPartCommand({ Bucket, Key, UploadId, PartNumber: 2, Body: bytes(10, 22) }),
      );
      const complete = (Parts: { PartNumber: number; ETag?: string }[]) =>
        s.client.send(
          new CompleteMultipartUploadCommand({ Bucket, Key, UploadId, MultipartUpload: { Parts } }),
        );
      const both = [
        { PartNumber: 1, ETag: p1.ETag },
        { PartNumber: 2, ETag: p2.ETag },
      ];
      const first = await complete(both);
      return { first, again: () => complete(both), other: () => complete([both[0]!]) };
    }

    s.it('answers a retried complete with the same 200 and ETag', async () => {
      const { first, again } = await completedUpload('mp/retried.bin');
      const second = await again();
      expect(second.$metadata.httpStatusCode).toBe(200);
      if (!s.deviates('completeEtag')) expect(second.ETag).toBe(first.ETag);
      const head = await s.client.send(new HeadObjectCommand({ Bucket: bucket.name, Key: 'mp/retried.bin' }));
      expect(head.ContentLength).toBe(5 * MiB + 10);
    });

    s.it('answers two concurrent completes of one upload alike', async () => {
      const Bucket = bucket.name;
      const Key = 'mp/twice-at-once.bin';
      const UploadId = await start(Key);
      const parts: { PartNumber: number; ETag?: string }[] = [];
      for (const [i, Body] of [bytes(5 * MiB, 23), bytes(5 * MiB, 24), bytes(10, 25)].entries()) {
        const { ETag } = await s.client.send(
          new UploadPartCommand({ Bucket, Key, UploadId, PartNumber: i + 1, Body }),
        );
        parts.push({ PartNumber: i + 1, ETag });
      }
      const complete = () =>
        s.client.send(
          new CompleteMultipartUploadCommand({ Bucket, Key, UploadId, MultipartUpload: { Parts: parts } }),
        );
      const [a, b] = await Promise.all([complete(), complete()]);
      expect([a.$metadata.httpStatusCode, b.$metadata.httpStatusCode]).toEqual([200, 200]);
      if (!s.deviates('completeEtag')) expect(a.ETag).toBe(b.ETag);
      expect((await s.client.send(new HeadObjectCommand({ Bucket, Key }))).ContentLength).toBe(10 * MiB + 10);
    });

    s.it('answers a complete of a completed upload with other parts NoSuchUpload', async () => {
      const { other } = await completedUpload('mp/retried-other.bin');
      expect(await s3ErrorOf(other)).toMatchObject({ name: 'NoSuchUpload', status: 404 });
    });

    s.it('keeps the part whose upload finished last when one number is uploaded twice at once', async () => {
      const Bucket = bucket.name;
      const Key = 'mp/same-part.bin';
      const UploadId = await start(Key);
      let fastEtag = '';
      // The slow upload of part 1 starts first and finishes last; the fast one runs while it is under way.
      const slow = await sendSigned(s.target, {
        method: 'PUT',
        path: `/${Bucket}/${Key}`,
        query: { partNumber: '1', uploadId: UploadId },
        body: 'AAAAAAAA',
        beforeBody: async () => {
          fastEtag = (
            await s.client.send(
              new UploadPartCommand({ Bucket, Key, UploadId, PartNumber: 1, Body: 'BBBBBBBB' }),
            )
          ).ETag!;
        },
      });
      expect(slow.status).toBe(200);
      const slowEtag = slow.headers.etag as string;
      const listed = await s.client.send(new ListPartsCommand({ Bucket, Key, UploadId }));
      expect(listed.Parts?.map((p) => p.ETag)).toEqual([slowEtag]);
      expect(
        await s3ErrorOf(() =>
          s.client.send(
            new CompleteMultipartUploadCommand({
              Bucket,
              Key,
              UploadId,
              MultipartUpload: { Parts: [{ PartNumber: 1, ETag: fastEtag }] },
            }),
          ),
        ),
      ).toMatchObject({ name: 'InvalidPart', status: 400 });
      // A list naming part 1 twice (as a client that saw both uploads sends it): the last entry counts.
      await s.client.send(
        new CompleteMultipartUploadCommand({
          Bucket,
          Key,
          UploadId,
          MultipartUpload: {
            Parts: [
              { PartNumber: 1, ETag: fastEtag },
              { PartNumber: 1, ETag: slowEtag },
            ],
          },
        }),
      );
      const got = await s.client.send(new GetObjectCommand({ Bucket, Key }));
      expect((await bodyBytes(got.Body)).toString()).toBe('AAAAAAAA');
    });

    s.it('refuses a complete without a part list with MalformedXML', async () => {
      const Bucket = bucket.name;
      const Key = 'mp/no-list.bin';
      const UploadId = await start(Key);
      await s.client.send(new UploadPartCommand({ Bucket, Key, UploadId, PartNumber: 1, Body: 'x' }));
      const res = await sendSigned(s.target, {
        method: 'POST',
        path: `/${Bucket}/${Key.split('/').map(encodeURIComponent).join('/')}`,
        query: { uploadId: UploadId },
        body: '',
      });
      expect(res.status).toBe(400);
      expect(errorCodeOf(res.body)).toBe('MalformedXML');
    });
  });

  s.describe('UploadPartCopy', () => {
    const bucket = s.bucket('part-copy');
    const source = bytes(6 * MiB + 17, 31);
    beforeAll(async () => {
      await s.client.send(new PutObjectCommand({ Bucket: bucket.name, Key: 'source.bin', Body: source }));
      await s.client.send(new PutObjectCommand({ Bucket: bucket.name, Key: 'tiny', Body: 'abcdefghij' }));
    });
    const copyPart = (
      Key: string,
      UploadId: string,
      PartNumber: number,
      CopySourceRange?: string,
      from = 'source.bin',
    ) =>
      s.client.send(
        new UploadPartCopyCommand({
          Bucket: bucket.name,
          Key,
          UploadId,
          PartNumber,
          CopySource: `${bucket.name}/${from}`,
          ...(CopySourceRange ? { CopySourceRange } : {}),
        }),
      );

    s.it('builds an object from ranges of another, and from a whole one', async () => {
      const Key = 'copied.bin';
      const { UploadId } = await s.client.send(
        new CreateMultipartUploadCommand({ Bucket: bucket.name, Key }),
      );
      const r1 = await copyPart(Key, UploadId!, 1, `bytes=0-${5 * MiB - 1}`);
      const r2 = await copyPart(Key, UploadId!, 2, `bytes=${5 * MiB}-${source.length - 1}`);
      const md5 = createHash('md5')
        .update(source.subarray(0, 5 * MiB))
        .digest('hex');
      expect(r1.CopyPartResult?.ETag).toBe(s.deviates('etagQuotes') ? md5 : `"${md5}"`);
      const complete = (key: string, uploadId: string, etags: (string | undefined)[]) =>
        s.client.send(
          new CompleteMultipartUploadCommand({
            Bucket: bucket.name,
            Key: key,
            UploadId: uploadId,
            MultipartUpload: { Parts: etags.map((ETag, i) => ({ PartNumber: i + 1, ETag })) },
          }),
        );
      await complete(Key, UploadId!, [r1.CopyPartResult?.ETag, r2.CopyPartResult?.ETag]);
      const got = await s.client.send(new GetObjectCommand({ Bucket: bucket.name, Key }));
      expect(Buffer.compare(await bodyBytes(got.Body), source)).toBe(0);
      const whole = await s.client.send(
        new CreateMultipartUploadCommand({ Bucket: bucket.name, Key: 'whole' }),
      );
      const r3 = await copyPart('whole', whole.UploadId!, 1, undefined, 'tiny');
      await complete('whole', whole.UploadId!, [r3.CopyPartResult?.ETag]);
      const tiny = await s.client.send(new GetObjectCommand({ Bucket: bucket.name, Key: 'whole' }));
      expect((await bodyBytes(tiny.Body)).toString()).toBe('abcdefghij');
    });

    s.it('refuses ranges S3 refuses: a malformed one, and one past the source', async () => {
      const Key = 'bad-ranges.bin';
      const { UploadId } = await s.client.send(
        new CreateMultipartUploadCommand({ Bucket: bucket.name, Key }),
      );
      for (const range of ['0-2', 'bytes=0', 'bytes=hello-world', 'bytes=0-bar', 'bytes=0-2,3-5']) {
        expect(await s3ErrorOf(() => copyPart(Key, UploadId!, 1, range, 'tiny')), range).toMatchObject({
          name: 'InvalidArgument',
          status: 400,
        });
      }
      expect(await s3ErrorOf(() => copyPart(Key, UploadId!, 1, 'bytes=0-21', 'tiny'))).toMatchObject({
        name: 'InvalidArgument',
        status: 400,
      });
      expect(await s3ErrorOf(() => copyPart(Key, UploadId!, 1, 'bytes=20-21', 'tiny'))).toMatchObject({
        name: 'InvalidRequest',
        status: 400,
      });
      expect(await s3ErrorOf(() => copyPart(Key, UploadId!, 1, undefined, 'missing'))).toMatchObject({
        name: 'NoSuchKey',
        status: 404,
      });
    });
  });
}
