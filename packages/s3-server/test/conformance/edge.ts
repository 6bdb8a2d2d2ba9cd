// Requests real clients send that S3 accepts (and S3's own error where it does not): an empty
// continuation token, odd Expect headers, max-keys 0, markers that are not printable; chunked bodies.
import { ListObjectsCommand, ListObjectsV2Command, PutObjectCommand } from '@aws-sdk/client-s3';
import { beforeAll, expect } from 'vitest';
import { errorCodeOf, sendSigned } from './raw.ts';
import type { SuiteContext } from './suite.ts';

const KEYS = ['bar', 'baz', 'foo', 'quxx'];

/** Edge cases of listing and of HTTP framing. */
export function edgeSuite(s: SuiteContext): void {
  const bucket = s.bucket('edge');
  beforeAll(async () => {
    for (const Key of KEYS)
      await s.client.send(new PutObjectCommand({ Bucket: bucket.name, Key, Body: Key }));
  });
  const keysOf = (res: { Contents?: { Key?: string }[] }) => (res.Contents ?? []).map((c) => c.Key);

  s.describe('listing edges', () => {
    s.it('treats an empty continuation-token as none and echoes it back empty', async () => {
      const res = await s.client.send(
        new ListObjectsV2Command({ Bucket: bucket.name, ContinuationToken: '' }),
      );
      expect(res.ContinuationToken).toBe('');
      expect(res.IsTruncated).toBe(false);
      expect(keysOf(res)).toEqual(KEYS);
    });

    s.it('answers max-keys=0 with no keys and not truncated', async () => {
      for (const res of [
        await s.client.send(new ListObjectsV2Command({ Bucket: bucket.name, MaxKeys: 0 })),
        await s.client.send(new ListObjectsCommand({ Bucket: bucket.name, MaxKeys: 0 })),
      ]) {
        expect(res.IsTruncated).toBe(false);
        expect(keysOf(res)).toEqual([]);
      }
    });

    s.it('echoes a marker and a start-after that are control characters', async () => {
      // Read off the wire: the SDK's XML parser trims whitespace-only text, botocore's does not.
      for (const [query, element] of [
        [{ marker: '\n' }, 'Marker'],
        [{ 'list-type': '2', 'start-after': '\n' }, 'StartAfter'],
      ] as const) {
        const res = await sendSigned(s.target, { method: 'GET', path: `/${bucket.name}`, query });
        expect(res.status).toBe(200);
        expect(res.body).toMatch(new RegExp(`<${element}>(\n|&#10;|&#xA;)</${element}>`));
        expect([...res.body.matchAll(/<Key>([^<]*)<\/Key>/g)].map((m) => m[1])).toEqual(KEYS);
      }
    });
  });

  s.describe('HTTP edges', () => {
    for (const expectation of ['', '200']) {
      s.it(`serves a PUT that carries Expect: "${expectation}" (S3 ignores it)`, async () => {
        const res = await sendSigned(s.target, {
          method: 'PUT',
          path: `/${bucket.name}/expect-${expectation || 'empty'}`,
          body: 'bar',
          headers: { expect: expectation },
        });
        expect(res.status, res.body).toBe(200);
      });
    }

    for (const [what, path, query, body] of [
      ['a PutObject body', 'chunked', {}, 'chunked body'],
      [
        'a tagging document',
        'foo',
        { tagging: '' },
        '<Tagging><TagSet><Tag><Key>k</Key><Value>v</Value></Tag></TagSet></Tagging>',
      ],
    ] as const) {
      s.it(`refuses ${what} sent with Transfer-Encoding: chunked with 501 NotImplemented`, async () => {
        const res = await sendSigned(s.target, {
          method: 'PUT',
          path: `/${bucket.name}/${path}`,
          query,
          body,
          chunked: true,
        });
        expect(res.status).toBe(501);
        expect(errorCodeOf(res.body)).toBe('NotImplemented');
        if (!s.deviates('errorDetails')) expect(res.body).toContain('<Header>Transfer-Encoding</Header>');
      });
    }
  });
}
