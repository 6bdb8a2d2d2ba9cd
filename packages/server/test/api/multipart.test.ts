// Multipart uploads: the intent plans parts, /parts presigns each at its exact length, /complete
// assembles them, DELETE /v1/uploads/{id} aborts.
import {
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  ListMultipartUploadsCommand,
  ListPartsCommand,
  PutObjectCommand,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { type Image, type MultipartUpload, originalKey } from '@darkroom/contract';
import { bodyBytes, bytes } from '@darkroom/s3-server/test-support';
import { describe, expect, it } from 'vitest';
import type { TestApi } from '../helpers/api.ts';
import {
  apiError,
  createIntent,
  DATABASES,
  headObject,
  intentBody,
  MiB,
  newOwner,
  putPart,
  s3Code,
  storageClient,
  tagsOf,
  useApi,
} from './support.ts';

const PART = 5 * MiB;
const SIZE = 11 * MiB;

interface PartUrl {
  partNumber: number;
  url: string;
  size: number;
}

async function presign(api: TestApi, owner: string, id: string, partNumbers: number[]): Promise<PartUrl[]> {
  const res = await api.call('POST', `/v1/uploads/${id}/parts`, { as: owner, body: { partNumbers } });
  expect(res.status, JSON.stringify(res.json)).toBe(200);
  expect(Number.isNaN(Date.parse(res.json.expiresAt as string))).toBe(false);
  return res.json.parts as PartUrl[];
}

async function pendingUploads(api: TestApi, id: string) {
  const res = await storageClient(api).send(
    new ListMultipartUploadsCommand({ Bucket: api.config.s3.bucket, Prefix: originalKey(id) }),
  );
  return res.Uploads ?? [];
}

describe.each(DATABASES)('multipart uploads (%s)', (kind) => {
  const api = useApi(kind, {
    DARKROOM_MULTIPART_THRESHOLD: String(PART),
    DARKROOM_MULTIPART_PART_SIZE: String(PART),
  });

  it('plans parts above the threshold, presigns them, and completes into the exact object', async () => {
    const owner = newOwner();
    const file = bytes(SIZE, 21);
    const { id, upload } = await createIntent<MultipartUpload>(api(), owner, intentBody(SIZE));
    expect(upload).toMatchObject({ method: 'multipart', partSize: PART, partCount: 3 });
    expect(typeof upload.uploadId).toBe('string');
    expect((await pendingUploads(api(), id)).map((u) => u.UploadId)).toEqual([upload.uploadId]);

    const parts = await presign(api(), owner, id, [3, 1, 2]);
    expect(parts.map((p) => [p.partNumber, p.size])).toEqual([
      [1, PART],
      [2, PART],
      [3, SIZE - 2 * PART],
    ]);
    for (const p of parts)
      expect(new URL(p.url).pathname).toBe(`/${api().config.s3.bucket}/${originalKey(id)}`);

    const etags: { partNumber: number; etag: string }[] = [];
    for (const p of parts) {
      const start = (p.partNumber - 1) * PART;
      const res = await putPart(p.url, file.subarray(start, start + p.size));
      expect(res.status).toBe(200);
      const etag = res.headers.get('etag');
      expect(etag).toMatch(/^"[0-9a-f]{32}"$/);
      etags.push({ partNumber: p.partNumber, etag: etag! });
    }

    const done = await api().call('POST', `/v1/uploads/${id}/complete`, {
      as: owner,
      body: { parts: etags },
    });
    expect(done.status, JSON.stringify(done.json)).toBe(200);
    const image = done.json as unknown as Image;
    expect(image).toMatchObject({ id, status: 'uploaded', bytes: SIZE });

    const got = await storageClient(api()).send(
      new GetObjectCommand({ Bucket: api().config.s3.bucket, Key: originalKey(id) }),
    );
    expect(got.ContentLength).toBe(SIZE);
    expect(got.ContentType).toBe('image/jpeg');
    expect(Buffer.compare(await bodyBytes(got.Body), file)).toBe(0);
    expect(await pendingUploads(api(), id)).toEqual([]);
    // CreateMultipartUpload carried the tag; the completed original has it.
    expect(await tagsOf(api(), originalKey(id))).toEqual(['darkroom-state=unprocessed']);

    // Completing again (a retry after a lost response) returns the same image.
    const again = await api().call('POST', `/v1/uploads/${id}/complete`, {
      as: owner,
      body: { parts: etags },
    });
    expect(again.status).toBe(200);
    expect(again.json).toEqual(done.json);
  });

  it('answers concurrent retries of /complete with the same uploaded image', async () => {
    const owner = newOwner();
    const size = 6 * MiB;
    const { id } = await createIntent<MultipartUpload>(api(), owner, intentBody(size));
    const etags: { partNumber: number; etag: string }[] = [];
    for (const p of await presign(api(), owner, id, [1, 2])) {
      const res = await putPart(p.url, bytes(p.size, p.partNumber));
      expect(res.status).toBe(200);
      etags.push({ partNumber: p.partNumber, etag: res.headers.get('etag')! });
    }
    const results = await Promise.all(
      [1, 2, 3].map(() =>
        api().call('POST', `/v1/uploads/${id}/complete`, { as: owner, body: { parts: etags } }),
      ),
    );
    for (const res of results) {
      expect(res.status, JSON.stringify(res.json)).toBe(200);
      expect(res.json).toMatchObject({ id, status: 'uploaded', bytes: size });
    }
    expect(await headObject(api(), originalKey(id))).toEqual({ status: 200, size });
  });

  it('stays below the threshold with a single PUT', async () => {
    const { upload } = await createIntent(api(), newOwner(), intentBody(PART));
    expect(upload.method).toBe('put');
  });

  it('honours method multipart for a small file: one part of the exact size', async () => {
    const owner = newOwner();
    const file = bytes(10, 8);
    const { id, upload } = await createIntent<MultipartUpload>(
      api(),
      owner,
      intentBody(file.length, { method: 'multipart' }),
    );
    expect(upload).toMatchObject({ method: 'multipart', partCount: 1 });
    const [only] = await presign(api(), owner, id, [1]);
    expect(only!.size).toBe(file.length);
    const put = await putPart(only!.url, file);
    expect(put.status).toBe(200);
    const done = await api().call('POST', `/v1/uploads/${id}/complete`, {
      as: owner,
      body: { parts: [{ partNumber: 1, etag: put.headers.get('etag') }] },
    });
    expect(done.status).toBe(200);
    expect(done.json).toMatchObject({ status: 'uploaded', bytes: file.length });
    expect(await headObject(api(), originalKey(id))).toEqual({ status: 200, size: file.length });
  });

  it('refuses a part body of the wrong length (403), storing no part', async () => {
    const owner = newOwner();
    const { id, upload } = await createIntent<MultipartUpload>(api(), owner, intentBody(SIZE));
    const [last] = await presign(api(), owner, id, [3]);
    expect(last!.size).toBe(SIZE - 2 * PART);
    for (const length of [last!.size + 1, last!.size - 1]) {
      const res = await putPart(last!.url, bytes(length));
      expect(res.status, String(length)).toBe(403);
      expect(await s3Code(res)).toBe('SignatureDoesNotMatch');
    }
    // No part reached storage: the upload lists none.
    const listed = await storageClient(api()).send(
      new ListPartsCommand({
        Bucket: api().config.s3.bucket,
        Key: originalKey(id),
        UploadId: upload.uploadId,
      }),
    );
    expect(listed.Parts ?? []).toEqual([]);
  });

  it('refuses part numbers outside 1..partCount with 400', async () => {
    const owner = newOwner();
    const { id } = await createIntent<MultipartUpload>(api(), owner, intentBody(SIZE));
    for (const partNumbers of [[4], [0], [-1], [1, 4], []]) {
      const res = await api().call('POST', `/v1/uploads/${id}/parts`, { as: owner, body: { partNumbers } });
      expect(res.status, JSON.stringify(partNumbers)).toBe(400);
      const { code, message } = apiError(res);
      expect(code).toBe('invalid_request');
      expect(message).toContain('partNumbers');
    }
  });

  it('refuses /parts on a PUT upload (409) and /complete without parts (400)', async () => {
    const owner = newOwner();
    const put = await createIntent(api(), owner, intentBody(100));
    const parts = await api().call('POST', `/v1/uploads/${put.id}/parts`, {
      as: owner,
      body: { partNumbers: [1] },
    });
    expect(parts.status).toBe(409);
    expect(apiError(parts).code).toBe('conflict');

    const mp = await createIntent<MultipartUpload>(api(), owner, intentBody(SIZE));
    const noParts = await api().call('POST', `/v1/uploads/${mp.id}/complete`, { as: owner });
    expect(noParts.status).toBe(400);
    expect(apiError(noParts).message).toContain('body/parts');
  });

  it('refuses to complete with a wrong ETag (400) and leaves the upload pending', async () => {
    const owner = newOwner();
    const file = bytes(SIZE, 4);
    const { id } = await createIntent<MultipartUpload>(api(), owner, intentBody(SIZE));
    const parts = await presign(api(), owner, id, [1, 2, 3]);
    const etags: { partNumber: number; etag: string }[] = [];
    for (const p of parts) {
      const start = (p.partNumber - 1) * PART;
      const res = await putPart(p.url, file.subarray(start, start + p.size));
      etags.push({ partNumber: p.partNumber, etag: res.headers.get('etag')! });
    }
    const wrong = etags.map((e, i) => (i === 1 ? { ...e, etag: '"00000000000000000000000000000000"' } : e));
    const res = await api().call('POST', `/v1/uploads/${id}/complete`, { as: owner, body: { parts: wrong } });
    expect(res.status).toBe(400);
    expect(apiError(res).code).toBe('invalid_request');
    // Storage's own reason, passed on (S3's InvalidPart message).
    expect(apiError(res).message).toMatch(/^storage refused the parts: \S/);
    expect((await headObject(api(), originalKey(id))).status).toBe(404);
    expect((await api().call('GET', `/v1/images/${id}`, { as: owner })).json.status).toBe('pending');
    // The right ETags still complete it.
    const ok = await api().call('POST', `/v1/uploads/${id}/complete`, { as: owner, body: { parts: etags } });
    expect(ok.status).toBe(200);
  });

  /** An intent whose parts are all uploaded; returns their ETags and the bytes. */
  async function uploadedParts(owner: string, seed: number) {
    const file = bytes(SIZE, seed);
    const { id, upload } = await createIntent<MultipartUpload>(api(), owner, intentBody(SIZE));
    const etags: { partNumber: number; etag: string }[] = [];
    for (const p of await presign(api(), owner, id, [1, 2, 3])) {
      const start = (p.partNumber - 1) * PART;
      const res = await putPart(p.url, file.subarray(start, start + p.size));
      expect(res.status).toBe(200);
      etags.push({ partNumber: p.partNumber, etag: res.headers.get('etag')! });
    }
    return { id, uploadId: upload.uploadId, file, etags };
  }

  it('completes create-once: an object already at the key stays, and /complete answers 409 upload_mismatch', async () => {
    const owner = newOwner();
    const { id, uploadId, etags } = await uploadedParts(owner, 31);
    // Written outside the upload (no Darkroom URL writes a multipart intent's key, but storage may be shared).
    const foreign = bytes(1000, 32);
    await storageClient(api()).send(
      new PutObjectCommand({ Bucket: api().config.s3.bucket, Key: originalKey(id), Body: foreign }),
    );
    const res = await api().call('POST', `/v1/uploads/${id}/complete`, { as: owner, body: { parts: etags } });
    expect(res.status, JSON.stringify(res.json)).toBe(409);
    expect(apiError(res)).toMatchObject({
      code: 'upload_mismatch',
      message: expect.stringContaining('left as it is'),
    });
    const got = await storageClient(api()).send(
      new GetObjectCommand({ Bucket: api().config.s3.bucket, Key: originalKey(id) }),
    );
    expect(Buffer.compare(await bodyBytes(got.Body), foreign)).toBe(0);
    expect((await api().call('GET', `/v1/images/${id}`, { as: owner })).json.status).toBe('pending');
    expect((await pendingUploads(api(), id)).map((u) => u.UploadId)).toEqual([uploadId]);
  });

  it('takes a 412 for its own earlier Complete (its answer lost) as done: same ETag, upload gone', async () => {
    const owner = newOwner();
    const { id, uploadId, file, etags } = await uploadedParts(owner, 33);
    // The object this upload's Complete makes, already there: what S3 may answer a retried Complete with 412 for.
    const s3 = storageClient(api());
    const Bucket = api().config.s3.bucket;
    const other = await s3.send(new CreateMultipartUploadCommand({ Bucket, Key: originalKey(id) }));
    const otherParts = [];
    for (const { partNumber } of etags) {
      const start = (partNumber - 1) * PART;
      const body = file.subarray(start, Math.min(start + PART, SIZE));
      const res = await s3.send(
        new UploadPartCommand({
          Bucket,
          Key: originalKey(id),
          UploadId: other.UploadId,
          PartNumber: partNumber,
          Body: body,
        }),
      );
      otherParts.push({ PartNumber: partNumber, ETag: res.ETag });
    }
    await s3.send(
      new CompleteMultipartUploadCommand({
        Bucket,
        Key: originalKey(id),
        UploadId: other.UploadId,
        MultipartUpload: { Parts: otherParts },
      }),
    );
    const res = await api().call('POST', `/v1/uploads/${id}/complete`, { as: owner, body: { parts: etags } });
    expect(res.status, JSON.stringify(res.json)).toBe(200);
    expect(res.json).toMatchObject({ id, status: 'uploaded', bytes: SIZE });
    // The intent's own upload was tidied away rather than left for the janitor.
    expect((await pendingUploads(api(), id)).map((u) => u.UploadId)).not.toContain(uploadId);
  });

  it('aborts with DELETE /v1/uploads/{id}: record gone, no multipart upload left, part URLs dead', async () => {
    const owner = newOwner();
    const { id } = await createIntent<MultipartUpload>(api(), owner, intentBody(SIZE));
    const [first, second] = await presign(api(), owner, id, [1, 2]);
    expect((await putPart(first!.url, bytes(PART))).status).toBe(200);
    expect(await pendingUploads(api(), id)).toHaveLength(1);

    const abort = await api().call('DELETE', `/v1/uploads/${id}`, { as: owner });
    expect(abort.status).toBe(204);
    expect((await api().call('GET', `/v1/images/${id}`, { as: owner })).status).toBe(404);
    expect(await pendingUploads(api(), id)).toEqual([]);
    expect((await headObject(api(), originalKey(id))).status).toBe(404);

    const late = await putPart(second!.url, bytes(PART));
    expect(late.status).toBe(404);
    expect(await s3Code(late)).toBe('NoSuchUpload');
    // A second abort finds nothing.
    expect((await api().call('DELETE', `/v1/uploads/${id}`, { as: owner })).status).toBe(404);
  });

  it('DELETE /v1/images/{id} on a pending multipart upload aborts it in storage too', async () => {
    const owner = newOwner();
    const { id } = await createIntent<MultipartUpload>(api(), owner, intentBody(SIZE));
    const [first] = await presign(api(), owner, id, [1]);
    expect((await putPart(first!.url, bytes(PART))).status).toBe(200);
    expect((await api().call('DELETE', `/v1/images/${id}`, { as: owner })).status).toBe(204);
    expect(await pendingUploads(api(), id)).toEqual([]);
    expect((await api().call('GET', `/v1/images/${id}`, { as: owner })).status).toBe(404);
  });
});
