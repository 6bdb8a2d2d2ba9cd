// The lifecycle tag end to end: POST and multipart originals are stored tagged
// darkroom-state=unprocessed and the worker clears the tag once the image is ready; a PUT original is
// stored untagged (the PUT asks no extra header of clients); every failed image's original ends up
// tagged (the bucket's lifecycle rule then expires it).
import fs from 'node:fs';
import path from 'node:path';
import { GetObjectTaggingCommand, S3Client } from '@aws-sdk/client-s3';
import { bytes, TEST_KEY } from '@darkroom/s3-server/test-support';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { StorageGateway } from '../../src/storage/gateway.ts';
import { startTestStack, TESTDATA, type TestStack } from '../helpers/stack.ts';

let stack: TestStack;
let s3: S3Client;
const PHOTO = path.join(TESTDATA, 'photos/DSCN0010.jpg');

beforeAll(async () => {
  stack = await startTestStack();
  s3 = new S3Client({ endpoint: stack.s3, region: 'us-east-1', forcePathStyle: true, credentials: TEST_KEY });
}, 60_000);
afterAll(async () => {
  s3.destroy();
  await stack.stop();
});

const tagsOf = async (id: string) =>
  (
    await s3.send(new GetObjectTaggingCommand({ Bucket: stack.config.s3.bucket, Key: `uploads/${id}` }))
  ).TagSet?.map((t) => `${t.Key}=${t.Value}`);

type Intent = {
  image: { id: string };
  upload: {
    url: string;
    headers?: Record<string, string>;
    fields?: Record<string, string>;
    uploadId?: string;
  };
};

/** Sends `body` the way the intent says (PUT, POST form or one multipart part); returns the image id. */
async function upload(method: 'put' | 'post' | 'multipart', body: Buffer): Promise<string> {
  const intent = await stack.call('POST', '/v1/uploads', {
    as: 'tagger',
    body: { filename: 'photo.jpg', contentType: 'image/jpeg', size: body.length, method },
  });
  expect(intent.status, JSON.stringify(intent.json)).toBe(201);
  const { image, upload: u } = intent.json as unknown as Intent;
  if (method === 'put') {
    // Exactly the headers the API returned, as the client SDK sends them.
    const res = await fetch(u.url, { method: 'PUT', headers: u.headers, body: new Uint8Array(body) });
    expect(res.status).toBe(200);
  } else if (method === 'post') {
    const form = new FormData();
    for (const [k, v] of Object.entries(u.fields ?? {})) form.append(k, v);
    form.append('file', new Blob([new Uint8Array(body)]), 'photo.jpg');
    expect((await fetch(u.url, { method: 'POST', body: form })).status).toBe(204);
  } else {
    const parts = await stack.call('POST', `/v1/uploads/${image.id}/parts`, {
      as: 'tagger',
      body: { partNumbers: [1] },
    });
    const [part] = parts.json.parts as { url: string }[];
    const res = await fetch(part!.url, { method: 'PUT', body: new Uint8Array(body) });
    expect(res.status).toBe(200);
    const done = await stack.call('POST', `/v1/uploads/${image.id}/complete`, {
      as: 'tagger',
      body: { parts: [{ partNumber: 1, etag: res.headers.get('etag') }] },
    });
    expect(done.status, JSON.stringify(done.json)).toBe(200);
  }
  return image.id;
}

describe.each(['put', 'post', 'multipart'] as const)('a %s upload', (method) => {
  it('is stored tagged unprocessed; the tag is gone once the image is ready', async () => {
    const id = await upload(method, fs.readFileSync(PHOTO));
    // The worker may already have finished; what it may never do is leave a ready image tagged.
    const early = await tagsOf(id);
    const image = await stack.waitSettled('tagger', id);
    expect(image.status).toBe('ready');
    expect(await tagsOf(id)).toEqual([]);
    expect([[], ['darkroom-state=unprocessed']]).toContainEqual(early);
  });

  it('is tagged unprocessed when the image fails, so its original expires', async () => {
    const id = await upload(method, bytes(2048, 5));
    const image = await stack.waitSettled('tagger', id);
    expect(image.status).toBe('failed');
    expect(await tagsOf(id)).toEqual(['darkroom-state=unprocessed']);
  });
});

describe('when storage refuses to clear the tag', () => {
  it('the image is ready all the same, and its original keeps the tag', async () => {
    const clear = vi
      .spyOn(StorageGateway.prototype, 'clearTags')
      .mockRejectedValue(Object.assign(new Error('Access Denied'), { name: 'AccessDenied' }));
    try {
      const id = await upload('post', fs.readFileSync(PHOTO));
      expect((await stack.waitSettled('tagger', id)).status).toBe('ready');
      expect(clear).toHaveBeenCalledWith(`uploads/${id}`);
      expect(await tagsOf(id)).toEqual(['darkroom-state=unprocessed']);
    } finally {
      clear.mockRestore();
    }
  });
});
