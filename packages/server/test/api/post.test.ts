import { type Image, originalKey, type PostUpload } from '@darkroom/contract';
// Presigned POST forms: the policy pins the key, the Content-Type and a length range of 1..size.

import { createHash } from 'node:crypto';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import { bodyBytes, bytes } from '@darkroom/s3-server/test-support';
import { describe, expect, it } from 'vitest';
import {
  createIntent,
  DATABASES,
  headObject,
  intentBody,
  newOwner,
  postTo,
  s3Code,
  storageClient,
  tagsOf,
  useApi,
} from './support.ts';

describe.each(DATABASES)('presigned POST (%s)', (kind) => {
  const api = useApi(kind);

  const postIntent = (owner: string, size: number, overrides = {}) =>
    createIntent<PostUpload>(api(), owner, intentBody(size, { method: 'post', ...overrides }));

  it('returns a URL and fields for uploads/{id}; the form with the file last is stored (204)', async () => {
    const owner = newOwner();
    const file = bytes(3000, 9);
    const { id, upload } = await postIntent(owner, file.length, { filename: '../../etc/passwd.jpg' });
    expect(upload.method).toBe('post');
    expect(typeof upload.url).toBe('string');
    expect(upload.fields.key).toBe(originalKey(id));
    expect(upload.fields['Content-Type']).toBe('image/jpeg');
    expect(upload.fields.tagging).toBe(
      '<Tagging><TagSet><Tag><Key>darkroom-state</Key><Value>unprocessed</Value></Tag></TagSet></Tagging>',
    );
    expect(JSON.stringify(upload)).not.toContain('passwd');
    expect(Number.isNaN(Date.parse(upload.expiresAt))).toBe(false);

    const res = await postTo(upload, file);
    expect(res.status).toBe(204);
    const got = await storageClient(api()).send(
      new GetObjectCommand({ Bucket: api().config.s3.bucket, Key: originalKey(id) }),
    );
    expect(got.ContentType).toBe('image/jpeg');
    expect(Buffer.compare(await bodyBytes(got.Body), file)).toBe(0);
    expect(await tagsOf(api(), originalKey(id))).toEqual(['darkroom-state=unprocessed']);

    const done = await api().call('POST', `/v1/uploads/${id}/complete`, { as: owner });
    expect(done.status).toBe(200);
    expect(done.json as unknown as Image).toMatchObject({ status: 'uploaded', bytes: file.length });
  });

  it('pins a declared SHA-256 into the form: other bytes are refused (BadDigest), the right ones stored', async () => {
    const file = bytes(500, 21);
    const sha256 = createHash('sha256').update(file).digest('hex');
    const { id, upload } = await postIntent(newOwner(), file.length, { sha256 });
    expect(upload.fields['x-amz-checksum-sha256']).toBe(Buffer.from(sha256, 'hex').toString('base64'));
    const wrong = await postTo(upload, bytes(500, 22));
    expect(wrong.status).toBe(400);
    expect(await s3Code(wrong)).toBe('BadDigest');
    expect((await headObject(api(), originalKey(id))).status).toBe(404);
    expect((await postTo(upload, file)).status).toBe(204);
  });

  it('accepts a smaller file (the declared size is the maximum)', async () => {
    const { id, upload } = await postIntent(newOwner(), 100);
    expect((await postTo(upload, bytes(40))).status).toBe(204);
    expect(await headObject(api(), originalKey(id))).toEqual({ status: 200, size: 40 });
  });

  it('refuses a file larger than the declared size (400 EntityTooLarge), storing nothing', async () => {
    const { id, upload } = await postIntent(newOwner(), 100);
    const res = await postTo(upload, bytes(101));
    expect(res.status).toBe(400);
    expect(await s3Code(res)).toBe('EntityTooLarge');
    expect((await headObject(api(), originalKey(id))).status).toBe(404);
  });

  it('refuses another Content-Type (403), storing nothing', async () => {
    const { id, upload } = await postIntent(newOwner(), 100);
    const res = await postTo(upload, bytes(50), { 'Content-Type': 'text/html' });
    expect(res.status).toBe(403);
    expect(await s3Code(res)).toBe('AccessDenied');
    expect((await headObject(api(), originalKey(id))).status).toBe(404);
  });

  it("refuses the form with another image's key (403), storing nothing", async () => {
    const owner = newOwner();
    const victim = await postIntent(owner, 100);
    const other = await postIntent(owner, 100);
    const res = await postTo(other.upload, bytes(50), { key: originalKey(victim.id) });
    expect(res.status).toBe(403);
    expect((await headObject(api(), originalKey(victim.id))).status).toBe(404);
    expect((await headObject(api(), originalKey(other.id))).status).toBe(404);
  });
});
