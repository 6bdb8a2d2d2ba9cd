import {
  HeadObjectCommand,
  ListObjectsCommand,
  ListObjectsV2Command,
  PutObjectCommand,
} from '@aws-sdk/client-s3';
import { beforeAll, expect } from 'vitest';
import type { SuiteContext } from './suite.ts';

/** ListObjectsV2: prefixes, delimiters, paging. */
export function listingSuite(s: SuiteContext): void {
  s.describe('ListObjectsV2', () => {
    const bucket = s.bucket('listing');
    const keys = [
      'list/a.jpg',
      'list/b/1.jpg',
      'list/b/2.jpg',
      'list/c.jpg',
      'list/d/x/y.jpg',
      'list/e.jpg',
      'listless',
    ];
    beforeAll(async () => {
      for (const Key of keys)
        await s.client.send(new PutObjectCommand({ Bucket: bucket.name, Key, Body: Key }));
    });

    s.it('filters by prefix and groups by delimiter', async () => {
      const res = await s.client.send(
        new ListObjectsV2Command({ Bucket: bucket.name, Prefix: 'list/', Delimiter: '/' }),
      );
      expect(res.Contents?.map((c) => c.Key)).toEqual(['list/a.jpg', 'list/c.jpg', 'list/e.jpg']);
      expect(res.CommonPrefixes?.map((p) => p.Prefix)).toEqual(['list/b/', 'list/d/']);
      expect(res.KeyCount).toBe(5);
      expect(res.IsTruncated).toBe(false);
    });

    s.it('pages with max-keys and continuation tokens, each key once', async () => {
      const seen: string[] = [];
      let token: string | undefined;
      let pages = 0;
      do {
        const res = await s.client.send(
          new ListObjectsV2Command({
            Bucket: bucket.name,
            Prefix: 'list/',
            Delimiter: '/',
            MaxKeys: 2,
            ContinuationToken: token,
          }),
        );
        seen.push(
          ...(res.Contents ?? []).map((c) => c.Key!),
          ...(res.CommonPrefixes ?? []).map((p) => p.Prefix!),
        );
        token = res.NextContinuationToken;
        expect(res.IsTruncated).toBe(token !== undefined);
        pages++;
      } while (token);
      expect(pages).toBe(3);
      expect(seen).toEqual(['list/a.jpg', 'list/b/', 'list/c.jpg', 'list/d/', 'list/e.jpg']);
    });

    s.it('starts after a key and lists everything without a delimiter', async () => {
      const res = await s.client.send(
        new ListObjectsV2Command({ Bucket: bucket.name, Prefix: 'list', StartAfter: 'list/c.jpg' }),
      );
      expect(res.Contents?.map((c) => c.Key)).toEqual(['list/d/x/y.jpg', 'list/e.jpg', 'listless']);
    });

    s.it(
      'ListObjects (V1) with a delimiter: NextMarker names the last key or prefix, and paging by it skips that prefix',
      async () => {
        const page = (Marker: string | undefined, MaxKeys: number) =>
          s.client.send(
            new ListObjectsCommand({ Bucket: bucket.name, Prefix: 'list/', Delimiter: '/', Marker, MaxKeys }),
          );
        const seen: string[] = [];
        const markers: (string | undefined)[] = [];
        let marker: string | undefined;
        for (;;) {
          const res = await page(marker, 1);
          seen.push(
            ...(res.Contents ?? []).map((c) => c.Key!),
            ...(res.CommonPrefixes ?? []).map((p) => p.Prefix!),
          );
          markers.push(res.NextMarker);
          if (!res.IsTruncated) break;
          marker = res.NextMarker;
        }
        expect(seen).toEqual(['list/a.jpg', 'list/b/', 'list/c.jpg', 'list/d/', 'list/e.jpg']);
        expect(markers).toEqual(['list/a.jpg', 'list/b/', 'list/c.jpg', 'list/d/', undefined]);
      },
    );

    s.it('gives each key the LastModified of its Last-Modified header (whole seconds)', async () => {
      const res = await s.client.send(new ListObjectsV2Command({ Bucket: bucket.name, Prefix: 'list/a' }));
      const head = await s.client.send(new HeadObjectCommand({ Bucket: bucket.name, Key: 'list/a.jpg' }));
      expect(res.Contents?.[0]?.LastModified?.toISOString()).toBe(head.LastModified?.toISOString());
    });
  });
}
