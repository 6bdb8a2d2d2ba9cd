import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { type Db, openDatabase, openSyncReader, type SyncReader } from '../db/connect.ts';
import { ImageRepository, newImageRow } from '../db/images.ts';
import { EventHub, type StatusEvent } from './event-hub.ts';

let dir: string;
let db: Db;
let reader: SyncReader;
let images: ImageRepository;
let hub: EventHub;

beforeEach(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'darkroom-event-hub-'));
  const url = `sqlite:${path.join(dir, 'db.sqlite')}`;
  ({ db } = await openDatabase(url));
  reader = openSyncReader(url)!;
  images = new ImageRepository(db, 'sqlite', { reader });
});
afterEach(async () => {
  await hub.stop();
  reader.close();
  await db.destroy();
  fs.rmSync(dir, { recursive: true, force: true });
});

/** A new pending image of `owner`, committed with its `pending` event (as POST /v1/uploads does). */
async function intent(owner: string, id: string): Promise<void> {
  await images.withOwnerLock(owner, (repo) =>
    repo.insert(
      newImageRow({
        id,
        owner,
        filename: 'a.jpg',
        content_type: 'image/jpeg',
        declared_bytes: 1,
        upload_method: 'put',
      }),
    ),
  );
}

const settle = () => new Promise((resolve) => setTimeout(resolve, 50));

describe('EventHub on SQLite with a synchronous reader', () => {
  it('reads nothing while no stream is open; a stream opened later hears only what comes after', async () => {
    const reads = vi.spyOn(images, 'eventsAfter');
    hub = new EventHub(images, pino({ level: 'silent' }), { pollMs: 20 });
    await hub.start();
    await intent('alice', '00000000-0000-4000-8000-000000000001');
    await intent('alice', '00000000-0000-4000-8000-000000000002');
    await settle();
    // Neither the commits nor the poll timer made it read: every event would have gone to nobody.
    expect(reads).not.toHaveBeenCalled();

    const heard: StatusEvent[] = [];
    const unsubscribe = hub.subscribe(
      'alice',
      (e) => heard.push(e),
      () => undefined,
    );
    // What was committed before the stream opened is behind the horizon (a resuming stream replays it).
    expect(hub.horizon).toBe(2);
    await intent('alice', '00000000-0000-4000-8000-000000000003');
    await vi.waitFor(() =>
      expect(heard.map((e) => e.imageId)).toEqual(['00000000-0000-4000-8000-000000000003']),
    );

    // Another process's commit (here: one the hub is not told of) is found by polling while a stream is open.
    await db
      .insertInto('image_events')
      .values({
        owner: 'alice',
        image_id: '00000000-0000-4000-8000-000000000003',
        status: 'uploaded',
        created_at: 1,
      })
      .execute();
    await vi.waitFor(() => expect(heard.map((e) => e.status)).toEqual(['pending', 'uploaded']));

    unsubscribe();
    await settle();
    reads.mockClear();
    await intent('alice', '00000000-0000-4000-8000-000000000004');
    await settle();
    expect(reads).not.toHaveBeenCalled();
  });
});
