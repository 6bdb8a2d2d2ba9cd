/**
 * startStack(): the Darkroom roles a benchmark needs, spawned from the compiled server
 * (packages/server/bin/darkroom.js) on free ports, with the benchmarks' JWT secret, and stopped together.
 */
import { execFile } from 'node:child_process';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { removeWhenGone } from '@darkroom/testkit';
import { SignJWT } from 'jose';
import { type Child, darkroomBin, freePort, repoRoot, spawnServer, stopChild } from './processes.ts';

/** `start` runs every role and the embedded engines in one process; the others are one role each. */
export type Role = 'start' | 's3' | 'sqs' | 'api' | 'worker';

/** The JWT secret every benchmark's servers verify tokens with. */
export const BENCH_JWT_SECRET = 'bench-jwt-secret-0123456789abcdef';

/**
 * A token as Darkroom accepts it (the public contract: HS256 over the shared secret, `sub` the owner,
 * `iat` and `exp`), valid for an hour.
 */
export function mintToken(sub: string, secret: string = BENCH_JWT_SECRET): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({})
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject(sub)
    .setIssuedAt(now)
    .setExpirationTime(now + 3600)
    .sign(new TextEncoder().encode(secret));
}

export interface StackOptions {
  /** `['start']`, or one process per role, started one after the other in this order. */
  roles: readonly Role[];
  /** DARKROOM_DATA_DIR (created, kept); by default a temp dir that stop() removes. */
  dataDir?: string;
  /** Each role its own data dir, `<dataDir>/<role>`, so that each one's disk use can be measured. */
  dataDirPerRole?: boolean;
  /** PostgreSQL (DARKROOM_DATABASE_URL) instead of SQLite under the data dir. */
  databaseUrl?: string;
  /**
   * More environment for every role (DARKROOM_*, AWS_*, UV_THREADPOOL_SIZE…), over PATH, HOME and
   * DARKROOM_LOG_LEVEL=warn; the ports, data dir, JWT secret and database are the stack's.
   */
  env?: Readonly<Record<string, string | undefined>>;
  /** Roles pinned to cores with `taskset -c` (e.g. `{ api: '0' }`). */
  pin?: Partial<Record<Role, string>>;
  /** Node options before the darkroom script (e.g. `--cpu-prof`). */
  nodeArgs?: readonly string[];
  /** Runs `darkroom setup` before the roles (external engines): bucket, queue, notifications. */
  setup?: boolean;
  /** The worker role serves /metrics on a free port (DARKROOM_WORKER_METRICS_PORT). */
  workerMetrics?: boolean;
}

export interface Stack {
  /** The API's base URL (of `start` or `api`); throws when neither runs. */
  readonly api: string;
  /** Each role's URL: the API, S3 and SQS endpoints, the worker's /metrics (when it serves them). */
  readonly urls: Readonly<Partial<Record<Role, string>>>;
  /** The environment every role got (without the per-role data dir). */
  readonly env: Readonly<NodeJS.ProcessEnv>;
  /** What `darkroom setup` printed (with `setup: true`). */
  readonly setupOutput: string;
  /** A role's process; throws when the stack did not start it. */
  child(role: Role): Child;
  /** A role's process id. */
  pid(role: Role): number;
  /** DARKROOM_DATA_DIR of a role. */
  dataDirOf(role: Role): string;
  /** A bearer token for `sub` that the stack's API accepts. */
  token(sub: string): Promise<string>;
  /** Stops every process the stack started (the last started first) and removes its temp dir. */
  stop(): Promise<void>;
}

/** The line each role prints once it serves, and the URL in it. */
const READY: Record<Role, (line: string) => string | undefined> = {
  start: (l) => /^\s*API:\s+(http\S+)/.exec(l)?.[1],
  api: (l) => /API listening on (\S+)/.exec(l)?.[1],
  s3: (l) => /Embedded S3 listening on (\S+)/.exec(l)?.[1],
  sqs: (l) => /Embedded SQS listening on (\S+)/.exec(l)?.[1],
  worker: (l) => {
    const m = /worker running(?:.*metrics at (\S+))?/.exec(l);
    return m ? (m[1] ?? 'running') : undefined;
  },
};

const run = promisify(execFile);

/** Starts `options.roles` (see StackOptions); on a failure, stops what it started and throws. */
export async function startStack(options: StackOptions): Promise<Stack> {
  const { roles } = options;
  const has = (...r: Role[]) => r.some((role) => roles.includes(role));
  const ownDir = options.dataDir === undefined;
  const dataDir = options.dataDir ?? (await fsp.mkdtemp(path.join(os.tmpdir(), 'darkroom-bench-')));
  const dataDirOf = (role: Role) => (options.dataDirPerRole ? path.join(dataDir, role) : dataDir);
  const port = async (name: string, wanted: boolean) => (wanted ? { [name]: String(await freePort()) } : {});
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    DARKROOM_LOG_LEVEL: 'warn',
    ...options.env,
    ...(await port('DARKROOM_PORT', has('start', 'api'))),
    ...(await port('DARKROOM_S3_PORT', has('start', 's3'))),
    ...(await port('DARKROOM_SQS_PORT', has('start', 'sqs'))),
    ...(await port('DARKROOM_WORKER_METRICS_PORT', has('worker') && options.workerMetrics === true)),
    ...(options.dataDirPerRole ? {} : { DARKROOM_DATA_DIR: dataDir }),
    DARKROOM_JWT_SECRET: BENCH_JWT_SECRET,
    ...(options.databaseUrl ? { DARKROOM_DATABASE_URL: options.databaseUrl } : {}),
  };
  const children = new Map<Role, Child>();
  const urls: Partial<Record<Role, string>> = {};
  const stop = async () => {
    for (const child of [...children.values()].reverse()) await stopChild(child);
    children.clear();
    if (ownDir) await fsp.rm(dataDir, { recursive: true, force: true });
  };
  let setupOutput = '';
  try {
    if (options.setup) {
      setupOutput = (await run(process.execPath, [darkroomBin, 'setup'], { env, cwd: repoRoot })).stdout;
    }
    for (const role of roles) {
      await fsp.mkdir(dataDirOf(role), { recursive: true });
      const child = await spawnServer(
        [...(options.nodeArgs ?? []), darkroomBin, role],
        { ...env, DARKROOM_DATA_DIR: dataDirOf(role) },
        READY[role],
        options.pin?.[role],
      );
      children.set(role, child);
      // Killed with this process even when it dies before stop() (Ctrl-C, a crash).
      child.proc.once('exit', removeWhenGone({ pid: child.proc.pid! }));
      urls[role] = child.url;
    }
  } catch (err) {
    await stop();
    throw err;
  }
  const child = (role: Role) => {
    const found = children.get(role);
    if (!found) throw new Error(`this stack runs no ${role} process`);
    return found;
  };
  return {
    get api() {
      const url = urls.start ?? urls.api;
      if (url === undefined) throw new Error('this stack runs no API');
      return url;
    },
    urls,
    env,
    setupOutput,
    child,
    pid: (role) => child(role).proc.pid!,
    dataDirOf,
    token: (sub) => mintToken(sub),
    stop,
  };
}
