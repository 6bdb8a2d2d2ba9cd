import type { Image } from '@darkroom/contract';
// Per-owner limits on intents: uploads per minute, pending uploads, stored bytes. They hold under
// concurrency because limits are checked and the intent recorded under a per-owner lock.

import { bytes } from '@darkroom/s3-server/test-support';
import { describe, expect, it } from 'vitest';
import type { TestApi } from '../helpers/api.ts';
import { apiError, DATABASES, intentBody, newOwner, putIntent, putTo, useApi } from './support.ts';

function intent(api: TestApi, owner: string, size = 10) {
  return api.call('POST', '/v1/uploads', { as: owner, body: intentBody(size) });
}

async function listIds(api: TestApi, owner: string): Promise<string[]> {
  const res = await api.call('GET', '/v1/images?limit=100', { as: owner });
  return (res.json.images as Image[]).map((i) => i.id);
}

describe.each(DATABASES)('limits (%s)', (kind) => {
  describe('DARKROOM_UPLOADS_PER_MINUTE=3', () => {
    const api = useApi(kind, { DARKROOM_UPLOADS_PER_MINUTE: '3' });

    it('refuses the 4th intent in a minute with 429 rate_limited and a numeric Retry-After', async () => {
      const owner = newOwner();
      for (let i = 0; i < 3; i++) expect((await intent(api(), owner)).status).toBe(201);
      const fourth = await intent(api(), owner);
      expect(fourth.status).toBe(429);
      expect(apiError(fourth).code).toBe('rate_limited');
      const retryAfter = fourth.headers.get('retry-after');
      expect(retryAfter).toMatch(/^\d+$/);
      expect(Number(retryAfter)).toBeGreaterThanOrEqual(1);
      expect(Number(retryAfter)).toBeLessThanOrEqual(60);
      expect(await listIds(api(), owner)).toHaveLength(3);
    });

    it('still counts intents that were aborted', async () => {
      const owner = newOwner();
      for (let i = 0; i < 3; i++) {
        const { id } = await putIntent(api(), owner, 10);
        expect((await api().call('DELETE', `/v1/uploads/${id}`, { as: owner })).status).toBe(204);
      }
      expect(apiError(await intent(api(), owner)).code).toBe('rate_limited');
    });

    it('limits each owner separately', async () => {
      const alice = newOwner('alice');
      const bob = newOwner('bob');
      for (let i = 0; i < 3; i++) expect((await intent(api(), alice)).status).toBe(201);
      expect((await intent(api(), alice)).status).toBe(429);
      expect((await intent(api(), bob)).status).toBe(201);
    });
  });

  describe('DARKROOM_MAX_PENDING_UPLOADS=2', () => {
    const api = useApi(kind, { DARKROOM_MAX_PENDING_UPLOADS: '2' });

    it('refuses a 3rd pending upload with 429 too_many_pending, and frees the slot once one completes', async () => {
      const owner = newOwner();
      const body = bytes(10);
      const first = await putIntent(api(), owner, body.length);
      await putIntent(api(), owner, body.length);
      const third = await intent(api(), owner);
      expect(third.status).toBe(429);
      expect(apiError(third).code).toBe('too_many_pending');
      expect(third.headers.get('retry-after')).toMatch(/^\d+$/);

      expect((await putTo(first.upload, body)).status).toBe(200);
      expect((await api().call('POST', `/v1/uploads/${first.id}/complete`, { as: owner })).status).toBe(200);
      expect((await intent(api(), owner)).status).toBe(201);
    });
  });

  describe('DARKROOM_QUOTA_BYTES=1000', () => {
    const api = useApi(kind, { DARKROOM_QUOTA_BYTES: '1000' });

    it('refuses an intent that would exceed the quota with 429 quota_exceeded; up to it is fine', async () => {
      const owner = newOwner();
      expect((await intent(api(), owner, 600)).status).toBe(201);
      const over = await intent(api(), owner, 401);
      expect(over.status).toBe(429);
      expect(apiError(over).code).toBe('quota_exceeded');
      expect(over.headers.get('retry-after')).toMatch(/^\d+$/);
      expect((await intent(api(), owner, 400)).status).toBe(201);
      expect(apiError(await intent(api(), owner, 1)).code).toBe('quota_exceeded');
    });

    it('gives the quota back when an image is deleted', async () => {
      const owner = newOwner();
      const { id } = await putIntent(api(), owner, 1000);
      expect(apiError(await intent(api(), owner, 1)).code).toBe('quota_exceeded');
      expect((await api().call('DELETE', `/v1/images/${id}`, { as: owner })).status).toBe(204);
      expect((await intent(api(), owner, 1000)).status).toBe(201);
    });
  });

  describe('DARKROOM_UPLOADS_PER_MINUTE=5, concurrently', () => {
    const api = useApi(kind, { DARKROOM_UPLOADS_PER_MINUTE: '5' });

    it('lets exactly 5 of 10 parallel intents through and refuses the other 5 with 429', async () => {
      const owner = newOwner();
      // Tokens minted up front so the requests really race on the server.
      const token = await api().token(owner);
      const responses = await Promise.all(
        Array.from({ length: 10 }, () =>
          fetch(`${api().url}/v1/uploads`, {
            method: 'POST',
            headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
            body: JSON.stringify(intentBody(10)),
          }),
        ),
      );
      const statuses = responses.map((r) => r.status).sort();
      expect(statuses).toEqual([201, 201, 201, 201, 201, 429, 429, 429, 429, 429]);
      for (const r of responses.filter((r) => r.status === 429)) {
        expect(((await r.json()) as { error: { code: string } }).error.code).toBe('rate_limited');
      }
      expect(await listIds(api(), owner)).toHaveLength(5);
    });
  });
});
