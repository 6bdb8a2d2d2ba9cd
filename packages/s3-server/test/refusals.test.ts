// What the embedded server refuses by design, with S3's NotImplemented (501), rather than half-doing.
import { CreateBucketCommand, GetBucketTaggingCommand, type S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { s3ErrorOf, startTestS3, type TestS3 } from './support.ts';

let s3: TestS3;
let client: S3Client;
const Bucket = 'refusals-test';

beforeAll(async () => {
  s3 = await startTestS3();
  client = s3.client();
  await client.send(new CreateBucketCommand({ Bucket }));
});
afterAll(() => s3.stop());

describe('NotImplemented', () => {
  it('bucket tagging', async () => {
    expect(await s3ErrorOf(() => client.send(new GetBucketTaggingCommand({ Bucket })))).toMatchObject({
      name: 'NotImplemented',
      status: 501,
    });
  });
});
