import { type CompiledQuery, type QueryResult, sql } from 'kysely';
import type { Db, Dialect, SyncReader } from './connect.ts';
import { GroupCommit } from './group-commit.ts';
import type { ImageStatus, ImagesTable } from './schema.ts';
import { statusEventsCommitted } from './status-signal.ts';

export type ImageRow = ImagesTable;

/** The columns delivery decides on: whether an image may be served, and what it can be rendered from. */
export type DeliveryRow = Pick<
  ImageRow,
  'id' | 'status' | 'visibility' | 'format' | 'variants' | 'updated_at'
>;

/** A status event and, while it exists, its image. */
export interface EventWithImage {
  id: number;
  owner: string;
  image_id: string;
  status: ImageStatus;
  created_at: number;
  image: ImageRow | undefined;
}

/** A new image row: what an intent declares, every processing result still empty. */
export function newImageRow(
  fields: Pick<ImageRow, 'id' | 'owner' | 'filename' | 'content_type' | 'declared_bytes' | 'upload_method'> &
    Partial<ImageRow>,
  now = Date.now(),
): ImageRow {
  return {
    status: 'pending',
    bytes: null,
    sha256: null,
    client_thumbhash: null,
    visibility: 'public',
    multipart_upload_id: null,
    part_size: null,
    part_count: null,
    etag: null,
    lease_token: null,
    lease_until: null,
    width: null,
    height: null,
    format: null,
    thumbhash: null,
    dominant_color: null,
    transparent: null,
    variants: '{}',
    error_code: null,
    error_message: null,
    created_at: now,
    updated_at: now,
    ...fields,
  };
}

/** Every column of an image row, in the order the compiled insert binds them. */
const IMAGE_COLUMNS_TEMPLATE: ImageRow = newImageRow({
  id: '',
  owner: '',
  filename: '',
  content_type: '',
  declared_bytes: 0,
  upload_method: 'put',
});
const IMAGE_COLUMNS = Object.keys(IMAGE_COLUMNS_TEMPLATE) as (keyof ImageRow)[];

/** The statements {@link ImageRepository} compiles once, by engine and name. */
const compiledStatements = new Map<string, CompiledQuery<unknown>>();

/** What an owner has in flight, for the per-owner limits. */
export interface OwnerUsage {
  intentsLastMinute: number;
  /** When the oldest intent in the last minute leaves the window (ms epoch), if any. */
  oldestIntentAt: number | undefined;
  pending: number;
  bytes: number;
}

const MINUTE = 60_000;
const LAST_EVENT_ID_SQL = 'SELECT max(id) AS id FROM image_events';
const INTENT_LOG_KEEP = 60 * MINUTE;
const PRUNE_EVERY = 256;
let intentsSincePrune = 0;

/** What a transaction did that matters once it commits. */
interface TransactionScope {
  /** It appended status events: the SSE hubs of this process are told after the commit. */
  loggedEvents: boolean;
}

/** Image records, always scoped to their owner where a caller is involved. */
export class ImageRepository {
  private compiledDelivery: CompiledQuery<DeliveryRow> | undefined;
  /** SQLite serialises writers, so owner-locked units are batched into shared commits there. */
  private readonly groupCommit: GroupCommit | undefined;

  private readonly scope: TransactionScope | undefined;
  private readonly reader: SyncReader | undefined;

  constructor(
    readonly db: Db,
    readonly dialect: Dialect,
    opts: {
      /** Set on the repository a transaction of ours runs with. */
      scope?: TransactionScope;
      /** SQLite: where {@link deliveryRowNow} reads. */
      reader?: SyncReader;
    } = {},
  ) {
    this.scope = opts.scope;
    this.reader = opts.reader;
    this.groupCommit = dialect === 'sqlite' && !db.isTransaction ? new GroupCommit(db) : undefined;
  }

  /**
   * Runs a statement of the upload-intent path compiled once per engine, with `parameters` in the order
   * of the placeholders `build` compiled. Building and compiling a Kysely query cost more than SQLite
   * running it, and these run several times per intent.
   */
  private runCompiled<R>(
    name: string,
    build: (db: Db) => CompiledQuery<unknown>,
    parameters: readonly unknown[],
  ): Promise<QueryResult<R>> {
    const key = `${this.dialect} ${name}`;
    let query = compiledStatements.get(key);
    if (!query) {
      query = build(this.db);
      compiledStatements.set(key, query);
    }
    return this.db.executeQuery<R>({ ...(query as CompiledQuery<R>), parameters });
  }

  /** Runs `fn` with a repository on `trx`; once `run` (the transaction) has committed, tells the hubs. */
  private async inTransaction<T>(
    run: (fn: (trx: Db) => Promise<T>) => Promise<T>,
    fn: (repo: ImageRepository) => Promise<T>,
  ): Promise<T> {
    const scope: TransactionScope = { loggedEvents: false };
    const result = await run((trx) => fn(new ImageRepository(trx, this.dialect, { scope })));
    if (scope.loggedEvents) statusEventsCommitted();
    return result;
  }

  /**
   * Runs `fn` in a transaction that holds a per-owner lock, so concurrent intents of one owner
   * see each other's rows when checking limits. SQLite serialises transactions already, so there
   * concurrent units share one (group) commit instead.
   */
  async withOwnerLock<T>(owner: string, fn: (repo: ImageRepository) => Promise<T>): Promise<T> {
    const groupCommit = this.groupCommit;
    if (groupCommit) return this.inTransaction((unit) => groupCommit.run(unit), fn);
    return this.inTransaction(
      (unit) =>
        this.db.transaction().execute(async (trx) => {
          await sql`SELECT pg_advisory_xact_lock(hashtext(${owner}))`.execute(trx);
          return unit(trx);
        }),
      fn,
    );
  }

  /**
   * What the limits are measured against. Counts stop at the limit they are compared with, so the
   * cost stays bounded however many images an owner has; bytes come from a running total.
   */
  async usage(
    owner: string,
    now: number,
    caps: { perMinute: number; maxPending: number },
  ): Promise<OwnerUsage> {
    // One statement: inside the owner's transaction every round trip is time other intents wait. The caps
    // are written into it as literals (they are the configured limits, integers, so a handful of shapes):
    // SQLite re-prepares a statement with a bound LIMIT at every step, which cost more than running it.
    const since = now - MINUTE;
    const perMinute = Math.trunc(caps.perMinute);
    const maxPending = Math.trunc(caps.maxPending);
    const { rows } = await this.runCompiled<{
      intents: number;
      oldest: number | null;
      pending: number;
      bytes: number | null;
    }>(
      `usage ${perMinute} ${maxPending}`,
      (db) =>
        sql`
      SELECT
        (SELECT count(*) FROM (SELECT 1 FROM intent_log WHERE owner = ${''} AND created_at > ${0} LIMIT ${sql.lit(perMinute)}) i) AS intents,
        (SELECT min(created_at) FROM intent_log WHERE owner = ${''} AND created_at > ${0}) AS oldest,
        (SELECT count(*) FROM (SELECT 1 FROM images WHERE owner = ${''} AND status = 'pending' LIMIT ${sql.lit(maxPending)}) p) AS pending,
        (SELECT bytes FROM owner_usage WHERE owner = ${''}) AS bytes`.compile(db),
      [owner, since, owner, since, owner, owner],
    );
    const row = rows[0]!;
    return {
      intentsLastMinute: Number(row.intents),
      oldestIntentAt: row.oldest === null ? undefined : Number(row.oldest),
      pending: Number(row.pending),
      bytes: Number(row.bytes ?? 0),
    };
  }

  /** Adds `delta` to the owner's stored-bytes total. */
  private async addBytes(owner: string, delta: number): Promise<void> {
    if (delta === 0) return;
    await this.runCompiled(
      'addBytes',
      (db) =>
        db
          .insertInto('owner_usage')
          .values({ owner: '', bytes: 0 })
          .onConflict((oc) => oc.column('owner').doUpdateSet({ bytes: sql`owner_usage.bytes + ${0}` }))
          .compile(),
      [owner, delta, delta],
    );
  }

  /**
   * Records an upload intent and its pending image (`row`, created at the intent's time): the intent log,
   * the image, the owner's bytes and the status event. On PostgreSQL it is one statement (data-modifying
   * CTEs): inside the owner's lock each statement is a round trip, and each round trip costs the API a
   * socket write and read (~60 µs of its CPU per statement, bench:presign). SQLite runs the
   * statements in process.
   */
  async recordIntent(row: ImageRow): Promise<void> {
    if (this.dialect === 'sqlite') {
      await this.logIntent(row.owner, row.created_at);
      await this.insert(row);
      return;
    }
    await this.runCompiled(
      'recordIntent',
      (db) =>
        sql`WITH
          intent AS (INSERT INTO intent_log (owner, created_at) VALUES (${''}, ${0})),
          image AS (INSERT INTO images (${sql.join(IMAGE_COLUMNS.map((c) => sql.ref(c)))})
            VALUES (${sql.join(IMAGE_COLUMNS.map(() => null))})),
          usage AS (INSERT INTO owner_usage (owner, bytes) VALUES (${''}, ${0})
            ON CONFLICT (owner) DO UPDATE SET bytes = owner_usage.bytes + ${0})
        INSERT INTO image_events (owner, image_id, status, created_at) VALUES (${''}, ${''}, ${''}, ${0})`.compile(
          db,
        ),
      [
        row.owner,
        row.created_at,
        ...IMAGE_COLUMNS.map((c) => row[c] ?? null),
        row.owner,
        row.declared_bytes,
        row.declared_bytes,
        row.owner,
        row.id,
        row.status,
        row.created_at,
      ],
    );
    this.eventLogged();
    await this.pruneIntentLog(row.created_at);
  }

  /** Records an intent; now and then prunes the log beyond the window any limit looks at. */
  private async logIntent(owner: string, now: number): Promise<void> {
    await this.runCompiled(
      'logIntent',
      (db) => db.insertInto('intent_log').values({ owner: '', created_at: 0 }).compile(),
      [owner, now],
    );
    await this.pruneIntentLog(now);
  }

  /** Pruning on every intent would add a statement to each; old rows only cost a little space. */
  private async pruneIntentLog(now: number): Promise<void> {
    if (++intentsSincePrune < PRUNE_EVERY) return;
    intentsSincePrune = 0;
    await this.db
      .deleteFrom('intent_log')
      .where('created_at', '<', now - INTENT_LOG_KEEP)
      .execute();
  }

  /** Inserts a new image; its declared size counts against the owner's quota from now on. */
  async insert(row: ImageRow): Promise<void> {
    await this.runCompiled(
      'insertImage',
      (db) => db.insertInto('images').values(IMAGE_COLUMNS_TEMPLATE).compile(),
      IMAGE_COLUMNS.map((c) => row[c] ?? null),
    );
    await this.addBytes(row.owner, row.declared_bytes);
    await this.logEvent(row.owner, row.id, row.status, row.created_at);
  }

  /** Appends a status change to the owner's event log (what GET /v1/events streams). */
  private async logEvent(owner: string, imageId: string, status: ImageStatus, at: number): Promise<void> {
    await this.runCompiled(
      'logEvent',
      (db) =>
        db
          .insertInto('image_events')
          .values({ owner: '', image_id: '', status: 'pending', created_at: 0 })
          .compile(),
      [owner, imageId, status, at],
    );
    this.eventLogged();
  }

  /** Inside one of our transactions the hubs hear of an event after the commit; otherwise it is committed. */
  private eventLogged(): void {
    if (this.scope) this.scope.loggedEvents = true;
    else statusEventsCommitted();
  }

  /** Runs `fn` in a transaction, or in the current one when this repository is already inside one. */
  private async atomically<T>(fn: (repo: ImageRepository) => Promise<T>): Promise<T> {
    if (this.db.isTransaction) return fn(this);
    return this.inTransaction((unit) => this.db.transaction().execute(unit), fn);
  }

  /** The owner's status changes after event `afterId` and up to `upTo`, oldest first. */
  async eventsSince(owner: string, afterId: number, limit = 100, upTo = Number.MAX_SAFE_INTEGER) {
    return this.db
      .selectFrom('image_events')
      .select(['id', 'image_id', 'status', 'created_at'])
      .where('owner', '=', owner)
      .where('id', '>', afterId)
      .where('id', '<=', upTo)
      .orderBy('id')
      .limit(limit)
      .execute();
  }

  /**
   * The transactions that could still commit status events, as PostgreSQL's current snapshot bounds:
   * every transaction id below `xmin` has finished; every one that had started has an id below `xmax`.
   * Undefined on SQLite, where one writer at a time commits, so events become visible in id order.
   */
  async writersSnapshot(): Promise<{ xmin: bigint; xmax: bigint } | undefined> {
    if (this.dialect !== 'postgres') return undefined;
    const { rows } = await sql<{ xmin: string; xmax: string }>`
      SELECT pg_snapshot_xmin(s)::text AS xmin, pg_snapshot_xmax(s)::text AS xmax
      FROM pg_current_snapshot() AS s`.execute(this.db);
    return { xmin: BigInt(rows[0]!.xmin), xmax: BigInt(rows[0]!.xmax) };
  }

  /**
   * Everyone's status changes after event `afterId`, oldest first, each with its image as it is now
   * (undefined once deleted): what the SSE hub fans out, read in one round trip so that no stream has
   * to look the image up again.
   */
  async eventsAfter(afterId: number, limit = 500): Promise<EventWithImage[]> {
    const rows = await this.db
      .selectFrom('image_events')
      .leftJoin('images', (j) =>
        j.onRef('images.id', '=', 'image_events.image_id').onRef('images.owner', '=', 'image_events.owner'),
      )
      .select([
        'image_events.id as event_id',
        'image_events.owner as event_owner',
        'image_events.image_id as event_image_id',
        'image_events.status as event_status',
        'image_events.created_at as event_at',
      ])
      .selectAll('images')
      .where('image_events.id', '>', afterId)
      .orderBy('image_events.id')
      .limit(limit)
      .execute();
    return rows.map(({ event_id, event_owner, event_image_id, event_status, event_at, ...image }) => ({
      id: event_id,
      owner: event_owner,
      image_id: event_image_id,
      status: event_status,
      created_at: event_at,
      // Every column of a missing image is null; id is never null on a row that exists.
      image: image.id === null ? undefined : (image as ImageRow),
    }));
  }

  /** The newest event id of any owner (where a fresh SSE stream starts). */
  async lastEventId(): Promise<number> {
    const row = await this.db
      .selectFrom('image_events')
      .select((eb) => eb.fn.max('id').as('id'))
      .executeTakeFirst();
    return Number(row?.id ?? 0);
  }

  /** Whether {@link lastEventIdNow} can answer (SQLite with a reader). */
  get readsNow(): boolean {
    return this.reader !== undefined;
  }

  /**
   * {@link lastEventId} read synchronously from the last committed state (SQLite with a reader), `false`
   * where the engine does not allow it.
   */
  lastEventIdNow(): number | false {
    if (!this.reader) return false;
    return Number(this.reader.get<{ id: number | null }>(LAST_EVENT_ID_SQL, [])?.id ?? 0);
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

  /**
   * The owner's oldest ready image of `visibility` whose original has SHA-256 `sha256` (base64, as the
   * worker computed it) and `bytes` bytes (at most `bytes` when `upTo`), or undefined.
   */
  async findReadyBySha256(
    owner: string,
    sha256: string,
    visibility: ImageRow['visibility'],
    bytes: number,
    upTo = false,
  ): Promise<ImageRow | undefined> {
    // Compiled once: the SDK sends a sha256 with every intent, so this runs before most of them.
    const { rows } = await this.runCompiled<ImageRow>(
      upTo ? 'readyBySha256UpTo' : 'readyBySha256',
      (db) =>
        db
          .selectFrom('images')
          .selectAll()
          .where('owner', '=', '')
          .where('sha256', '=', '')
          .where('status', '=', 'ready')
          .where('visibility', '=', 'public')
          .where('bytes', upTo ? '<=' : '=', 0)
          .orderBy('created_at')
          .orderBy('id')
          .limit(1)
          .compile(),
      [owner, sha256, 'ready', visibility, bytes, 1],
    );
    return rows[0];
  }

  /** The delivery lookup, compiled once for this engine; each request runs it with its id. */
  private deliveryQuery(): CompiledQuery<DeliveryRow> {
    // Building and compiling a Kysely query costs more than SQLite answering it, and this runs on every
    // delivery request.
    this.compiledDelivery ??= this.db
      .selectFrom('images')
      .select(['id', 'status', 'visibility', 'format', 'variants', 'updated_at'])
      .where('id', '=', '')
      .compile();
    return this.compiledDelivery;
  }

  /** What the delivery route checks before serving an image's object (see {@link DeliveryRow}). */
  async deliveryRow(id: string): Promise<DeliveryRow | undefined> {
    const { rows } = await this.db.executeQuery<DeliveryRow>({ ...this.deliveryQuery(), parameters: [id] });
    return rows[0];
  }

  /**
   * {@link deliveryRow} read synchronously from the last committed state, where the engine allows it
   * (SQLite with a reader); `false` when it does not (ask {@link deliveryRow}).
   */
  deliveryRowNow(id: string): DeliveryRow | undefined | false {
    if (!this.reader) return false;
    return this.reader.get<DeliveryRow>(this.deliveryQuery().sql, [id]);
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
    return this.atomically(async (repo) => {
      const row = await repo.db
        .updateTable('images')
        .set({ ...patch, updated_at: now })
        .where('id', '=', id)
        .where('status', 'in', from)
        .returning(['owner'])
        .executeTakeFirst();
      if (row && patch.status) await repo.logEvent(row.owner, id, patch.status, now);
      return row !== undefined;
    });
  }

  /**
   * Records the original storage holds: pending → uploaded with its real size and ETag, or, while the
   * image is still `uploaded` (no worker has claimed it), a newer original written through the same URL
   * replaces the one recorded. The owner's usage follows the real size. False when nothing changed (a
   * claimed or final image keeps its approved original; see {@link claim}).
   */
  async recordOriginal(id: string, bytes: number, etag: string, now = Date.now()): Promise<boolean> {
    return this.atomically(async (repo) => {
      const row = await repo.db
        .selectFrom('images')
        .select(['owner', 'status', 'bytes', 'declared_bytes', 'etag'])
        .where('id', '=', id)
        .executeTakeFirst();
      if (!row || (row.status !== 'pending' && row.status !== 'uploaded') || row.etag === etag) return false;
      const updated = await repo.db
        .updateTable('images')
        .set({ status: 'uploaded', bytes, etag, updated_at: now })
        .where('id', '=', id)
        .where('status', '=', row.status)
        .where((eb) => (row.etag === null ? eb('etag', 'is', null) : eb('etag', '=', row.etag)))
        .executeTakeFirst();
      if (Number(updated.numUpdatedRows) === 0) return false;
      const counted = row.status === 'pending' ? row.declared_bytes : (row.bytes ?? row.declared_bytes);
      await repo.addBytes(row.owner, bytes - counted);
      if (row.status === 'pending') await repo.logEvent(row.owner, id, 'uploaded', now);
      return true;
    });
  }

  /**
   * Claims an uploaded image for developing its original `etag`: uploaded → processing, held by `token`
   * until `now + leaseMs`. A `processing` image is taken over only when its claim lapsed or `token` is
   * the holder's own (the same message delivered again: its first holder is gone). False when the image
   * is not at this ETag or someone else holds it: the caller drops its message without decoding anything.
   */
  async claim(id: string, etag: string, token: string, leaseMs: number, now = Date.now()): Promise<boolean> {
    return this.atomically(async (repo) => {
      const row = await repo.db
        .updateTable('images')
        .set({ status: 'processing', lease_token: token, lease_until: now + leaseMs, updated_at: now })
        .where('id', '=', id)
        .where('etag', '=', etag)
        .where((eb) =>
          eb.or([
            eb('status', '=', 'uploaded'),
            eb.and([
              eb('status', '=', 'processing'),
              eb.or([
                eb('lease_until', 'is', null),
                eb('lease_until', '<', now),
                eb('lease_token', '=', token),
              ]),
            ]),
          ]),
        )
        .returning(['owner'])
        .executeTakeFirst();
      if (row) await repo.logEvent(row.owner, id, 'processing', now);
      return row !== undefined;
    });
  }

  /** Extends the claim `token` holds; false when it no longer holds it (taken over, finished, deleted). */
  async renewClaim(id: string, token: string, leaseMs: number, now = Date.now()): Promise<boolean> {
    const res = await this.db
      .updateTable('images')
      .set({ lease_until: now + leaseMs })
      .where('id', '=', id)
      .where('status', '=', 'processing')
      .where('lease_token', '=', token)
      .executeTakeFirst();
    return Number(res.numUpdatedRows) > 0;
  }

  /**
   * Ends the claim `token` holds with `patch` (ready or failed); false when the claim is no longer its
   * own, so a worker that lost its claim never overwrites the outcome of the one that took over.
   */
  async finishClaim(id: string, token: string, patch: Partial<ImageRow>, now = Date.now()): Promise<boolean> {
    return this.atomically(async (repo) => {
      const row = await repo.db
        .updateTable('images')
        .set({ ...patch, lease_token: null, lease_until: null, updated_at: now })
        .where('id', '=', id)
        .where('status', '=', 'processing')
        .where('lease_token', '=', token)
        .returning(['owner'])
        .executeTakeFirst();
      if (row && patch.status) await repo.logEvent(row.owner, id, patch.status, now);
      return row !== undefined;
    });
  }

  /** Deletes the record, gives its bytes back to the owner's quota, and logs `deleted`. */
  async delete(id: string, now = Date.now()): Promise<void> {
    await this.atomically(async (repo) => {
      const row = await repo.db
        .deleteFrom('images')
        .where('id', '=', id)
        .returning(['owner', 'bytes', 'declared_bytes'])
        .executeTakeFirst();
      if (row) {
        await repo.addBytes(row.owner, -(row.bytes ?? row.declared_bytes));
        await repo.logEvent(row.owner, id, 'deleted', now);
      }
    });
  }

  /** Images still in one of `statuses` that were last touched before `before` (oldest first), for the sweeps. */
  async staleImages(statuses: readonly ImageStatus[], before: number, limit: number): Promise<ImageRow[]> {
    return this.db
      .selectFrom('images')
      .selectAll()
      .where('status', 'in', statuses)
      .where('updated_at', '<', before)
      .orderBy('updated_at')
      .limit(limit)
      .execute();
  }

  /** Which of these ids have a record (any status). */
  async existingIds(ids: readonly string[]): Promise<Set<string>> {
    if (ids.length === 0) return new Set();
    const rows = await this.db.selectFrom('images').select('id').where('id', 'in', ids).execute();
    return new Set(rows.map((r) => r.id));
  }

  /** Drops status events older than `before` (SSE resume reaches back that far at most). */
  async pruneEvents(before: number): Promise<number> {
    const res = await this.db.deleteFrom('image_events').where('created_at', '<', before).executeTakeFirst();
    return Number(res.numDeletedRows);
  }

  /** Cheap liveness probe for /healthz. */
  async ping(): Promise<void> {
    await sql`SELECT 1`.execute(this.db);
  }
}
