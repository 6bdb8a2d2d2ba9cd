import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { getSignedUrl } from '@aws-sdk/cloudfront-signer';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signTransformPath } from '../../src/delivery/transform-signature.ts';
import { startTestStack, TESTDATA, type TestStack } from '../helpers/stack.ts';

// Private images over HTTP: the API hands out CloudFront canned-policy URLs, the origin verifies them.

const PHOTO = path.join(TESTDATA, 'orientation/Landscape_3.jpg');
const TTL = 600;

type Variants = Record<string, { url: string }>;

/** Uploads PHOTO with the given visibility through the presigned PUT; returns the image id. */
async function upload(stack: TestStack, as: string, visibility: 'public' | 'private'): Promise<string> {
  const bytes = fs.readFileSync(PHOTO);
  const intent = await stack.call('POST', '/v1/uploads', {
    as,
    body: { filename: 'secret.jpg', contentType: 'image/jpeg', size: bytes.length, visibility },
  });
  expect(intent.status).toBe(201);
  const { image, upload } = intent.json as {
    image: { id: string };
    upload: { url: string; headers: Record<string, string> };
  };
  const put = await fetch(upload.url, {
    method: 'PUT',
    body: new Uint8Array(bytes),
    headers: upload.headers,
  });
  expect(put.status).toBe(200);
  return image.id;
}

/** The origin URL for the path and query of `url` (which may name the CDN host). */
const atOrigin = (stack: TestStack, url: string) => {
  const u = new URL(url);
  return `${stack.api}${u.pathname}${u.search}`;
};

/** Asserts a 403 with the given code that no cache may keep. */
async function expectRefused(res: Response, code: 'bad_signature' | 'url_expired') {
  const body = (await res.json()) as { error: { code: string; message: string } };
  expect({ status: res.status, code: body.error.code }).toEqual({ status: 403, code });
  expect(res.headers.get('cache-control')).toBe('private, no-store');
}

/** Replaces one query parameter of a signed URL, keeping the rest byte for byte. */
const withParam = (url: string, name: string, value: string) =>
  url.replace(new RegExp(`([?&]${name}=)[^&]*`), `$1${value}`);

describe('private images with the development key pair', () => {
  let stack: TestStack;
  let id: string;
  let signed: string;

  beforeAll(async () => {
    stack = await startTestStack({ DARKROOM_SIGNED_URL_TTL_SECONDS: String(TTL) });
    id = await upload(stack, 'pat', 'private');
    const image = await stack.waitSettled('pat', id);
    expect(image).toMatchObject({ status: 'ready', visibility: 'private' });
    signed = (image.variants as Variants).thumb!.url;
  }, 60_000);
  afterAll(() => stack.stop());

  it('keeps the development key in the data dir, readable by its owner only', () => {
    const keyFile = path.join(stack.config.dataDir, 'keys', 'cloudfront-dev.pem');
    expect(fs.statSync(keyFile).mode & 0o777).toBe(0o600);
    expect(new URL(signed).searchParams.get('Key-Pair-Id')).toBe('darkroom-dev');
  });

  it('refuses the unsigned URL with 403, never cacheable', async () => {
    const unsigned = signed.split('?')[0]!;
    expect(unsigned).toBe(`${stack.api}/private/${id}/thumb`);
    await expectRefused(await fetch(unsigned), 'bad_signature');
    const head = await fetch(unsigned, { method: 'HEAD' });
    expect(head.status).toBe(403);
    expect(head.headers.get('cache-control')).toBe('private, no-store');
  });

  it('serves the signed URL with a private cache lifetime no longer than the URL lives', async () => {
    const res = await fetch(signed, { headers: { accept: 'image/webp,*/*' } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('image/webp');
    const cacheControl = res.headers.get('cache-control')!;
    expect(cacheControl).toMatch(/^private, max-age=\d+$/);
    const maxAge = Number(/max-age=(\d+)/.exec(cacheControl)![1]);
    const expires = Number(new URL(signed).searchParams.get('Expires'));
    expect(maxAge).toBeGreaterThanOrEqual(TTL - 5);
    expect(maxAge).toBeLessThanOrEqual(expires - Math.floor(Date.now() / 1000) + 1);
    expect(await sharp(Buffer.from(await res.arrayBuffer())).metadata()).toMatchObject({ format: 'webp' });

    // Conditional and range answers to a private URL stay private too.
    const etag = res.headers.get('etag')!;
    const notModified = await fetch(signed, { headers: { accept: 'image/webp', 'if-none-match': etag } });
    expect(notModified.status).toBe(304);
    expect(notModified.headers.get('cache-control')).toMatch(/^private, max-age=\d+$/);
    const part = await fetch(signed, { headers: { range: 'bytes=0-9' } });
    expect(part.status).toBe(206);
    expect(part.headers.get('cache-control')).toMatch(/^private, max-age=\d+$/);
  });

  it('keeps the private path out of CORS and gives it the media CSP, like /img', async () => {
    const origin = stack.config.corsOrigins[0]!;
    const res = await fetch(signed, { headers: { origin, accept: 'image/webp' } });
    expect(res.status).toBe(200);
    expect(res.headers.get('access-control-allow-origin')).toBeNull();
    const pub = await fetch(`${stack.api}/v1/images`, { headers: { origin } });
    expect(res.headers.get('content-security-policy')).not.toBe(pub.headers.get('content-security-policy'));
  });

  it('lists images with signed URLs too', async () => {
    const list = await stack.call('GET', '/v1/images', { as: 'pat' });
    const listed = (list.json.images as { id: string; variants: Variants }[]).find((i) => i.id === id)!;
    expect((await fetch(listed.variants.thumb!.url)).status).toBe(200);
  });

  it('refuses an altered Signature, Expires, Key-Pair-Id or path with bad_signature', async () => {
    const sig = new URL(signed).searchParams.get('Signature')!;
    const flipped = `${sig.slice(0, 20)}${sig[20] === 'A' ? 'B' : 'A'}${sig.slice(21)}`;
    const expires = Number(new URL(signed).searchParams.get('Expires'));
    const variants = Object.keys(
      (await stack.call('GET', `/v1/images/${id}`, { as: 'pat' })).json.variants as Variants,
    );
    const other = variants.find((v) => v !== 'thumb')!;
    const altered = [
      withParam(signed, 'Signature', flipped),
      withParam(signed, 'Expires', String(expires + 86_400)),
      withParam(signed, 'Key-Pair-Id', 'K2JCJMDEHXQW5F'),
      signed.replace('/thumb?', `/${other}?`),
      `${signed}&w=4000`,
    ];
    for (const url of altered) await expectRefused(await fetch(url), 'bad_signature');
  });

  it('refuses an expired URL with url_expired', async () => {
    const privateKey = fs.readFileSync(path.join(stack.config.dataDir, 'keys', 'cloudfront-dev.pem'), 'utf8');
    const expired = getSignedUrl({
      url: `${stack.api}/private/${id}/thumb`,
      keyPairId: 'darkroom-dev',
      privateKey,
      dateLessThan: new Date(Date.now() - 60_000).toISOString(),
    });
    await expectRefused(await fetch(expired), 'url_expired');
  });

  it('refuses a URL signed for another image', async () => {
    const privateKey = fs.readFileSync(path.join(stack.config.dataDir, 'keys', 'cloudfront-dev.pem'), 'utf8');
    const forOther = getSignedUrl({
      url: `${stack.api}/private/${crypto.randomUUID()}/thumb`,
      keyPairId: 'darkroom-dev',
      privateKey,
      dateLessThan: new Date(Date.now() + 600_000).toISOString(),
    });
    // The other image's valid signature, presented for this image.
    const borrowed = `${stack.api}/private/${id}/thumb?${forOther.split('?')[1]}`;
    await expectRefused(await fetch(borrowed), 'bad_signature');
    // Sanity: the same signing, for this image, works (so the refusal above is about the image).
    const own = getSignedUrl({
      url: `${stack.api}/private/${id}/thumb`,
      keyPairId: 'darkroom-dev',
      privateKey,
      dateLessThan: new Date(Date.now() + 600_000).toISOString(),
    });
    expect((await fetch(own)).status).toBe(200);
  });

  it('refuses an unsigned request for a private image that is not ready yet, without saying so', async () => {
    const intent = await stack.call('POST', '/v1/uploads', {
      as: 'pat',
      body: { filename: 'later.jpg', contentType: 'image/jpeg', size: 10, visibility: 'private' },
    });
    const pendingId = (intent.json.image as { id: string }).id;
    await expectRefused(await fetch(`${stack.api}/img/${pendingId}/thumb`), 'bad_signature');
  });

  it('serves a transform of a private image only with both the transform and the CloudFront signature', async () => {
    const privateKey = fs.readFileSync(path.join(stack.config.dataDir, 'keys', 'cloudfront-dev.pem'), 'utf8');
    const secret = stack.config.delivery.transformSecret;
    const transform = `${stack.api}${signTransformPath(secret, id, 'w_100').replace('/img/', '/private/')}`;
    const sign = (url: string) =>
      getSignedUrl({
        url,
        keyPairId: 'darkroom-dev',
        privateKey,
        dateLessThan: new Date(Date.now() + 600_000).toISOString(),
      });
    const res = await fetch(sign(transform));
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toMatch(/^private, max-age=\d+$/);
    expect((await sharp(Buffer.from(await res.arrayBuffer())).metadata()).width).toBe(100);
    await expectRefused(await fetch(transform), 'bad_signature');
    // The CloudFront signature covers the transform options and their sig too.
    const otherTransform = `${stack.api}${signTransformPath(secret, id, 'w_120').replace('/img/', '/private/')}`;
    const borrowed = `${otherTransform}&${sign(transform).split('?sig=')[1]!.split('&').slice(1).join('&')}`;
    await expectRefused(await fetch(borrowed), 'bad_signature');
  });

  it('answers 404 on the signed URL once the image is deleted', async () => {
    expect((await stack.call('DELETE', `/v1/images/${id}`, { as: 'pat' })).status).toBe(204);
    const gone = await fetch(signed);
    expect(gone.status).toBe(404);
    expect(gone.headers.get('cache-control')).toBe('private, max-age=60');
  });
});

describe('private images with a configured CloudFront key pair behind a CDN base URL', () => {
  const { privateKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
  const privatePem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const KEY_PAIR_ID = 'K3D5EWEUDCCXON';
  const CDN = 'https://cdn.darkroom.test';
  let stack: TestStack;
  let id: string;
  let signed: string;

  beforeAll(async () => {
    stack = await startTestStack({
      DARKROOM_CLOUDFRONT_KEY_PAIR_ID: KEY_PAIR_ID,
      DARKROOM_CLOUDFRONT_PRIVATE_KEY: privatePem,
      DARKROOM_CDN_BASE_URL: CDN,
    });
    id = await upload(stack, 'lee', 'private');
    const image = await stack.waitSettled('lee', id);
    signed = (image.variants as Variants).thumb!.url;
  }, 60_000);
  afterAll(() => stack.stop());

  it('signs with the configured key pair and makes no development key', () => {
    expect(signed.startsWith(`${CDN}/private/${id}/thumb?`)).toBe(true);
    expect(new URL(signed).searchParams.get('Key-Pair-Id')).toBe(KEY_PAIR_ID);
    expect(fs.existsSync(path.join(stack.config.dataDir, 'keys'))).toBe(false);
  });

  it('verifies the CDN URL at the origin: the Resource comes from the configured base, not the Host header', async () => {
    // What a CDN forwards: the same path and query, to the origin's own host.
    const res = await fetch(atOrigin(stack, signed));
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toMatch(/^private, max-age=\d+$/);
  });

  it('accepts a URL made by @aws-sdk/cloudfront-signer with the same key, as CloudFront would', async () => {
    const url = getSignedUrl({
      url: `${CDN}/private/${id}/thumb`,
      keyPairId: KEY_PAIR_ID,
      privateKey: privatePem,
      dateLessThan: new Date(Date.now() + 120_000).toISOString(),
    });
    expect((await fetch(atOrigin(stack, url))).status).toBe(200);
    // Signed for the origin's host instead of the CDN's, it names another Resource.
    const forOriginHost = getSignedUrl({
      url: `${stack.api}/private/${id}/thumb`,
      keyPairId: KEY_PAIR_ID,
      privateKey: privatePem,
      dateLessThan: new Date(Date.now() + 120_000).toISOString(),
    });
    await expectRefused(await fetch(forOriginHost), 'bad_signature');
  });
});
