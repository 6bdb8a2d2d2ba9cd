// The same photo is stored once (issue 17.16): an intent whose sha256 is the digest of one of the owner's
// ready images answers 200 with that image (no record, no upload, no processing) unless it asks for a
// copy. Matched on the digest the worker computed of the stored original, never on a client's claim;
// only the caller's own images, of the visibility asked for, and never a deleted one.
import { createPgDatabase, type TestDatabase } from '@darkroom/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { numberedPhoto } from '../helpers/photos.ts';
import { startTestStack, type TestStack } from '../helpers/stack.ts';
import { DATABASES, newOwner, sha256 } from './support.ts';

describe.each(DATABASES)('the same photo stored once (%s)', (kind) => {
  let stack: TestStack;
  let db: TestDatabase | undefined;
  beforeAll(async () => {
    db = kind === 'postgres' ? await createPgDatabase() : undefined;
    stack = await startTestStack(db ? { DARKROOM_DATABASE_URL: db.url } : {});
  }, 60_000);
  afterAll(async () => {
    await stack?.stop();
    await db?.drop();
  });

  const intent = (as: string, photo: Buffer, extra: Record<string, unknown> = {}) =>
    stack.call('POST', '/v1/uploads', {
      as,
      body: { filename: 'photo.jpg', contentType: 'image/jpeg', size: photo.length, ...extra },
    });

  /** Creates an intent (201), PUTs the bytes and waits until the image is ready; returns its id. */
  async function uploadReady(as: string, photo: Buffer, extra: Record<string, unknown> = {}) {
    const res = await intent(as, photo, extra);
    expect(res.status, JSON.stringify(res.json)).toBe(201);
    const { image, upload } = res.json as {
      image: { id: string };
      upload: { url: string; headers: Record<string, string> };
    };
    const put = await fetch(upload.url, {
      method: 'PUT',
      headers: upload.headers,
      body: new Uint8Array(photo),
    });
    expect(put.status).toBe(200);
    expect(await stack.waitSettled(as, image.id)).toMatchObject({ status: 'ready' });
    return image.id;
  }

  const ids = async (as: string) =>
    ((await stack.call('GET', '/v1/images', { as })).json.images as { id: string }[]).map((i) => i.id);

  it('answers 200 with the ready image holding the same bytes: nothing recorded, nothing to upload', async () => {
    const owner = newOwner();
    const photo = await numberedPhoto(1601);
    const id = await uploadReady(owner, photo, { sha256: sha256(photo, 'hex'), filename: 'first.jpg' });

    for (const digest of [sha256(photo, 'hex'), sha256(photo, 'base64')]) {
      const again = await intent(owner, photo, { sha256: digest, filename: 'second.jpg' });
      expect(again.status).toBe(200);
      expect(Object.keys(again.json).sort()).toEqual(['existing', 'image']);
      expect(again.json.existing).toBe(true);
      // The image JSON of GET /v1/images/{id}, with its variants and the name it was stored with.
      const current = await stack.call('GET', `/v1/images/${id}`, { as: owner });
      expect(again.json.image).toEqual(current.json);
      expect(again.json.image).toMatchObject({ id, status: 'ready', filename: 'first.jpg' });
    }
    expect(await ids(owner)).toEqual([id]);
    // Without a sha256 an intent is what it always was.
    const plain = await intent(owner, photo);
    expect(plain.status).toBe(201);
    expect(plain.json.upload).toBeDefined();
  });

  it('matches on the digest the worker computed, not on what an intent claimed', async () => {
    const owner = newOwner();
    const photo = await numberedPhoto(1602);
    // Uploaded without a sha256: the worker's digest of the original is what later intents match.
    const id = await uploadReady(owner, photo);
    const again = await intent(owner, photo, { sha256: sha256(photo, 'base64') });
    expect(again.status).toBe(200);
    expect((again.json.image as { id: string }).id).toBe(id);

    // A pending intent's sha256 is a claim nothing has checked yet: never matched.
    const other = await numberedPhoto(1603);
    const pending = await intent(owner, other, { sha256: sha256(other, 'hex') });
    expect(pending.status).toBe(201);
    const second = await intent(owner, other, { sha256: sha256(other, 'hex') });
    expect(second.status).toBe(201);
    // Another digest of the same size matches nothing either.
    const forged = await intent(owner, photo, { sha256: sha256(other, 'hex') });
    expect(forged.status).toBe(201);
  });

  it('stores a copy when asked (copy: true), and then keeps answering with the first', async () => {
    const owner = newOwner();
    const photo = await numberedPhoto(1604);
    const digest = sha256(photo, 'hex');
    const first = await uploadReady(owner, photo, { sha256: digest });
    const copy = await uploadReady(owner, photo, { sha256: digest, copy: true });
    expect(copy).not.toBe(first);
    expect((await ids(owner)).sort()).toEqual([first, copy].sort());
    const again = await intent(owner, photo, { sha256: digest, copy: false });
    expect(again.status).toBe(200);
    expect((again.json.image as { id: string }).id).toBe(first);
  });

  it("never answers with another owner's image", async () => {
    const photo = await numberedPhoto(1605);
    const digest = sha256(photo, 'hex');
    const alices = await uploadReady(newOwner('alice'), photo, { sha256: digest });
    const bob = newOwner('bob');
    const res = await intent(bob, photo, { sha256: digest });
    expect(res.status).toBe(201);
    expect((res.json.image as { id: string }).id).not.toBe(alices);
    expect(res.json.upload).toBeDefined();
  });

  it('never answers with a deleted image', async () => {
    const owner = newOwner();
    const photo = await numberedPhoto(1606);
    const digest = sha256(photo, 'hex');
    const id = await uploadReady(owner, photo, { sha256: digest });
    expect((await stack.call('DELETE', `/v1/images/${id}`, { as: owner })).status).toBe(204);
    const res = await intent(owner, photo, { sha256: digest });
    expect(res.status).toBe(201);
    expect((res.json.image as { id: string }).id).not.toBe(id);
  });

  it('answers only with an image of the visibility asked for', async () => {
    const owner = newOwner();
    const photo = await numberedPhoto(1607);
    const digest = sha256(photo, 'hex');
    const id = await uploadReady(owner, photo, { sha256: digest });
    const asPrivate = await intent(owner, photo, { sha256: digest, visibility: 'private' });
    expect(asPrivate.status).toBe(201);
    const asPublic = await intent(owner, photo, { sha256: digest, visibility: 'public' });
    expect(asPublic.status).toBe(200);
    expect((asPublic.json.image as { id: string }).id).toBe(id);
  });

  it('refuses a copy that is not a JSON boolean (400, the field named)', async () => {
    const photo = await numberedPhoto(1608);
    const res = await intent(newOwner(), photo, { sha256: sha256(photo, 'hex'), copy: 'true' });
    expect(res.status).toBe(400);
    expect(JSON.stringify(res.json)).toContain('copy');
  });
});
