// What the embedded server refuses by design, with S3's NotImplemented (501) rather than half-doing: every
// entry of the README's "Not implemented" list, and the auth mechanisms it does not speak.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { errorCodeOf, type RawRequest, sendSigned } from './conformance/raw.ts';
import type { S3Target } from './conformance/suite.ts';
import { embeddedTarget } from './conformance/targets.ts';

let target: S3Target;
let bucket: string;

beforeAll(async () => {
  target = await embeddedTarget();
  bucket = await target.newBucket('refusals');
  const put = await sendSigned(target, { method: 'PUT', path: `/${bucket}/obj`, body: 'x' });
  expect(put.status).toBe(200);
});
afterAll(() => target.stop());

const onBucket = (method: string, sub: string, body?: string): [string, () => RawRequest] => [
  `${method} bucket ?${sub}`,
  () => ({ method, path: `/${bucket}`, query: { [sub]: '' }, ...(body ? { body } : {}) }),
];
const onObject = (
  method: string,
  sub: string,
  query: Record<string, string> = {},
): [string, () => RawRequest] => [
  `${method} object ?${sub}`,
  () => ({ method, path: `/${bucket}/obj`, query: { [sub]: '', ...query } }),
];

describe('NotImplemented (501)', () => {
  it.each<[string, () => RawRequest]>([
    // Versioning
    onBucket('GET', 'versioning'),
    onBucket('PUT', 'versioning', '<VersioningConfiguration/>'),
    onBucket('GET', 'versions'),
    [
      'GET object ?versionId on its tags',
      () => ({ method: 'GET', path: `/${bucket}/obj`, query: { tagging: '', versionId: 'v1' } }),
    ],
    // ACLs, policies, public-access blocks, ownership
    onBucket('GET', 'acl'),
    onObject('GET', 'acl'),
    onObject('PUT', 'acl'),
    onBucket('GET', 'policy'),
    onBucket('PUT', 'policy', '{}'),
    onBucket('GET', 'publicAccessBlock'),
    onBucket('GET', 'ownershipControls'),
    // Bucket configuration S3 has and this server does not
    onBucket('GET', 'tagging'),
    onBucket('PUT', 'tagging', '<Tagging><TagSet/></Tagging>'),
    onBucket('GET', 'lifecycle'),
    onBucket('PUT', 'lifecycle', '<LifecycleConfiguration/>'),
    onBucket('GET', 'website'),
    onBucket('GET', 'logging'),
    onBucket('GET', 'replication'),
    onBucket('GET', 'encryption'),
    onBucket('GET', 'accelerate'),
    onBucket('GET', 'requestPayment'),
    onBucket('GET', 'analytics'),
    onBucket('GET', 'metrics'),
    onBucket('GET', 'inventory'),
    onBucket('GET', 'intelligent-tiering'),
    // Object lock
    onBucket('GET', 'object-lock'),
    onObject('GET', 'retention'),
    onObject('GET', 'legal-hold'),
    // Other object operations
    onObject('GET', 'attributes'),
    onObject('POST', 'restore'),
    onObject('POST', 'select', { 'select-type': '2' }),
    onObject('GET', 'torrent'),
    // CRC64NVME, by value or by name
    [
      'PutObject with x-amz-checksum-crc64nvme',
      () => ({
        method: 'PUT',
        path: `/${bucket}/crc64`,
        body: 'x',
        headers: { 'x-amz-checksum-crc64nvme': 'AAAAAAAAAAA=' },
      }),
    ],
    [
      'PutObject with x-amz-sdk-checksum-algorithm: CRC64NVME',
      () => ({
        method: 'PUT',
        path: `/${bucket}/crc64`,
        body: 'x',
        headers: { 'x-amz-sdk-checksum-algorithm': 'CRC64NVME' },
      }),
    ],
    [
      'CreateMultipartUpload with x-amz-checksum-algorithm: CRC64NVME',
      () => ({
        method: 'POST',
        path: `/${bucket}/crc64`,
        query: { uploads: '' },
        headers: { 'x-amz-checksum-algorithm': 'CRC64NVME' },
      }),
    ],
    // Conditional writes S3 itself refuses
    [
      'PutObject with If-None-Match: <etag>',
      () => ({ method: 'PUT', path: `/${bucket}/cond`, body: 'x', headers: { 'if-none-match': '"abc"' } }),
    ],
    [
      'PutObject with If-Match: *',
      () => ({ method: 'PUT', path: `/${bucket}/cond`, body: 'x', headers: { 'if-match': '*' } }),
    ],
    // SigV4a's streaming payload
    [
      'a SigV4a (ECDSA) streaming payload',
      () => ({
        method: 'PUT',
        path: `/${bucket}/a`,
        body: 'x',
        payloadHash: 'STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD',
      }),
    ],
    // A bare chunked body (S3 needs a length or aws-chunked framing)
    [
      'a PutObject body with Transfer-Encoding: chunked',
      () => ({
        method: 'PUT',
        path: `/${bucket}/chunked`,
        body: 'hello',
        chunked: true,
        payloadHash: 'UNSIGNED-PAYLOAD',
      }),
    ],
  ])('%s', async (_, request) => {
    const res = await sendSigned(target, request());
    expect({ status: res.status, code: errorCodeOf(res.body) }).toEqual({
      status: 501,
      code: 'NotImplemented',
    });
  });

  it('stores nothing for a refused write', async () => {
    for (const key of ['crc64', 'cond', 'a', 'chunked']) {
      const res = await sendSigned(target, { method: 'HEAD', path: `/${bucket}/${key}` });
      expect(res.status).toBe(404);
    }
  });
});

describe('unsupported authentication (400 InvalidRequest, as S3 answers it)', () => {
  it('SigV2 in the Authorization header', async () => {
    const res = await fetch(`${target.endpoint}/${bucket}/obj`, {
      headers: { authorization: 'AWS AKIDEXAMPLE:c2lnbmF0dXJl', date: new Date().toUTCString() },
    });
    expect(res.status).toBe(400);
    expect(errorCodeOf(await res.text())).toBe('InvalidRequest');
  });

  it('a SigV2 presigned URL', async () => {
    const res = await fetch(
      `${target.endpoint}/${bucket}/obj?AWSAccessKeyId=AKID&Expires=9999999999&Signature=x`,
    );
    expect(res.status).toBe(400);
    expect(errorCodeOf(await res.text())).toBe('InvalidRequest');
  });

  it('SigV4a (AWS4-ECDSA-P256-SHA256) in the Authorization header', async () => {
    const res = await fetch(`${target.endpoint}/${bucket}/obj`, {
      headers: {
        authorization:
          'AWS4-ECDSA-P256-SHA256 Credential=AKID/20260101/s3/aws4_request, SignedHeaders=host, Signature=00',
        'x-amz-date': '20260101T000000Z',
        'x-amz-content-sha256': 'UNSIGNED-PAYLOAD',
      },
    });
    expect(res.status).toBe(400);
    expect(errorCodeOf(await res.text())).toBe('InvalidRequest');
  });
});
