import crypto from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../config.ts';
import { newImageRow } from '../db/images.ts';
import { SignedUrls } from '../delivery/signed-urls.ts';
import { toImageView } from './image-view.ts';
import { deliveryBase } from './uploads.ts';

const row = newImageRow(
  {
    id: '0b6f3c1e-8f5a-4c1b-9d2e-3a4b5c6d7e8f',
    owner: 'alice',
    status: 'ready',
    filename: 'a.jpg',
    content_type: 'image/jpeg',
    declared_bytes: 10,
    bytes: 9,
    client_thumbhash: 'client',
    upload_method: 'put',
    etag: 'e',
    width: 600,
    height: 450,
    format: 'jpeg',
    dominant_color: '#102030',
    variants: JSON.stringify({
      thumb: { key: 'variants/x/thumb.webp', width: 320, height: 240, bytes: 5, contentType: 'image/webp' },
    }),
    updated_at: 1000,
  },
  0,
);

describe('image JSON', () => {
  it('points variant URLs at DARKROOM_CDN_BASE_URL when set, else at the public base URL', () => {
    const cdn = loadConfig({ DARKROOM_CDN_BASE_URL: 'https://cdn.example.com/' });
    expect(toImageView(row, deliveryBase(cdn), undefined).variants.thumb!.url).toBe(
      `https://cdn.example.com/img/${row.id}/thumb`,
    );
    const plain = loadConfig({ DARKROOM_PUBLIC_BASE_URL: 'https://photos.example.com' });
    expect(toImageView(row, deliveryBase(plain), undefined).variants.thumb!.url).toBe(
      `https://photos.example.com/img/${row.id}/thumb`,
    );
  });

  it('shows the client thumbhash until the worker has one, and real bytes over declared ones', () => {
    const view = toImageView(row, 'http://x', undefined);
    expect(view).toMatchObject({ thumbhash: 'client', bytes: 9, createdAt: '1970-01-01T00:00:00.000Z' });
    expect(view.error).toBeUndefined();
    expect(
      toImageView(
        { ...row, status: 'failed', error_code: 'corrupt_image', error_message: 'bad' },
        'x',
        undefined,
      ).error,
    ).toEqual({
      code: 'corrupt_image',
      message: 'bad',
    });
  });

  it('signs variant URLs of private images only, in CloudFront canned-policy form, for the configured TTL', () => {
    const { privateKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
    const config = loadConfig({
      DARKROOM_CDN_BASE_URL: 'https://cdn.example.com',
      DARKROOM_CLOUDFRONT_KEY_PAIR_ID: 'KTEST',
      DARKROOM_CLOUDFRONT_PRIVATE_KEY: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
      DARKROOM_SIGNED_URL_TTL_SECONDS: '600',
    });
    const now = Date.UTC(2026, 0, 1, 0, 0, 30);
    const urls = new SignedUrls(
      config.delivery.cloudfront!,
      deliveryBase(config),
      config.delivery.signedUrlTtlSeconds,
      () => now,
    );
    expect(toImageView(row, deliveryBase(config), urls).variants.thumb!.url).toBe(
      `https://cdn.example.com/img/${row.id}/thumb`,
    );
    const url = new URL(
      toImageView({ ...row, visibility: 'private' }, deliveryBase(config), urls).variants.thumb!.url,
    );
    // Under the private path, which only the CDN's signed-URL behaviour serves.
    expect(`${url.origin}${url.pathname}`).toBe(`https://cdn.example.com/private/${row.id}/thumb`);
    expect(url.searchParams.get('Key-Pair-Id')).toBe('KTEST');
    const lifetime = Number(url.searchParams.get('Expires')) - now / 1000;
    expect(lifetime).toBeGreaterThanOrEqual(600);
    expect(lifetime).toBeLessThanOrEqual(660);
    expect(urls.verify(`${url.pathname}${url.search}`)).toMatchObject({ ok: true });
    // No signer (webhooks): the URL stays unsigned, which the origin refuses for a private image.
    expect(
      toImageView({ ...row, visibility: 'private' }, deliveryBase(config), undefined).variants.thumb!.url,
    ).toBe(`https://cdn.example.com/private/${row.id}/thumb`);
    expect(
      toImageView({ ...row, visibility: 'private' }, deliveryBase(config), undefined, '/p').variants.thumb!
        .url,
    ).toBe(`https://cdn.example.com/p/${row.id}/thumb`);
  });
});
