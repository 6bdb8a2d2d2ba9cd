// Authentication the embedded server does beyond the shared S3 suite (test/conformance): several key
// pairs at once, and SigV2 refused by name.
import { CreateBucketCommand, HeadObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SECOND_KEY, startTestS3, type TestS3 } from './support.ts';

let s3: TestS3;
let client: S3Client;
const Bucket = 'auth-test';

beforeAll(async () => {
  s3 = await startTestS3();
  client = s3.client();
  await client.send(new CreateBucketCommand({ Bucket }));
});
afterAll(() => s3.stop());

async function exists(Key: string): Promise<boolean> {
  try {
    await client.send(new HeadObjectCommand({ Bucket, Key }));
    return true;
  } catch {
    return false;
  }
}

describe('key pairs', () => {
  it('accepts every configured key pair', async () => {
    const second = s3.client({ credentials: SECOND_KEY });
    await second.send(new PutObjectCommand({ Bucket, Key: 'by-second', Body: 'hi' }));
    expect(await exists('by-second')).toBe(true);
  });
});

describe('unsupported signature versions', () => {
  it('answers a SigV2 presigned URL with InvalidRequest naming the supported mechanism', async () => {
    const res = await fetch(
      `${s3.endpoint}/${Bucket}/by-second?AWSAccessKeyId=AKID&Expires=2000000000&Signature=abc%3D`,
    );
    expect(res.status).toBe(400);
    const body = await res.text();
    expect(body).toContain('<Code>InvalidRequest</Code>');
    expect(body).toContain('AWS4-HMAC-SHA256');
  });
});
