// Every route validates JSON bodies as typed JSON: no value is coerced into the type its field wants
// ("100" is not 100, null is not ""). Query strings are text, so there numbers are read explicitly.
import { describe, expect, it } from 'vitest';
import { apiError, createIntent, intentBody, MiB, newOwner, useApi } from './support.ts';

describe('JSON types are not coerced', () => {
  const api = useApi('sqlite');

  async function refused(method: string, path: string, body: unknown, as = newOwner()) {
    const res = await api().call(method, path, { as, body });
    expect(res.status, JSON.stringify(res.json)).toBe(400);
    const error = apiError(res);
    expect(error.code).toBe('invalid_request');
    return error.message;
  }

  it('POST /v1/uploads refuses a number sent as a string, and every other wrong type, naming the field', async () => {
    expect(await refused('POST', '/v1/uploads', intentBody(100, { size: '100' }))).toBe(
      'body/size must be integer',
    );
    for (const [field, value] of [
      ['filename', 123],
      ['filename', null],
      ['contentType', true],
      ['sha256', 1e60],
      ['visibility', ['public']],
      ['method', null],
    ] as const) {
      const message = await refused('POST', '/v1/uploads', intentBody(100, { [field]: value }));
      expect(message, `${field}: ${JSON.stringify(value)}`).toContain(`body/${field}`);
    }
    // A well-typed body still goes through.
    await createIntent(api(), newOwner(), intentBody(100));
  });

  it('the parts and complete routes refuse part numbers sent as strings', async () => {
    const owner = newOwner();
    const { id } = await createIntent(api(), owner, intentBody(12 * MiB, { method: 'multipart' }));
    expect(await refused('POST', `/v1/uploads/${id}/parts`, { partNumbers: ['1'] }, owner)).toContain(
      'body/partNumbers/0',
    );
    expect(await refused('POST', `/v1/uploads/${id}/parts`, { partNumbers: 1 }, owner)).toContain(
      'body/partNumbers',
    );
    expect(
      await refused('POST', `/v1/uploads/${id}/complete`, { parts: [{ partNumber: '1', etag: 'x' }] }, owner),
    ).toContain('body/parts/0/partNumber');
    expect(
      await refused('POST', `/v1/uploads/${id}/complete`, { parts: [{ partNumber: 1, etag: 7 }] }, owner),
    ).toContain('body/parts/0/etag');
  });

  it('query strings still read numbers: limit=2 works, limit=two and a repeated limit are refused', async () => {
    const owner = newOwner();
    for (let i = 0; i < 3; i++) await createIntent(api(), owner, intentBody(100));
    const page = await api().call('GET', '/v1/images?limit=2', { as: owner });
    expect(page.status).toBe(200);
    expect((page.json.images as unknown[]).length).toBe(2);
    const all = await api().call('GET', '/v1/images', { as: owner });
    expect((all.json.images as unknown[]).length).toBe(3);
    for (const query of ['limit=two', 'limit=2.5', 'limit=2&limit=3', 'limit=0']) {
      const res = await api().call('GET', `/v1/images?${query}`, { as: owner });
      expect(res.status, query).toBe(400);
      expect(apiError(res).message, query).toContain('querystring/limit');
    }
  });
});
