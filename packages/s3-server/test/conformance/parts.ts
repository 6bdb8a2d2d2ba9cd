// GetObject and HeadObject with ?partNumber: "effectively performs a 'ranged' GET request for the part
// specified" (S3 API reference), with the part count in x-amz-mp-parts-count and the object's own ETag.
import { createHash } from 'node:crypto';
import {
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  HeadObjectCommand,
  PutObjectCommand,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { beforeAll, expect } from 'vitest';
import { bodyBytes, bytes, s3ErrorOf } from '../support.ts';
import type { SuiteContext } from './suite.ts';

const MiB = 1024 * 1024;

/** Reading a multipart object part by part, and a single-part object as its part 1. */
export function partsSuite(s: SuiteContext): void {
  s.describe('GetObject by partNumber', () => {
    const bucket = s.bucket('parts');
    const parts = [bytes(5 * MiB, 41), bytes(5 * MiB, 42), bytes(1234, 43)];
    let etag = '';
    beforeAll(async () => {
      const Bucket = bucket.name;
      const Key = 'multi.bin';
      const { UploadId } = await s.client.send(new CreateMultipartUploadCommand({ Bucket, Key }));
      const etags = [];
      for (const [i, Body] of parts.entries())
        etags.push(
          (await s.client.send(new UploadPartCommand({ Bucket, Key, UploadId, PartNumber: i + 1, Body })))
            .ETag,
        );
      await s.client.send(
        new CompleteMultipartUploadCommand({
          Bucket,
          Key,
          UploadId,
          MultipartUpload: { Parts: etags.map((ETag, i) => ({ PartNumber: i + 1, ETag })) },
        }),
      );
      etag = (await s.client.send(new HeadObjectCommand({ Bucket, Key }))).ETag!;
      await s.client.send(new PutObjectCommand({ Bucket, Key: 'single.txt', Body: 'body' }));
    });

    s.it('serves each part with its length, the part count and the whole object ETag', async () => {
      let offset = 0;
      const total = parts.reduce((n, p) => n + p.length, 0);
      for (const [i, part] of parts.entries()) {
        const got = await s.client.send(
          new GetObjectCommand({ Bucket: bucket.name, Key: 'multi.bin', PartNumber: i + 1 }),
        );
        expect(got.$metadata.httpStatusCode).toBe(206);
        expect(got).toMatchObject({
          PartsCount: 3,
          ContentLength: part.length,
          ContentRange: `bytes ${offset}-${offset + part.length - 1}/${total}`,
          ETag: etag,
        });
        expect(
          createHash('md5')
            .update(await bodyBytes(got.Body))
            .digest('hex'),
        ).toBe(createHash('md5').update(part).digest('hex'));
        const head = await s.client.send(
          new HeadObjectCommand({ Bucket: bucket.name, Key: 'multi.bin', PartNumber: i + 1 }),
        );
        expect(head).toMatchObject({ PartsCount: 3, ContentLength: part.length, ETag: etag });
        offset += part.length;
      }
    });

    s.it('answers a part number beyond the count with 416 InvalidPartNumber', async () => {
      expect(
        await s3ErrorOf(() =>
          s.client.send(new GetObjectCommand({ Bucket: bucket.name, Key: 'multi.bin', PartNumber: 4 })),
        ),
      ).toMatchObject({ name: 'InvalidPartNumber', status: 416 });
      expect(
        (
          await s3ErrorOf(() =>
            s.client.send(new HeadObjectCommand({ Bucket: bucket.name, Key: 'multi.bin', PartNumber: 4 })),
          )
        ).status,
      ).toBe(416);
    });

    s.it('serves a single-part object whole as part 1, and nothing as part 2', async () => {
      const got = await s.client.send(
        new GetObjectCommand({ Bucket: bucket.name, Key: 'single.txt', PartNumber: 1 }),
      );
      expect((await bodyBytes(got.Body)).toString()).toBe('body');
      expect(got.ETag).toBe(`"${createHash('md5').update('body').digest('hex')}"`);
      expect(
        await s3ErrorOf(() =>
          s.client.send(new GetObjectCommand({ Bucket: bucket.name, Key: 'single.txt', PartNumber: 2 })),
        ),
      ).toMatchObject({ name: 'InvalidPartNumber', status: 416 });
    });

    s.it('refuses partNumber with a Range, and part numbers outside 1..10000', async () => {
      expect(
        await s3ErrorOf(() =>
          s.client.send(
            new GetObjectCommand({
              Bucket: bucket.name,
              Key: 'multi.bin',
              PartNumber: 1,
              Range: 'bytes=0-1',
            }),
          ),
        ),
      ).toMatchObject({ name: 'InvalidRequest', status: 400 });
      for (const PartNumber of [0, 10001]) {
        expect(
          await s3ErrorOf(() =>
            s.client.send(new GetObjectCommand({ Bucket: bucket.name, Key: 'multi.bin', PartNumber })),
          ),
        ).toMatchObject({ name: 'InvalidArgument', status: 400 });
      }
    });
  });
}
