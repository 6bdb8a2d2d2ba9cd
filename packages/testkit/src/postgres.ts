import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { removeWhenGone } from './reaper.ts';

/** Where test databases are created: the machine's PostgreSQL (trust auth) unless DARKROOM_TEST_PG_URL says otherwise. */
export const PG_ADMIN_URL = process.env.DARKROOM_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

/** A database of one test's own. */
export interface TestDatabase {
  /** Its connection URL. */
  url: string;
  /** Drops it, closing any connection still open on it. */
  drop(): Promise<void>;
}

async function admin<T>(fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: PG_ADMIN_URL });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/** Creates a fresh, uniquely named PostgreSQL database on the shared server. */
export async function createPgDatabase(): Promise<TestDatabase> {
  const name = `darkroom_test_${process.pid}_${randomBytes(5).toString('hex')}`;
  await admin((c) => c.query(`CREATE DATABASE ${name}`));
  const forget = removeWhenGone({ database: name, adminUrl: PG_ADMIN_URL });
  const url = new URL(PG_ADMIN_URL);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    drop: async () => {
      await admin((c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
      forget();
    },
  };
}
