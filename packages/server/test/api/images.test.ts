import { type Image, originalKey } from '@darkroom/contract';
// Image records: one image's JSON, the owner's list (newest first, cursor-paginated), deletion.

import { bytes } from '@darkroom/s3-server/test-support';
import { describe, expect, it } from 'vitest';
import type { TestApi } from '../helpers/api.ts';
import { apiError, DATABASES, headObject, newOwner, putIntent, putTo, sleep, useApi } from './support.ts';

const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

/** Walks every page of the owner's list; returns the ids in order and the page sizes. */
async function walk(api: TestApi, owner: string, limit: number) {
  const ids: string[] = [];
  const createdAt: number[] = [];
  const pages: number[] = [];
  let cursor: string | null = null;
  do {
    const query: string = `limit=${limit}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
    const res = await api.call('GET', `/v1/images?${query}`, { as: owner });
    expect(res.status, JSON.stringify(res.json)).toBe(200);
    const images = res.json.images as Image[];
    pages.push(images.length);
    ids.push(...images.map((i) => i.id));
    createdAt.push(...images.map((i) => Date.parse(i.createdAt)));
    cursor = res.json.nextCursor as string | null;
    expect(pages.length).toBeLessThan(20);
  } while (cursor !== null);
  return { ids, createdAt, pages };
}

describe.each(DATABASES)('images (%s)', (kind) => {
  const api = useApi(kind);

  it('GET /v1/images/{id} returns the image JSON', async () => {
    const owner = newOwner();
    const thumbhash = '1QcSHQRnh493V4dIh4eXh1h4kJUI';
    const before = Date.now();
    const { id } = await putIntent(api(), owner, 1234, {
      filename: 'Holiday 2024 – été.jpg',
      contentType: 'image/webp',
      thumbhash,
      visibility: 'private',
    });
    const res = await api().call('GET', `/v1/images/${id}`, { as: owner });
    expect(res.status).toBe(200);
    const image = res.json as unknown as Image;
    expect(image).toEqual({
      id,
      status: 'pending',
      filename: 'Holiday 2024 – été.jpg',
      contentType: 'image/webp',
      bytes: 1234,
      width: null,
      height: null,
      format: null,
      thumbhash,
      dominantColor: null,
      transparent: null,
      visibility: 'private',
      variants: {},
      createdAt: expect.stringMatching(ISO),
      updatedAt: expect.stringMatching(ISO),
    });
    expect(Date.parse(image.createdAt)).toBeGreaterThanOrEqual(before - 1000);
    expect(Date.parse(image.createdAt)).toBeLessThanOrEqual(Date.now() + 1000);
    expect(Date.parse(image.updatedAt)).toBeGreaterThanOrEqual(Date.parse(image.createdAt));

    // Defaults: public, no thumbhash.
    const plain = await putIntent(api(), owner, 10);
    const got = (await api().call('GET', `/v1/images/${plain.id}`, { as: owner })).json as unknown as Image;
    expect(got).toMatchObject({ visibility: 'public', thumbhash: null });
  });

  it('answers 404 for an unknown id and 400 for one that is not a UUID', async () => {
    const owner = newOwner();
    const missing = await api().call('GET', `/v1/images/${crypto.randomUUID()}`, { as: owner });
    expect(missing.status).toBe(404);
    expect(apiError(missing).code).toBe('not_found');
    const bad = await api().call('GET', '/v1/images/not-a-uuid', { as: owner });
    expect(bad.status).toBe(400);
    expect(apiError(bad).code).toBe('invalid_request');
  });

  it('lists 5 images 2 at a time: newest first, each once, nextCursor null at the end', async () => {
    const owner = newOwner();
    const created: string[] = [];
    for (let i = 0; i < 5; i++) {
      created.push((await putIntent(api(), owner, 10, { filename: `${i}.jpg` })).id);
      await sleep(5); // distinct creation times, so "newest first" has one answer
    }
    const { ids, pages } = await walk(api(), owner, 2);
    expect(pages).toEqual([2, 2, 1]);
    expect(ids).toEqual([...created].reverse());
  });

  it('pages through images created in the same millisecond without losing or repeating one', async () => {
    const owner = newOwner();
    // In parallel: several intents likely share created_at, so the id tiebreak is what pages them.
    const created = await Promise.all(Array.from({ length: 7 }, () => putIntent(api(), owner, 10)));
    const { ids, createdAt } = await walk(api(), owner, 2);
    expect([...ids].sort()).toEqual(created.map((c) => c.id).sort());
    expect(new Set(ids).size).toBe(ids.length);
    for (let i = 1; i < createdAt.length; i++) expect(createdAt[i]!).toBeLessThanOrEqual(createdAt[i - 1]!);
  });

  it('refuses an invalid cursor or limit with 400', async () => {
    const owner = newOwner();
    await putIntent(api(), owner, 10);
    const forged = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
    const cursors = [
      'garbage!!',
      'bm90IGpzb24',
      forged({ a: 1 }),
      forged(['x', 'y']),
      forged(null),
      forged(1.5),
    ];
    // Well-formed JSON, but not a position this API could have returned.
    cursors.push(forged([1.5, 'x']), forged([1e300, 'x']), forged([-1, 'x']), forged([Date.now(), 42]));
    for (const cursor of cursors) {
      const res = await api().call('GET', `/v1/images?cursor=${encodeURIComponent(cursor)}`, { as: owner });
      expect(res.status, cursor).toBe(400);
      expect(apiError(res).code).toBe('invalid_request');
      expect(apiError(res).message).toContain('cursor');
    }
    for (const limit of ['0', '101', 'abc', '-1']) {
      const res = await api().call('GET', `/v1/images?limit=${limit}`, { as: owner });
      expect(res.status, limit).toBe(400);
      expect(apiError(res).message).toContain('limit');
    }
  });

  it('DELETE /v1/images/{id} removes the original from storage and the record', async () => {
    const owner = newOwner();
    const body = bytes(500);
    const { id, upload } = await putIntent(api(), owner, body.length);
    expect((await putTo(upload, body)).status).toBe(200);
    expect((await api().call('POST', `/v1/uploads/${id}/complete`, { as: owner })).status).toBe(200);
    expect((await headObject(api(), originalKey(id))).status).toBe(200);

    const del = await api().call('DELETE', `/v1/images/${id}`, { as: owner });
    expect(del.status).toBe(204);
    expect((await headObject(api(), originalKey(id))).status).toBe(404);
    expect((await api().call('GET', `/v1/images/${id}`, { as: owner })).status).toBe(404);
    expect(
      ((await api().call('GET', '/v1/images', { as: owner })).json.images as Image[]).map((i) => i.id),
    ).not.toContain(id);
    expect((await api().call('DELETE', `/v1/images/${id}`, { as: owner })).status).toBe(404);
  });

  it('DELETE /v1/images/{id} also cancels a pending upload: its URL then creates nothing the API knows', async () => {
    const owner = newOwner();
    const { id } = await putIntent(api(), owner, 10);
    expect((await api().call('DELETE', `/v1/images/${id}`, { as: owner })).status).toBe(204);
    expect((await api().call('GET', `/v1/images/${id}`, { as: owner })).status).toBe(404);
    expect((await api().call('POST', `/v1/uploads/${id}/complete`, { as: owner })).status).toBe(404);
  });
});
