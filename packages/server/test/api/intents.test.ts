// POST /v1/uploads: what an intent must declare, and the error each bad declaration gets.
import { describe, expect, it } from 'vitest';
import { apiError, DATABASES, intentBody, MiB, newOwner, useApi } from './support.ts';

const MAX = 20 * MiB;

describe.each(DATABASES)('POST /v1/uploads validation (%s)', (kind) => {
  const api = useApi(kind, { DARKROOM_MAX_UPLOAD_BYTES: String(MAX) });

  /** Posts `body` as a fresh owner and expects `status` with `code`; returns the message. */
  async function refused(body: unknown, status: number, code: string): Promise<string> {
    const res = await api().call('POST', '/v1/uploads', { as: newOwner(), body });
    expect(res.status, JSON.stringify(res.json)).toBe(status);
    const error = apiError(res);
    expect(error.code).toBe(code);
    return error.message;
  }

  it('refuses a missing or empty filename, naming the field', async () => {
    const { filename: _omitted, ...noFilename } = intentBody(10);
    expect(await refused(noFilename, 400, 'invalid_request')).toContain('filename');
    expect(await refused(intentBody(10, { filename: '' }), 400, 'invalid_request')).toContain(
      'body/filename',
    );
    expect(await refused(intentBody(10, { filename: 'a\nb.jpg' }), 400, 'invalid_request')).toContain(
      'body/filename',
    );
  });

  it('refuses a content type that is not allowed with 415, listing the allowed types', async () => {
    for (const contentType of ['text/html', 'image/svg+xml', 'application/octet-stream']) {
      const message = await refused(intentBody(10, { contentType }), 415, 'unsupported_type');
      expect(message).toContain(contentType);
      for (const allowed of api().config.uploads.allowedTypes) expect(message).toContain(allowed);
    }
    const { contentType: _omitted, ...noType } = intentBody(10);
    expect(await refused(noType, 400, 'invalid_request')).toContain('contentType');
  });

  it('accepts an allowed type in any case and records it lower-cased', async () => {
    const owner = newOwner();
    const res = await api().call('POST', '/v1/uploads', {
      as: owner,
      body: intentBody(10, { contentType: 'IMAGE/PNG' }),
    });
    expect(res.status).toBe(201);
    const id = (res.json.image as { id: string }).id;
    const image = await api().call('GET', `/v1/images/${id}`, { as: owner });
    expect(image.json.contentType).toBe('image/png');
  });

  it('refuses a size of 0, a negative, a fraction or a string, naming body/size', async () => {
    for (const size of [0, -1, 1.5, 'big']) {
      expect(await refused(intentBody(10, { size }), 400, 'invalid_request'), String(size)).toContain(
        'body/size',
      );
    }
  });

  it('refuses a size over DARKROOM_MAX_UPLOAD_BYTES with 413 too_large, and accepts exactly the maximum', async () => {
    const message = await refused(intentBody(MAX + 1), 413, 'too_large');
    expect(message).toContain('body/size');
    expect(message).toContain(String(MAX));
    const atMax = await api().call('POST', '/v1/uploads', { as: newOwner(), body: intentBody(MAX) });
    expect(atMax.status).toBe(201);
  });

  it('refuses a malformed sha256, naming body/sha256', async () => {
    const bad = [
      'zz',
      'z'.repeat(64), // 64 chars, not hex
      'A'.repeat(44), // 44 chars of base64, but not 32 bytes
      'a'.repeat(63),
      `${'a'.repeat(64)}0`,
    ];
    for (const sha256 of bad) {
      expect(await refused(intentBody(10, { sha256 }), 400, 'invalid_request'), sha256).toContain(
        'body/sha256',
      );
    }
  });

  it('refuses unknown fields, a bad visibility, a bad method and a non-JSON body', async () => {
    expect(await refused(intentBody(10, { owner: 'mallory' }), 400, 'invalid_request')).toMatch(
      /additional properties/,
    );
    expect(await refused(intentBody(10, { key: 'uploads/x' }), 400, 'invalid_request')).toMatch(
      /additional properties/,
    );
    expect(await refused(intentBody(10, { visibility: 'secret' }), 400, 'invalid_request')).toContain(
      'body/visibility',
    );
    expect(await refused(intentBody(10, { method: 'get' }), 400, 'invalid_request')).toContain('body/method');
    expect(await refused([intentBody(10)], 400, 'invalid_request')).toContain('body');
  });

  it('records nothing for a refused intent', async () => {
    const owner = newOwner();
    await api().call('POST', '/v1/uploads', { as: owner, body: intentBody(0) });
    await api().call('POST', '/v1/uploads', {
      as: owner,
      body: intentBody(10, { contentType: 'text/html' }),
    });
    await api().call('POST', '/v1/uploads', { as: owner, body: intentBody(MAX + 1) });
    const list = await api().call('GET', '/v1/images', { as: owner });
    expect(list.json).toEqual({ images: [], nextCursor: null });
  });
});
