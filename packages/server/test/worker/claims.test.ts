import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase } from '../../src/db/connect.ts';
import { ImageRepository, newImageRow } from '../../src/db/images.ts';
import { createPgDatabase } from '../helpers/api.ts';

// The claim a worker takes before developing (issue 18.1, 16.4), on both databases: one holder per
// approved original, the same message may take its own claim over, a lapsed claim may be taken, and an
// original is replaced only before anyone claims it.

const LEASE = 60_000;

describe.each(['sqlite', 'postgres'] as const)('image claims (%s)', (kind) => {
  let images: ImageRepository;
  let close: () => Promise<void>;

  beforeAll(async () => {
    if (kind === 'sqlite') {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'darkroom-claims-'));
      const { db, dialect } = await openDatabase(`sqlite:${path.join(dir, 'db.sqlite')}`);
      images = new ImageRepository(db, dialect);
      close = async () => {
        await db.destroy();
        fs.rmSync(dir, { recursive: true, force: true });
      };
    } else {
      const pg = await createPgDatabase();
      const { db, dialect } = await openDatabase(pg.url);
      images = new ImageRepository(db, dialect);
      close = async () => {
        await db.destroy();
        await pg.drop();
      };
    }
  });
  afterAll(() => close());

  async function uploaded(etag = 'a'): Promise<string> {
    const id = randomUUID();
    await images.insert(
      newImageRow({
        id,
        owner: `claims-${kind}`,
        filename: 'x.jpg',
        content_type: 'image/jpeg',
        declared_bytes: 100,
        upload_method: 'put',
      }),
    );
    expect(await images.recordOriginal(id, 100, etag)).toBe(true);
    return id;
  }

  it('gives one holder per original; other messages find it held', async () => {
    const id = await uploaded();
    expect(await images.claim(id, 'a', 'm1', LEASE)).toBe(true);
    expect(await images.claim(id, 'a', 'm2', LEASE)).toBe(false);
    // Another ETag never claims, held or not.
    expect(await images.claim(id, 'b', 'm3', LEASE)).toBe(false);
    expect((await images.findById(id))?.lease_token).toBe('m1');
  });

  it('lets the same message take its claim over, and anyone take a lapsed one', async () => {
    const id = await uploaded();
    const t0 = Date.now();
    expect(await images.claim(id, 'a', 'm1', LEASE, t0)).toBe(true);
    expect(await images.claim(id, 'a', 'm1', LEASE, t0 + 1000)).toBe(true);
    expect(await images.claim(id, 'a', 'm2', LEASE, t0 + 2000)).toBe(false);
    expect(await images.claim(id, 'a', 'm2', LEASE, t0 + 1000 + LEASE + 1)).toBe(true);
    // The old holder lost it: it can neither renew nor finish.
    expect(await images.renewClaim(id, 'm1', LEASE)).toBe(false);
    expect(await images.finishClaim(id, 'm1', { status: 'ready' })).toBe(false);
    expect(await images.finishClaim(id, 'm2', { status: 'ready' })).toBe(true);
    const row = await images.findById(id);
    expect(row).toMatchObject({ status: 'ready', lease_token: null, lease_until: null });
  });

  it('replaces the original only before a claim; the owner’s usage follows the real size', async () => {
    const id = await uploaded('a');
    expect(await images.recordOriginal(id, 60, 'b')).toBe(true);
    const owner = `claims-${kind}`;
    const usage = async () => (await images.usage(owner, Date.now(), { perMinute: 1, maxPending: 1 })).bytes;
    const before = await usage();
    expect(await images.recordOriginal(id, 90, 'c')).toBe(true);
    expect(await usage()).toBe(before + 30);
    expect(await images.claim(id, 'c', 'm1', LEASE)).toBe(true);
    expect(await images.recordOriginal(id, 100, 'd')).toBe(false);
    expect((await images.findById(id))?.etag).toBe('c');
  });
});
