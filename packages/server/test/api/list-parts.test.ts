import type { MultipartUpload } from '@darkroom/contract';
// GET /v1/uploads/{id}/parts: what storage holds of a multipart upload, for clients that resume.

import { bytes } from '@darkroom/s3-server/test-support';
import { describe, expect, it } from 'vitest';
import { apiError, createIntent, DATABASES, intentBody, MiB, newOwner, putPart, useApi } from './support.ts';

const PART = 5 * MiB;
const SIZE = 11 * MiB;

describe.each(DATABASES)('listing stored parts (%s)', (kind) => {
  const api = useApi(kind, {
    DARKROOM_MULTIPART_THRESHOLD: String(PART),
    DARKROOM_MULTIPART_PART_SIZE: String(PART),
  });

  it('lists the plan and exactly the parts stored, with ETags that complete the upload', async () => {
    const owner = newOwner();
    const file = bytes(SIZE, 7);
    const { id } = await createIntent<MultipartUpload>(api(), owner, intentBody(SIZE));

    const empty = await api().call('GET', `/v1/uploads/${id}/parts`, { as: owner });
    expect(empty.status, JSON.stringify(empty.json)).toBe(200);
    expect(empty.json).toEqual({ partSize: PART, partCount: 3, parts: [] });

    // Store parts 1 and 3 only, as a client interrupted mid-upload would have.
    const presigned = await api().call('POST', `/v1/uploads/${id}/parts`, {
      as: owner,
      body: { partNumbers: [1, 2, 3] },
    });
    const urls = presigned.json.parts as { partNumber: number; url: string; size: number }[];
    const etags = new Map<number, string>();
    for (const p of urls.filter((u) => u.partNumber !== 2)) {
      const start = (p.partNumber - 1) * PART;
      const res = await putPart(p.url, file.subarray(start, start + p.size));
      expect(res.status).toBe(200);
      etags.set(p.partNumber, res.headers.get('etag')!);
    }
    const listed = await api().call('GET', `/v1/uploads/${id}/parts`, { as: owner });
    expect(listed.status).toBe(200);
    expect(listed.json).toEqual({
      partSize: PART,
      partCount: 3,
      parts: [
        { partNumber: 1, size: PART, etag: etags.get(1) },
        { partNumber: 3, size: SIZE - 2 * PART, etag: etags.get(3) },
      ],
    });

    // Send the missing part and complete with the listed ETags.
    const two = urls.find((u) => u.partNumber === 2)!;
    const res = await putPart(two.url, file.subarray(PART, 2 * PART));
    const parts = [
      ...(listed.json.parts as { partNumber: number; etag: string }[]),
      { partNumber: 2, etag: res.headers.get('etag')! },
    ]
      .map(({ partNumber, etag }) => ({ partNumber, etag }))
      .sort((a, b) => a.partNumber - b.partNumber);
    const done = await api().call('POST', `/v1/uploads/${id}/complete`, { as: owner, body: { parts } });
    expect(done.status, JSON.stringify(done.json)).toBe(200);
    expect(done.json).toMatchObject({ status: 'uploaded', bytes: SIZE });

    // Completed: nothing left to resume.
    const after = await api().call('GET', `/v1/uploads/${id}/parts`, { as: owner });
    expect(after.status).toBe(409);
    expect(apiError(after).code).toBe('conflict');
  });

  it("is 404 for another owner's upload, 409 for a PUT upload, 401 without a token", async () => {
    const owner = newOwner();
    const { id } = await createIntent<MultipartUpload>(api(), owner, intentBody(SIZE));
    const other = await api().call('GET', `/v1/uploads/${id}/parts`, { as: newOwner() });
    expect(other.status).toBe(404);
    expect(apiError(other).code).toBe('not_found');

    const put = await createIntent(api(), owner, intentBody(100));
    const notMultipart = await api().call('GET', `/v1/uploads/${put.id}/parts`, { as: owner });
    expect(notMultipart.status).toBe(409);

    const anonymous = await api().call('GET', `/v1/uploads/${id}/parts`);
    expect(anonymous.status).toBe(401);
  });

  it('is 404 once the upload was aborted', async () => {
    const owner = newOwner();
    const { id } = await createIntent<MultipartUpload>(api(), owner, intentBody(SIZE));
    expect((await api().call('DELETE', `/v1/uploads/${id}`, { as: owner })).status).toBe(204);
    const res = await api().call('GET', `/v1/uploads/${id}/parts`, { as: owner });
    expect(res.status).toBe(404);
  });
});
