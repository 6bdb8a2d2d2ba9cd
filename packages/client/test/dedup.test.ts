// The SDK and the same photo uploaded again (issue 17.16): the intent answers with the owner's ready image
// holding those bytes, so the upload finishes at once with it, sending nothing; `copy: true` stores it anew.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mintToken } from '../../server/src/api/auth/jwt.ts';
import { JWT_SECRET } from '../../server/test/helpers/api.ts';
import { numberedPhoto } from '../../server/test/helpers/photos.ts';
import { startTestStack, type TestStack } from '../../server/test/helpers/stack.ts';
import { createUploader, type StatusChange, type Transport } from '../src/index.ts';
import { nodeTransport } from '../src/transport-node.ts';

let stack: TestStack;

beforeAll(async () => {
  stack = await startTestStack();
}, 60_000);

afterAll(async () => {
  await stack?.stop();
});

const token = (sub: string) => () => mintToken(JWT_SECRET, { sub, ttlSeconds: 3600 });

/** Counts requests that reach storage. */
function countingTransport() {
  const stats = { requests: 0 };
  const transport: Transport = (req) => {
    stats.requests++;
    return nodeTransport(req);
  };
  return { transport, stats };
}

describe('the SDK and a photo its owner already stored', () => {
  it('finishes at once with the stored image, sending nothing; copy: true stores it again', async () => {
    const { transport, stats } = countingTransport();
    const uploader = createUploader({ endpoint: stack.api, token: token('dedup-ann'), transport });
    // Processed on this device (sharp re-encodes it) both times: the same bytes, the same digest.
    const photo = new File([new Uint8Array(await numberedPhoto(1701))], 'beach.jpg', { type: 'image/jpeg' });

    const first = uploader.upload(photo);
    const stored = await first.result;
    expect(stored.status).toBe('ready');
    expect(first.existing).toBe(false);
    expect(stats.requests).toBe(1);

    const again = uploader.upload(photo, { filename: 'beach again.jpg' });
    const changes: StatusChange[] = [];
    again.on('status', (s) => changes.push(s));
    const image = await again.result;
    expect(again.existing).toBe(true);
    expect(again.imageId).toBe(stored.id);
    expect(image).toMatchObject({ id: stored.id, status: 'ready', filename: stored.filename });
    expect(stats.requests).toBe(1);
    expect(changes.map((c) => c.state)).not.toContain('uploading');
    expect(changes.at(-1)).toMatchObject({ state: 'ready', imageId: stored.id, existing: true, image });
    expect(again.prepared?.sha256).toBe(first.prepared?.sha256);

    const copy = uploader.upload(photo, { copy: true });
    const copied = await copy.result;
    expect(copy.existing).toBe(false);
    expect(copied.id).not.toBe(stored.id);
    expect(copied).toMatchObject({ status: 'ready', bytes: stored.bytes });
    expect(stats.requests).toBe(2);

    const list = await stack.call('GET', '/v1/images', { as: 'dedup-ann' });
    expect((list.json.images as { id: string }[]).map((i) => i.id).sort()).toEqual(
      [stored.id, copied.id].sort(),
    );
    uploader.close();
  });

  it('uploads a photo another owner stored as usual', async () => {
    const photo = new File([new Uint8Array(await numberedPhoto(1702))], 'city.jpg', { type: 'image/jpeg' });
    const first = createUploader({ endpoint: stack.api, token: token('dedup-ben'), liveStatus: false });
    const theirs = await first.upload(photo).result;
    const { transport, stats } = countingTransport();
    const second = createUploader({
      endpoint: stack.api,
      token: token('dedup-cy'),
      transport,
      liveStatus: false,
    });
    const handle = second.upload(photo);
    const mine = await handle.result;
    expect(handle.existing).toBe(false);
    expect(mine.id).not.toBe(theirs.id);
    expect(stats.requests).toBe(1);
    first.close();
    second.close();
  });
});
