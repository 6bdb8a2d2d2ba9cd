import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestStack, TESTDATA, type TestStack } from '../helpers/stack.ts';

// The variant URLs the API hands out, served by Darkroom's own delivery route (the CDN's origin).
let stack: TestStack;
let id: string;
let thumbUrl: string;

beforeAll(async () => {
  stack = await startTestStack();
  id = await stack.upload('kim', path.join(TESTDATA, 'orientation/Landscape_5.jpg'), 'image/jpeg');
  const image = await stack.waitSettled('kim', id);
  thumbUrl = (image.variants as Record<string, { url: string }>).thumb!.url;
}, 60_000);
afterAll(() => stack.stop());

describe('GET /img/{id}/{variant}', () => {
  it('serves the variant with an immutable cache policy and a strong ETag', async () => {
    const res = await fetch(thumbUrl, { headers: { accept: 'image/webp,*/*' } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('image/webp');
    expect(res.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    expect(res.headers.get('etag')).toMatch(/^"[0-9a-f]{32}"$/);
    expect(res.headers.get('last-modified')).toBeTruthy();
    const bytes = Buffer.from(await res.arrayBuffer());
    expect(Number(res.headers.get('content-length'))).toBe(bytes.length);
    expect(await sharp(bytes).metadata()).toMatchObject({ width: 320, height: 240, format: 'webp' });
  });

  it('answers conditional, range and HEAD requests', async () => {
    const full = await fetch(thumbUrl);
    const etag = full.headers.get('etag')!;
    const size = Number(full.headers.get('content-length'));
    const notModified = await fetch(thumbUrl, { headers: { 'if-none-match': etag } });
    expect(notModified.status).toBe(304);
    expect(notModified.headers.get('cache-control')).toContain('immutable');
    const part = await fetch(thumbUrl, { headers: { range: 'bytes=0-99' } });
    expect(part.status).toBe(206);
    expect(part.headers.get('content-range')).toBe(`bytes 0-99/${size}`);
    expect((await part.arrayBuffer()).byteLength).toBe(100);
    const beyond = await fetch(thumbUrl, { headers: { range: `bytes=${size}-` } });
    expect(beyond.status).toBe(416);
    expect(beyond.headers.get('content-range')).toBe(`bytes */${size}`);
    expect(((await beyond.json()) as { error: { code: string } }).error.code).toBe('range_not_satisfiable');
    expect(beyond.headers.get('cache-control')).toBe('private, max-age=60');
    const head = await fetch(thumbUrl, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(Number(head.headers.get('content-length'))).toBe(size);
  });

  it('never puts an immutable header on a miss or a not-ready image', async () => {
    const unknownVariant = await fetch(`${stack.api}/img/${id}/huge`);
    const unknownImage = await fetch(`${stack.api}/img/00000000-0000-4000-8000-000000000000/thumb`);
    const intent = await stack.call('POST', '/v1/uploads', {
      as: 'kim',
      body: { filename: 'later.jpg', contentType: 'image/jpeg', size: 10 },
    });
    const pending = await fetch(`${stack.api}/img/${(intent.json.image as { id: string }).id}/thumb`);
    for (const res of [unknownVariant, unknownImage, pending]) {
      expect(res.status).toBe(404);
      expect(res.headers.get('cache-control')).toBe('private, max-age=60');
    }
    const metrics = await (await fetch(`${stack.api}/metrics`)).text();
    expect(metrics).toMatch(/darkroom_delivery_bytes_total [1-9]/);
    expect(metrics).toMatch(/darkroom_delivery_responses_total\{status="304"\} [1-9]/);
  });
});
