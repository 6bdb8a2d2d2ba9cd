import { sql } from 'kysely';
import type { Db, Dialect } from './connect.ts';
import type { ImageStatus, ImagesTable } from './schema.ts';

export type ImageRow = ImagesTable;

/** What an owner has in flight, for the per-owner limits. */
export interface OwnerUsage {
  intentsLastMinute: number;
  /** When the oldest intent in the last minute leaves the window (ms epoch), if any. */
  oldestIntentAt: number | undefined;
  pending: number;
  bytes: number;
}

const MINUTE = 60_000;
const INTENT_LOG_KEEP = 60 * MINUTE;

/** Image records, always scoped to their owner where a caller is involved. */
export class ImageRepository {
  constructor(
    readonly db: Db,
    readonly dialect: Dialect,
  ) {}

  /**
   * Runs `fn` in a transaction that holds a per-owner lock, so concurrent intents of one owner
   * see each other's rows when checking limits. SQLite transactions are already serialised.
   */
  async withOwnerLock<T>(owner: string, fn: (repo: ImageRepository) => Promise<T>): Promise<T> {
    return this.db.transaction().execute(async (trx) => {
      if (this.dialect === 'postgres')
        await sql`SELECT pg_advisory_xact_lock(hashtext(${owner}))`.execute(trx);
      return fn(new ImageRepository(trx, this.dialect));
    });
  }

  /** Counts what limits are measured against. */
  async usage(owner: string, now: number): Promise<OwnerUsage> {
    const intents = await this.db
      .selectFrom('intent_log')
      .select([
        (eb) => eb.fn.countAll<number>().as('n'),
        (eb) => eb.fn.min<number>('created_at').as('oldest'),
      ])
      .where('owner', '=', owner)
      .where('created_at', '>', now - MINUTE)
      .executeTakeFirstOrThrow();
    const images = await this.db
      .selectFrom('images')
      .select([
        (eb) => eb.fn.sum<number>(eb.fn.coalesce('bytes', 'declared_bytes')).as('bytes'),
        (eb) => eb.fn.countAll<number>().filterWhere('status', '=', 'pending').as('pending'),
      ])
      .where('owner', '=', owner)
      .where('status', '!=', 'deleted')
      .executeTakeFirstOrThrow();
    return {
      intentsLastMinute: Number(intents.n),
      oldestIntentAt: intents.oldest === null ? undefined : Number(intents.oldest),
      pending: Number(images.pending ?? 0),
      bytes: Number(images.bytes ?? 0),
    };
  }

  /** Records an intent and prunes the owner's log beyond the window any limit looks at. */
  async logIntent(owner: string, now: number): Promise<void> {
    await this.db.insertInto('intent_log').values({ owner, created_at: now }).execute();
    await this.db
      .deleteFrom('intent_log')
      .where('owner', '=', owner)
      .where('created_at', '<', now - INTENT_LOG_KEEP)
      .execute();
  }

  async insert(row: ImageRow): Promise<void> {
    await this.db.insertInto('images').values(row).execute();
  }

  /** The owner's image, or undefined (also when it belongs to someone else). */
  async findOwned(owner: string, id: string): Promise<ImageRow | undefined> {
    return this.db
      .selectFrom('images')
      .selectAll()
      .where('id', '=', id)
      .where('owner', '=', owner)
      .executeTakeFirst();
  }

  async findById(id: string): Promise<ImageRow | undefined> {
    return this.db.selectFrom('images').selectAll().where('id', '=', id).executeTakeFirst();
  }

  /** One page of the owner's images, newest first, after the (created_at, id) cursor. */
  async listOwned(
    owner: string,
    limit: number,
    after?: { createdAt: number; id: string },
  ): Promise<ImageRow[]> {
    let q = this.db
      .selectFrom('images')
      .selectAll()
      .where('owner', '=', owner)
      .where('status', '!=', 'deleted')
      .orderBy('created_at', 'desc')
      .orderBy('id', 'desc')
      .limit(limit);
    if (after) {
      q = q.where((eb) =>
        eb.or([
          eb('created_at', '<', after.createdAt),
          eb.and([eb('created_at', '=', after.createdAt), eb('id', '<', after.id)]),
        ]),
      );
    }
    return q.execute();
  }

  /**
   * Applies `patch` only while the image is in one of `from` statuses; returns whether it did.
   * This compare-and-set is what keeps duplicate deliveries and racing requests from doubling effects.
   */
  async transition(
    id: string,
    from: readonly ImageStatus[],
    patch: Partial<ImageRow>,
    now = Date.now(),
  ): Promise<boolean> {
    const res = await this.db
      .updateTable('images')
      .set({ ...patch, updated_at: now })
      .where('id', '=', id)
      .where('status', 'in', from)
      .executeTakeFirst();
    return Number(res.numUpdatedRows) > 0;
  }

  async delete(id: string): Promise<void> {
    await this.db.deleteFrom('images').where('id', '=', id).execute();
  }

  /** Cheap liveness probe for /healthz. */
  async ping(): Promise<void> {
    await sql`SELECT 1`.execute(this.db);
  }
}
