import { type Kysely, type Migration, type MigrationProvider, Migrator, sql } from 'kysely';

/** The PostgreSQL channel every commit that appends status events notifies (no payload). */
export const STATUS_EVENTS_CHANNEL = 'darkroom_image_events';

// Migrations live in code (not files on disk) so they ship with the CLI and run at start-up.
const migrations = (dialect: 'sqlite' | 'postgres'): Record<string, Migration> => ({
  '0001_images': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('images')
        .addColumn('id', 'varchar(64)', (c) => c.primaryKey())
        .addColumn('owner', 'varchar(255)', (c) => c.notNull())
        .addColumn('status', 'varchar(16)', (c) => c.notNull())
        .addColumn('filename', 'varchar(1024)', (c) => c.notNull())
        .addColumn('content_type', 'varchar(255)', (c) => c.notNull())
        .addColumn('declared_bytes', 'bigint', (c) => c.notNull())
        .addColumn('bytes', 'bigint')
        .addColumn('sha256', 'varchar(64)')
        .addColumn('client_thumbhash', 'varchar(255)')
        .addColumn('visibility', 'varchar(16)', (c) => c.notNull())
        .addColumn('upload_method', 'varchar(16)', (c) => c.notNull())
        .addColumn('multipart_upload_id', 'varchar(1024)')
        .addColumn('part_size', 'bigint')
        .addColumn('part_count', 'integer')
        .addColumn('etag', 'varchar(128)')
        .addColumn('width', 'integer')
        .addColumn('height', 'integer')
        .addColumn('format', 'varchar(16)')
        .addColumn('thumbhash', 'varchar(255)')
        .addColumn('dominant_color', 'varchar(16)')
        .addColumn('variants', 'text', (c) => c.notNull().defaultTo('{}'))
        .addColumn('error_code', 'varchar(64)')
        .addColumn('error_message', 'text')
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('updated_at', 'bigint', (c) => c.notNull())
        .execute();
      // GET /v1/images: one owner's images, newest first, keyset-paginated on (created_at, id).
      await db.schema
        .createIndex('images_owner_created')
        .on('images')
        .columns(['owner', 'created_at', 'id'])
        .execute();
      // Limits (pending count) and the janitor's sweeps.
      await db.schema.createIndex('images_owner_status').on('images').columns(['owner', 'status']).execute();
      await db.schema
        .createIndex('images_status_updated')
        .on('images')
        .columns(['status', 'updated_at'])
        .execute();

      await db.schema
        .createTable('intent_log')
        .addColumn('owner', 'varchar(255)', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('owner_usage')
        .addColumn('owner', 'varchar(255)', (c) => c.primaryKey())
        .addColumn('bytes', 'bigint', (c) => c.notNull())
        .execute();
      await db.schema
        .createIndex('intent_log_owner_created')
        .on('intent_log')
        .columns(['owner', 'created_at'])
        .execute();
    },
  },
  '0002_image_events': {
    async up(db: Kysely<unknown>) {
      // The status-change log behind GET /v1/events (SSE with Last-Event-ID resume), shared by every
      // API and worker process through the database.
      await db.schema
        .createTable('image_events')
        .addColumn('id', dialect === 'postgres' ? 'bigserial' : 'integer', (c) =>
          dialect === 'postgres' ? c.primaryKey() : c.primaryKey().autoIncrement(),
        )
        .addColumn('owner', 'varchar(255)', (c) => c.notNull())
        .addColumn('image_id', 'varchar(64)', (c) => c.notNull())
        .addColumn('status', 'varchar(16)', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .execute();
      await db.schema
        .createIndex('image_events_owner_id')
        .on('image_events')
        .columns(['owner', 'id'])
        .execute();
    },
  },
  '0003_webhooks': {
    async up(db: Kysely<unknown>) {
      // The outbox of signed webhooks to the application (DARKROOM_WEBHOOK_URL): one row per status
      // change, keyed by its image_events id so concurrent tailers insert it once; senders claim due
      // rows with a compare-and-set on next_attempt_at.
      await db.schema
        .createTable('webhook_deliveries')
        .addColumn('id', 'bigint', (c) => c.primaryKey())
        .addColumn('owner', 'varchar(255)', (c) => c.notNull())
        .addColumn('image_id', 'varchar(64)', (c) => c.notNull())
        .addColumn('status', 'varchar(16)', (c) => c.notNull())
        .addColumn('payload', 'text', (c) => c.notNull())
        .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('next_attempt_at', 'bigint')
        .addColumn('last_error', 'text')
        .addColumn('delivered_at', 'bigint')
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .execute();
      await db.schema
        .createIndex('webhook_deliveries_due')
        .on('webhook_deliveries')
        .columns(['delivered_at', 'next_attempt_at'])
        .execute();
      await db.schema
        .createTable('webhook_cursor')
        .addColumn('name', 'varchar(64)', (c) => c.primaryKey())
        .addColumn('last_event_id', 'bigint', (c) => c.notNull())
        .execute();
    },
  },
  '0004_claims': {
    async up(db: Kysely<unknown>) {
      // The claim a worker holds on an image while it develops it (issue 18.1, 16.4): who holds it and
      // until when, so a duplicate message drops without decoding and a dead worker's claim lapses.
      await db.schema.alterTable('images').addColumn('lease_token', 'varchar(64)').execute();
      await db.schema.alterTable('images').addColumn('lease_until', 'bigint').execute();
    },
  },
  '0005_transparent': {
    async up(db: Kysely<unknown>) {
      // Whether an image lets its backdrop show through (issue 17): the app then shows it on a light or
      // checkered backdrop, never on its dominant colour. An integer, as SQLite has no boolean.
      await db.schema.alterTable('images').addColumn('transparent', 'smallint').execute();
    },
  },
  '0006_image_events_notify': {
    async up(db: Kysely<unknown>) {
      if (dialect !== 'postgres') return;
      // Every commit that appends status events wakes the SSE hubs of every API process (LISTEN
      // darkroom_image_events) instead of leaving them to their next poll. A trigger, so that no writer
      // (any process, any code path) can forget it and no transaction pays an extra round trip; once per
      // statement, and PostgreSQL folds a transaction's identical notifications into one at commit.
      await sql`
        CREATE FUNCTION darkroom_image_events_notify() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          PERFORM pg_notify('${sql.raw(STATUS_EVENTS_CHANNEL)}', '');
          RETURN NULL;
        END $$`.execute(db);
      await sql`
        CREATE TRIGGER image_events_notify AFTER INSERT ON image_events
        FOR EACH STATEMENT EXECUTE FUNCTION darkroom_image_events_notify()`.execute(db);
    },
  },
  '0007_images_owner_sha256': {
    async up(db: Kysely<unknown>) {
      // Issue 17.16, the same photo stored once: an intent carrying a SHA-256 looks for the owner's ready
      // image holding those bytes. A ready image's sha256 is the worker's own digest of its original.
      await db.schema.createIndex('images_owner_sha256').on('images').columns(['owner', 'sha256']).execute();
    },
  },
});

/** Brings the schema up to date; safe to run from several processes at once (Kysely locks). */
export async function migrateToLatest(db: Kysely<unknown>, dialect: 'sqlite' | 'postgres'): Promise<void> {
  const provider: MigrationProvider = { getMigrations: async () => migrations(dialect) };
  const { error, results } = await new Migrator({ db, provider }).migrateToLatest();
  const failed = results?.find((r) => r.status === 'Error');
  if (error || failed) {
    throw new Error(`database migration ${failed?.migrationName ?? ''} failed: ${String(error)}`, {
      cause: error,
    });
  }
}
