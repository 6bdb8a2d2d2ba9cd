import fs from 'node:fs';
import path from 'node:path';
import SqliteDatabase from 'better-sqlite3';
import { Kysely, PostgresDialect, SqliteDialect } from 'kysely';
import pg from 'pg';
import { migrateToLatest } from './migrations.ts';
import type { Database } from './schema.ts';

export type Db = Kysely<Database>;

// BIGINT columns hold epoch milliseconds and byte counts, all far below 2^53; numbers, not strings.
pg.types.setTypeParser(pg.types.builtins.INT8, (v) => Number(v));

/** Which engine a Db talks to, for the few statements that differ (advisory locks). */
export type Dialect = 'sqlite' | 'postgres';

/**
 * Kysely prepares every query afresh; compiling SQLite statements was a third of the API's CPU time
 * per upload intent. Kysely's SQL for a given query shape is stable, so prepared statements are
 * cached by their text (a bounded set: one per query shape in the code).
 */
function withStatementCache(sqlite: SqliteDatabase.Database): SqliteDatabase.Database {
  const cache = new Map<string, SqliteDatabase.Statement>();
  return new Proxy(sqlite, {
    get(target, prop, receiver) {
      if (prop !== 'prepare') return Reflect.get(target, prop, receiver);
      return (kyselySql: string) => {
        // Kysely opens SQLite transactions with a plain (deferred) BEGIN. Ours all write, and one that
        // reads first fails at once with SQLITE_BUSY_SNAPSHOT (busy_timeout does not apply) if another
        // process (api and worker share the file) committed in between. IMMEDIATE takes the write lock
        // up front, waiting up to busy_timeout for it.
        const source = kyselySql === 'begin' ? 'begin immediate' : kyselySql;
        let stmt = cache.get(source);
        if (!stmt) {
          stmt = target.prepare(source);
          if (cache.size < 500) cache.set(source, stmt);
        }
        return stmt;
      };
    },
  });
}

/** Synchronous reads of committed rows, outside Kysely (its async driver and query builder cost more than SQLite's answer). */
export interface SyncReader {
  /** The first row `sql` selects with `parameters`, or undefined. */
  get<T>(sql: string, parameters: readonly unknown[]): T | undefined;
  close(): void;
}

/**
 * A read-only connection of its own to a `sqlite:` database (undefined for PostgreSQL, whose reads are
 * asynchronous). Its own connection, so a read never sees a transaction Kysely has open on the main one
 * (SQLite in WAL mode gives it the last committed state without waiting for writers).
 */
export function openSyncReader(url: string): SyncReader | undefined {
  if (!url.startsWith('sqlite:')) return undefined;
  const sqlite = new SqliteDatabase(url.slice('sqlite:'.length), { readonly: true, fileMustExist: true });
  sqlite.pragma('busy_timeout = 5000');
  const statements = new Map<string, SqliteDatabase.Statement>();
  return {
    get<T>(sql: string, parameters: readonly unknown[]) {
      let stmt = statements.get(sql);
      if (!stmt) {
        stmt = sqlite.prepare(sql);
        // A bounded set: one per query shape in the code.
        if (statements.size < 100) statements.set(sql, stmt);
      }
      return stmt.get(...parameters) as T | undefined;
    },
    close: () => sqlite.close(),
  };
}

/** Opens the metadata database from a `sqlite:` or `postgres://` URL and runs migrations. */
export async function openDatabase(url: string): Promise<{ db: Db; dialect: Dialect }> {
  let db: Db;
  let dialect: Dialect;
  if (url.startsWith('sqlite:')) {
    const file = url.slice('sqlite:'.length);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    const sqlite = new SqliteDatabase(file);
    sqlite.pragma('journal_mode = WAL');
    sqlite.pragma('busy_timeout = 5000');
    sqlite.pragma('synchronous = NORMAL');
    db = new Kysely<Database>({ dialect: new SqliteDialect({ database: withStatementCache(sqlite) }) });
    dialect = 'sqlite';
  } else {
    const pool = new pg.Pool({ connectionString: url, max: 10, connectionTimeoutMillis: 5000 });
    // An idle client that loses its server must not crash the process; the next query reports it.
    pool.on('error', () => undefined);
    // A checked-out client (a transaction between its queries) that loses its server emits 'error' on
    // itself, where the pool's idle listener no longer is: uncaught, it killed the process (seen in
    // database-outage.test.ts). Its queries still fail and the pool drops it on release.
    pool.on('connect', (client) => client.on('error', () => undefined));
    db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
    dialect = 'postgres';
  }
  await migrateToLatest(db as Kysely<unknown>, dialect);
  return { db, dialect };
}
