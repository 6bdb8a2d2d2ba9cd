import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { sql } from 'kysely';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type Db, openDatabase } from './connect.ts';
import { GroupCommit } from './group-commit.ts';

let dir: string;
let db: Db;

beforeEach(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'darkroom-group-commit-'));
  ({ db } = await openDatabase(`sqlite:${path.join(dir, 'db.sqlite')}`));
});
afterEach(async () => {
  await db.destroy();
  fs.rmSync(dir, { recursive: true, force: true });
});

const addIntent = (owner: string, at: number) => (trx: Db) =>
  trx.insertInto('intent_log').values({ owner, created_at: at }).execute();
const owners = async () =>
  (await db.selectFrom('intent_log').select('owner').orderBy('created_at').execute()).map((r) => r.owner);

describe('GroupCommit', () => {
  it('commits concurrent units together, each sees the ones before it', async () => {
    const group = new GroupCommit(db);
    const seen = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        group.run(async (trx) => {
          await addIntent(`o${i}`, i)(trx);
          const { rows } = await sql<{ n: number }>`SELECT count(*) AS n FROM intent_log`.execute(trx);
          return Number(rows[0]!.n);
        }),
      ),
    );
    // Serial inside the batch: unit i sees i + 1 rows.
    expect(seen).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    expect(await owners()).toHaveLength(20);
  });

  it('commits the units of one turn of the event loop in one transaction', async () => {
    // A transaction settles in microtasks alone, so a batch that started at the first unit held only it.
    const group = new GroupCommit(db);
    const other = (await openDatabase(`sqlite:${path.join(dir, 'db.sqlite')}`)).db;
    try {
      const committedBefore = await Promise.all(
        Array.from({ length: 10 }, (_, i) =>
          group.run(async (trx) => {
            await addIntent(`o${i}`, i)(trx);
            const { rows } = await sql<{ n: number }>`SELECT count(*) AS n FROM intent_log`.execute(other);
            return Number(rows[0]!.n);
          }),
        ),
      );
      // Nothing was committed while any of them ran: they all shared the one commit.
      expect(committedBefore).toEqual(Array.from({ length: 10 }, () => 0));
    } finally {
      await other.destroy();
    }
  });

  it('rolls back a unit that throws, alone', async () => {
    const group = new GroupCommit(db);
    const results = await Promise.allSettled([
      group.run(addIntent('a', 1)),
      group.run(async (trx) => {
        await addIntent('doomed', 2)(trx);
        throw new Error('limit exceeded');
      }),
      group.run(addIntent('c', 3)),
    ]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect((results[1] as PromiseRejectedResult).reason.message).toBe('limit exceeded');
    expect(await owners()).toEqual(['a', 'c']);
  });

  it('settles a unit only once its batch is committed (another connection sees it)', async () => {
    const group = new GroupCommit(db);
    const other = (await openDatabase(`sqlite:${path.join(dir, 'db.sqlite')}`)).db;
    try {
      const visibleAtSettle = await Promise.all(
        ['a', 'b', 'c'].map((owner, i) =>
          group.run(addIntent(owner, i)).then(async () => {
            const row = await other
              .selectFrom('intent_log')
              .select('owner')
              .where('owner', '=', owner)
              .executeTakeFirst();
            return row?.owner;
          }),
        ),
      );
      expect(visibleAtSettle).toEqual(['a', 'b', 'c']);
    } finally {
      await other.destroy();
    }
  });
});
