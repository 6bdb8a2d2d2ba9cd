/**
 * The necessary parts of an upload intent, each measured alone (CPU µs per call), for bench:presign.
 * Runs as a child process of its own, pinned to the core the API ran on: measured inside the benchmark's
 * process (unpinned, its heap full of autocannon's results and the users' tokens), the same calls cost
 * 10-40 % more than the API pays for them, and the ratio they are divided into read below 1.
 *
 * Run by presign-throughput.ts through {@link measureParts}; alone:
 * `PARTS_JOB='{"dataDir":"/tmp/x","warmUp":500,"measured":10000}' node --import tsx bench/presign-parts.ts`
 */

import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  createS3Clients,
  createTokenVerifier,
  ImageRepository,
  loadConfig,
  newImageRow,
  openDatabase,
  StorageGateway,
} from '@darkroom/server/parts';
import { jwtVerify } from 'jose';
import { repoRoot } from './lib/processes.ts';
import { mintToken, BENCH_JWT_SECRET as SECRET } from './lib/stack.ts';

/** Intents in flight at once, as autocannon's connections keep them at the API. */
export const CONNECTIONS = 32;
/** Simulated users, in rotation: each intent's owner is `bench-user-<i mod USERS>`. */
export const USERS = 5000;

/** What to measure against, and how much of the API's run to replay. */
export interface PartsJob {
  /** SQLite under this directory (fresh) when `databaseUrl` is not set. */
  dataDir: string;
  /** A fresh PostgreSQL database. */
  databaseUrl?: string;
  /** Intents the API answered in its warm-up, then in its measured run. */
  warmUp: number;
  measured: number;
}

/** CPU µs per call of each part. */
export interface PartCosts {
  jwtUncached: number;
  jwtCached: number;
  presign: number;
  transaction: number;
}

/** Mean CPU µs per call of `fn`, `concurrency` calls in flight at a time, after `warmUp` calls. */
async function cpuPerCall(
  n: number,
  concurrency: number,
  fn: (i: number) => Promise<unknown>,
  warmUp = 500,
): Promise<number> {
  const run = async (count: number) => {
    let next = 0;
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (next < count) await fn(next++);
      }),
    );
  };
  await run(warmUp);
  const before = process.cpuUsage();
  await run(n);
  const used = process.cpuUsage(before);
  return (used.user + used.system) / n;
}

/**
 * What one intent's parts cost on their own: the floor under the API's CPU per request, whatever the
 * HTTP layer does. The database part replays the API's runs on a fresh database: as many transactions,
 * for the same users in the same order, so the per-owner rows it counts and the tables it writes grow as
 * they did under the API. The limits statement reads each owner's recent rows, so the state matters: on
 * a near-empty database this part came out ~25 % cheaper than replayed, and on the API's database after
 * its run ~50 % dearer (2026-12-06, SQLite).
 */
async function partCosts(job: PartsJob): Promise<PartCosts> {
  const tokens = await Promise.all(Array.from({ length: 1000 }, (_, i) => mintToken(`bench-user-${i}`)));
  const config = loadConfig({
    DARKROOM_DATA_DIR: job.dataDir,
    DARKROOM_JWT_SECRET: SECRET,
    ...(job.databaseUrl ? { DARKROOM_DATABASE_URL: job.databaseUrl } : {}),
  });
  const { db, dialect } = await openDatabase(config.databaseUrl);
  const { client, presigner } = createS3Clients(config);
  try {
    const images = new ImageRepository(db, dialect);
    const storage = new StorageGateway(client, presigner, config.s3.bucket);
    const verifier = createTokenVerifier(config.jwt);
    const key = new TextEncoder().encode(SECRET);
    const jwtUncached = await cpuPerCall(4000, 1, (i) => jwtVerify(tokens[i % tokens.length]!, key));
    const jwtCached = await cpuPerCall(20_000, 1, (i) => verifier.verify(`Bearer ${tokens[i % 1000]}`));
    const presign = await cpuPerCall(10_000, 1, () =>
      storage.presignPut({
        key: `uploads/${randomUUID()}`,
        contentType: 'image/jpeg',
        contentLength: 2_400_000,
        expiresIn: 600,
      }),
    );
    const transaction = await cpuPerCall(
      job.measured,
      CONNECTIONS,
      async (i) => {
        const owner = `bench-user-${i % USERS}`;
        const now = Date.now();
        const row = newImageRow(
          {
            id: randomUUID(),
            owner,
            filename: 'photo.jpg',
            content_type: 'image/jpeg',
            declared_bytes: 2_400_000,
            upload_method: 'put',
          },
          now,
        );
        await images.withOwnerLock(owner, async (repo) => {
          await repo.usage(owner, now, { perMinute: 120, maxPending: 50 });
          await repo.logIntent(owner, now);
          await repo.insert(row);
        });
      },
      job.warmUp,
    );
    return { jwtUncached, jwtCached, presign, transaction };
  } finally {
    client.destroy();
    presigner.destroy();
    await db.destroy();
  }
}

const self = fileURLToPath(import.meta.url);

/** Measures the parts in a child process pinned to `core` (as the API was) and returns its answer. */
export function measureParts(core: string, job: PartsJob): Promise<PartCosts> {
  return new Promise((resolve, reject) => {
    const proc = spawn(
      'taskset',
      ['-c', core, process.execPath, '--import', 'tsx', path.relative(repoRoot, self)],
      {
        cwd: repoRoot,
        env: { PATH: process.env.PATH, HOME: process.env.HOME, PARTS_JOB: JSON.stringify(job) },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let out = '';
    let err = '';
    proc.stdout.on('data', (d: Buffer) => {
      out += d.toString();
    });
    proc.stderr.on('data', (d: Buffer) => {
      err += d.toString();
    });
    proc.once('error', reject);
    proc.once('exit', (code) => {
      if (code !== 0) reject(new Error(`presign-parts exited ${code}: ${err}`));
      else resolve(JSON.parse(out) as PartCosts);
    });
  });
}

if (process.argv[1] === self) {
  const job = JSON.parse(process.env.PARTS_JOB ?? 'null') as PartsJob | null;
  if (!job) throw new Error('PARTS_JOB (JSON: dataDir, databaseUrl?, warmUp, measured) is not set');
  process.stdout.write(JSON.stringify(await partCosts(job)));
}
