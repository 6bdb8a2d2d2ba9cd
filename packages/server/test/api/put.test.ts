import { type Image, originalKey, type PostUpload } from '@darkroom/contract';
// Presigned PUT uploads: the URL the API returns binds key, type, exact length, checksum and expiry,
// and storage refuses anything else before storing a byte. Also the PUT "complete" fallback.

import { bytes } from '@darkroom/s3-server/test-support';
import { describe, expect, it } from 'vitest';
import {
  apiError,
  DATABASES,
  headObject,
  newOwner,
  postTo,
  putIntent,
  putTo,
  s3Code,
  sha256,
  sleep,
  tagsOf,
  useApi,
} from './support.ts';

describe.each(DATABASES)('presigned PUT (%s)', (kind) => {
  const api = useApi(kind);

  it('returns a URL for uploads/{id}, the headers to send and an expiry; the exact bytes go through', async () => {
    const owner = newOwner();
    const body = bytes(5000, 3);
    const before = Date.now();
    const { id, upload } = await putIntent(api(), owner, body.length);
    expect(upload.method).toBe('put');
    // Content-Type is all a client has to send (the contract's PUT needs no other header).
    expect(upload.headers).toEqual({ 'Content-Type': 'image/jpeg' });
    const url = new URL(upload.url);
    expect(url.pathname).toBe(`/${api().config.s3.bucket}/${originalKey(id)}`);
    const signedHeaders = url.searchParams.get('X-Amz-SignedHeaders')?.split(';') ?? [];
    expect(signedHeaders.sort()).toEqual(['content-length', 'content-type', 'host']);
    // Default TTL: 600 s.
    const expires = Date.parse(upload.expiresAt);
    expect(expires - before).toBeGreaterThanOrEqual(599_000);
    expect(expires - Date.now()).toBeLessThanOrEqual(600_000);

    const res = await putTo(upload, body);
    expect(res.status).toBe(200);
    expect(await headObject(api(), originalKey(id))).toEqual({ status: 200, size: body.length });
    // Untagged: only a worker that fails the image tags a PUT original for the lifecycle rule.
    expect(await tagsOf(api(), originalKey(id))).toEqual([]);
  });

  it('never puts the filename in the key', async () => {
    const { id, upload } = await putIntent(api(), newOwner(), 10, { filename: '../../etc/passwd.jpg' });
    const url = new URL(upload.url);
    expect(url.pathname).toBe(`/${api().config.s3.bucket}/uploads/${id}`);
    expect(decodeURIComponent(upload.url)).not.toContain('passwd');
    expect(decodeURIComponent(upload.url)).not.toContain('..');
  });

  it('refuses another Content-Type (403), storing nothing', async () => {
    const body = bytes(100);
    const { id, upload } = await putIntent(api(), newOwner(), body.length);
    const res = await putTo(upload, body, { 'Content-Type': 'image/png' });
    expect(res.status).toBe(403);
    expect(await s3Code(res)).toBe('SignatureDoesNotMatch');
    expect((await headObject(api(), originalKey(id))).status).toBe(404);
  });

  it('refuses one byte more than declared (403), storing nothing', async () => {
    const body = bytes(100);
    const { id, upload } = await putIntent(api(), newOwner(), body.length);
    const res = await putTo(upload, bytes(101));
    expect(res.status).toBe(403);
    expect((await headObject(api(), originalKey(id))).status).toBe(404);
  });

  it('refuses one byte less than declared (403), storing nothing', async () => {
    const body = bytes(100);
    const { id, upload } = await putIntent(api(), newOwner(), body.length);
    const res = await putTo(upload, body.subarray(0, 99));
    expect(res.status).toBe(403);
    expect((await headObject(api(), originalKey(id))).status).toBe(404);
  });

  it("cannot be bent to write another image's key (403), storing nothing", async () => {
    const owner = newOwner();
    const body = bytes(100);
    const victim = await putIntent(api(), owner, body.length);
    const other = await putIntent(api(), owner, body.length);
    const tampered = new URL(other.upload.url);
    tampered.pathname = `/${api().config.s3.bucket}/${originalKey(victim.id)}`;
    const res = await putTo({ ...other.upload, url: tampered.toString() }, body);
    expect(res.status).toBe(403);
    expect(await s3Code(res)).toBe('SignatureDoesNotMatch');
    expect((await headObject(api(), originalKey(victim.id))).status).toBe(404);
    // A key outside uploads/ is refused just the same.
    tampered.pathname = `/${api().config.s3.bucket}/variants/${victim.id}/large.webp`;
    expect((await putTo({ ...other.upload, url: tampered.toString() }, body)).status).toBe(403);
    expect((await headObject(api(), `variants/${victim.id}/large.webp`)).status).toBe(404);
  });

  for (const encoding of ['hex', 'base64'] as const) {
    it(`binds a sha256 given in ${encoding}: other bytes of the right length get 400 BadDigest, the right ones 200`, async () => {
      const body = bytes(2048, 11);
      const { id, upload } = await putIntent(api(), newOwner(), body.length, {
        sha256: sha256(body, encoding),
      });
      const wrong = Buffer.from(body);
      wrong[1000] = (wrong[1000]! + 1) & 0xff;
      const bad = await putTo(upload, wrong);
      expect(bad.status).toBe(400);
      expect(await s3Code(bad)).toBe('BadDigest');
      expect((await headObject(api(), originalKey(id))).status).toBe(404);

      const ok = await putTo(upload, body);
      expect(ok.status).toBe(200);
      expect(await headObject(api(), originalKey(id))).toEqual({ status: 200, size: body.length });
    });
  }

  it('completes a PUT upload: 409 upload_incomplete before the bytes, 200 uploaded after, idempotently', async () => {
    const owner = newOwner();
    const body = bytes(777, 5);
    const { id, upload } = await putIntent(api(), owner, body.length, {
      thumbhash: 'YJqGPQw7sFlslqhFafSE+Q6oJ1h2iHB2Rw',
    });

    const early = await api().call('POST', `/v1/uploads/${id}/complete`, { as: owner });
    expect(early.status).toBe(409);
    expect(apiError(early).code).toBe('upload_incomplete');
    expect((await api().call('GET', `/v1/images/${id}`, { as: owner })).json.status).toBe('pending');

    expect((await putTo(upload, body)).status).toBe(200);
    const first = await api().call('POST', `/v1/uploads/${id}/complete`, { as: owner });
    expect(first.status).toBe(200);
    const image = first.json as unknown as Image;
    expect(image).toMatchObject({ id, status: 'uploaded', bytes: body.length, contentType: 'image/jpeg' });

    const second = await api().call('POST', `/v1/uploads/${id}/complete`, { as: owner });
    expect(second.status).toBe(200);
    expect(second.json).toEqual(first.json);
    expect((await api().call('GET', `/v1/images/${id}`, { as: owner })).json).toEqual(first.json);
  });

  it('refuses to abort an upload that already reached storage and was completed (409)', async () => {
    const owner = newOwner();
    const body = bytes(10);
    const { id, upload } = await putIntent(api(), owner, body.length);
    expect((await putTo(upload, body)).status).toBe(200);
    expect((await api().call('POST', `/v1/uploads/${id}/complete`, { as: owner })).status).toBe(200);
    const abort = await api().call('DELETE', `/v1/uploads/${id}`, { as: owner });
    expect(abort.status).toBe(409);
    expect(apiError(abort).code).toBe('conflict');
    expect((await headObject(api(), originalKey(id))).status).toBe(200);
  });

  it('aborts a pending PUT upload: the record and any stored bytes are gone', async () => {
    const owner = newOwner();
    const body = bytes(10);
    const { id, upload } = await putIntent(api(), owner, body.length);
    expect((await putTo(upload, body)).status).toBe(200);
    const abort = await api().call('DELETE', `/v1/uploads/${id}`, { as: owner });
    expect(abort.status).toBe(204);
    expect((await api().call('GET', `/v1/images/${id}`, { as: owner })).status).toBe(404);
    expect((await headObject(api(), originalKey(id))).status).toBe(404);
  });
});

describe.each(DATABASES)('presigned URL expiry (%s)', (kind) => {
  const api = useApi(kind, { DARKROOM_PRESIGN_TTL_SECONDS: '1' });

  it('refuses PUT and POST URLs once DARKROOM_PRESIGN_TTL_SECONDS has passed (403), storing nothing', async () => {
    const owner = newOwner();
    const body = bytes(100);
    const before = Date.now();
    const put = await putIntent(api(), owner, body.length);
    expect(Date.parse(put.upload.expiresAt) - before).toBeLessThan(3_000);
    const post = await api().call('POST', '/v1/uploads', {
      as: owner,
      body: { filename: 'a.jpg', contentType: 'image/jpeg', size: body.length, method: 'post' },
    });
    expect(post.status).toBe(201);
    const postId = (post.json.image as { id: string }).id;
    const postUpload = post.json.upload as PostUpload;

    await sleep(2100);

    const res = await putTo(put.upload, body);
    expect(res.status).toBe(403);
    expect(await res.text()).toContain('Request has expired');
    expect((await headObject(api(), originalKey(put.id))).status).toBe(404);

    const posted = await postTo(postUpload, body);
    expect(posted.status).toBe(403);
    expect(await posted.text()).toContain('Policy expired');
    expect((await headObject(api(), originalKey(postId))).status).toBe(404);
  });
});
