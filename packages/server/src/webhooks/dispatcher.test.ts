import { describe, expect, it } from 'vitest';
import { newImageRow } from '../db/images.ts';
import { retryDelay, webhookPayload } from './dispatcher.ts';

describe('retryDelay', () => {
  it('doubles from the base, with jitter between half and all of it, up to the cap', () => {
    const low = () => 0;
    const high = () => 1;
    expect([1, 2, 3, 4].map((n) => retryDelay(n, 5000, 3_600_000, high))).toEqual([
      5000, 10000, 20000, 40000,
    ]);
    expect([1, 2, 3, 4].map((n) => retryDelay(n, 5000, 3_600_000, low))).toEqual([2500, 5000, 10000, 20000]);
    expect(retryDelay(11, 5000, 3_600_000, high)).toBe(3_600_000);
    expect(retryDelay(1000, 5000, 3_600_000, high)).toBe(3_600_000);
    expect(retryDelay(1000, 5000, 3_600_000, low)).toBe(1_800_000);
  });
});

describe('webhookPayload', () => {
  const row = newImageRow(
    {
      id: 'img_1',
      owner: 'alice',
      status: 'ready',
      filename: 'a.jpg',
      content_type: 'image/jpeg',
      declared_bytes: 10,
      bytes: 9,
      upload_method: 'put',
      width: 4,
      height: 3,
      format: 'jpeg',
      variants: JSON.stringify({
        thumb: { key: 'k', width: 2, height: 1, bytes: 5, contentType: 'image/webp' },
      }),
      updated_at: 1000,
    },
    0,
  );

  it('carries the image JSON and its owner for ready', () => {
    const p = webhookPayload(
      { owner: 'alice', image_id: 'img_1', status: 'ready', created_at: 1000 },
      row,
      'https://cdn.example',
    );
    expect(p.type).toBe('image.ready');
    expect(p.timestamp).toBe('1970-01-01T00:00:01.000Z');
    expect(p.data).toMatchObject({ id: 'img_1', owner: 'alice', status: 'ready', width: 4 });
    expect(p.data).toHaveProperty('variants.thumb.url', 'https://cdn.example/img/img_1/thumb');
  });

  it('carries only id, owner and status for deleted images', () => {
    const e = { owner: 'alice', image_id: 'img_1', created_at: 0 };
    expect(webhookPayload({ ...e, status: 'deleted' }, row, 'x').data).toEqual({
      id: 'img_1',
      owner: 'alice',
      status: 'deleted',
    });
    expect(webhookPayload({ ...e, status: 'failed' }, undefined, 'x')).toEqual({
      type: 'image.failed',
      timestamp: '1970-01-01T00:00:00.000Z',
      data: { id: 'img_1', owner: 'alice', status: 'failed' },
    });
  });
});
