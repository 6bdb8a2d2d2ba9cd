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
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { expect } from 'vitest';
import { bodyBytes, bytes, s3ErrorOf } from '../support.ts';
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
  });
}
