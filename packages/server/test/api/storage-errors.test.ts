// What a client hears when storage fails: the catalogue's code and message, byte for byte, whichever
// layer noticed (the storage adapter throws neutral domain errors; the API's edge gives them a status).
import { API_ERRORS } from '@darkroom/contract';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApi, type TestApi } from '../helpers/api.ts';
import { apiError, intentBody, newOwner } from './support.ts';

describe('storage that cannot be reached', () => {
  let api: TestApi;
  beforeAll(async () => {
    api = await startTestApi('sqlite');
    await api.stopStorage();
  });
  afterAll(async () => {
    await api?.stop();
  });

  it('answers a multipart intent with 503 storage_unavailable, the catalogue message and Retry-After: 5', async () => {
    const owner = newOwner();
    const res = await api.call('POST', '/v1/uploads', {
      as: owner,
      body: intentBody(10, { method: 'multipart' }),
    });
    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toBe('5');
    expect(apiError(res)).toEqual({
      code: 'storage_unavailable',
      message: API_ERRORS.storage_unavailable.message,
    });
    // The intent that got no upload id is not left pending against the owner.
    const list = await api.call('GET', '/v1/images', { as: owner });
    expect(list.json.images).toEqual([]);
  });
});
