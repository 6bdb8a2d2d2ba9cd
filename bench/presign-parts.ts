/**
 * The necessary parts of an upload intent, each measured alone (CPU µs per call), for bench:presign.
 * A child process of its own, pinned to the core the API runs on, measuring in rounds interleaved with
 * the API's: measured inside the benchmark's process (unpinned, its heap full of autocannon's results and
 * the users' tokens), the same calls cost 10-40 % more than the API pays for them; measured a minute
 * after the API, they met another load of this shared machine (the API's CPU per intent moved by up to
 * 50 % between runs of the same code, 250 and 371 µs).
 *
 * Driven by presign-throughput.ts through {@link PartsProcess}: one JSON line per command on stdin
 * (`{"replay": n}`, `{"round": n}`), one JSON line per answer on stdout.
 */

import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { createInterface } from 'node:readline';
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

/** The database the parts write: fresh, so that replaying the API's intents gives it the API's rows. */
export interface PartsJob {
  /** SQLite under this directory when `databaseUrl` is not set. */
  dataDir: string;
  /** A PostgreSQL database. */
  databaseUrl?: string;
}

/** CPU µs per call of each part. */
export interface PartCosts {
  jwtUncached: number;
  jwtCached: number;
  presign: number;
  transaction: number;
}

/** Mean CPU µs per call of `fn` over calls `0..n-1`, `concurrency` calls in flight at a time. */
async function cpuPerCall(
  n: number,
  concurrency: number,
  fn: (i: number) => Promise<unknown>,
): Promise<number> {
  let next = 0;
  const before = process.cpuUsage();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < n) await fn(next++);
    }),
  );
  const used = process.cpuUsage(before);
  return (used.user + used.system) / n;
}

/**
 * What one intent's parts cost on their own: the floor under the API's CPU per request, whatever the
 * HTTP layer does. The database part replays the API's runs on a fresh database: as many transactions
 * as the API answered in each of its runs, for the same users in the same order, so the per-owner rows it
 * counts and the tables it writes grow as they did under the API. The limits statement reads each owner's
 * recent rows, so the state matters: on a near-empty database this part came out ~25 % cheaper than
 * replayed, and on the API's database after its run ~50 % dearer (2026-12-06, SQLite).
 */
async function serveParts(job: PartsJob): Promise<void> {
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
    const intent = async (i: number) => {
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
        await repo.recordIntent(row);
      });
    };
    const jwtUncached = (i: number) => jwtVerify(tokens[i % tokens.length]!, key);
    const jwtCached = (i: number) => verifier.verify(`Bearer ${tokens[i % tokens.length]}`);
    const presign = () =>
      storage.presignPut({
        key: `uploads/${randomUUID()}`,
        contentType: 'image/jpeg',
        contentLength: 2_400_000,
        expiresIn: 600,
      });
    // Warm (V8 optimises after enough calls), as the API is after its warm-up.
    await cpuPerCall(2000, 1, jwtUncached);
    await cpuPerCall(5000, 1, jwtCached);
    await cpuPerCall(2000, 1, presign);
    for await (const line of createInterface({ input: process.stdin })) {
      const command = JSON.parse(line) as { replay?: number; round?: number };
      if (command.replay !== undefined) {
        await cpuPerCall(command.replay, CONNECTIONS, intent);
        process.stdout.write(`${JSON.stringify({ replayed: command.replay })}\n`);
      } else if (command.round !== undefined) {
        const costs: PartCosts = {
          jwtUncached: await cpuPerCall(4000, 1, jwtUncached),
          jwtCached: await cpuPerCall(20_000, 1, jwtCached),
          presign: await cpuPerCall(10_000, 1, presign),
          transaction: await cpuPerCall(command.round, CONNECTIONS, intent),
        };
        process.stdout.write(`${JSON.stringify(costs)}\n`);
      }
    }
  } finally {
    client.destroy();
    presigner.destroy();
    await db.destroy();
  }
}

const self = fileURLToPath(import.meta.url);

/** The parts' process, pinned to a core; its rounds are measured when asked, between the API's. */
export class PartsProcess {
  private readonly answers: AsyncIterator<string>;
  private stderr = '';

  private constructor(private readonly proc: ReturnType<typeof spawn>) {
    proc.stderr?.on('data', (d: Buffer) => {
      this.stderr += d.toString();
    });
    this.answers = createInterface({ input: proc.stdout! })[Symbol.asyncIterator]();
  }

  /** Starts the process on `core`, writing to the database `job` names. */
  static start(core: string, job: PartsJob): PartsProcess {
    return new PartsProcess(
      spawn('taskset', ['-c', core, process.execPath, '--import', 'tsx', path.relative(repoRoot, self)], {
        cwd: repoRoot,
        env: { PATH: process.env.PATH, HOME: process.env.HOME, PARTS_JOB: JSON.stringify(job) },
        stdio: ['pipe', 'pipe', 'pipe'],
      }),
    );
  }

  private async ask(command: object): Promise<string> {
    this.proc.stdin!.write(`${JSON.stringify(command)}\n`);
    const answer = await this.answers.next();
    if (answer.done) throw new Error(`presign-parts exited: ${this.stderr}`);
    return answer.value;
  }

  /** Runs `intents` transactions unmeasured, as the API's warm-up did. */
  async replay(intents: number): Promise<void> {
    await this.ask({ replay: intents });
  }

  /** Measures each part once more; the transaction over the next `intents`, as the API's round had. */
  async round(intents: number): Promise<PartCosts> {
    return JSON.parse(await this.ask({ round: intents })) as PartCosts;
  }

  /** Ends the process (it closes its database) and waits for it. */
  async close(): Promise<void> {
    if (this.proc.exitCode !== null) return;
    const exited = new Promise((resolve) => this.proc.once('exit', resolve));
    this.proc.stdin!.end();
    await exited;
  }
}

if (process.argv[1] === self) {
  const job = JSON.parse(process.env.PARTS_JOB ?? 'null') as PartsJob | null;
  if (!job) throw new Error('PARTS_JOB (JSON: dataDir, databaseUrl?) is not set');
  await serveParts(job);
}
