import { execFile, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
const SCRIPTS = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../ceph-rgw');

/** A running throw-away Ceph cluster with its S3 gateway. */
export interface RgwCluster {
  /** `http://127.0.0.1:PORT`: path-style S3. */
  endpoint: string;
  accessKeyId: string;
  secretAccessKey: string;
  region: string;
  /** The cluster's temp dir (ceph.conf, logs under log/). */
  dir: string;
  /** SIGKILLs the radosgw process; the monitor and OSD (which hold the data) keep running. */
  killGateway(): Promise<void>;
  /** Starts radosgw again on the same port and waits until S3 answers. */
  startGateway(): Promise<void>;
  /** The last lines of the gateway's log, for failure messages. */
  gatewayLog(lines?: number): string;
  /**
   * Starts radosgw again whenever it dies by itself (as systemd's Restart=on-failure does in
   * production), never after killGateway(); `onCrash` hears the end of what the dead one printed (a
   * segfault's banner). RGW 16 segfaults now and then on a starved machine, which is not what the test
   * is about. Returns the function that stops watching.
   */
  restartOnCrash(onCrash: (output: string) => void): () => void;
  /** Stops every daemon (by PID) and removes the temp dir. Safe to call twice. */
  stop(): Promise<void>;
}

/**
 * The DARKROOM_* (and AWS_*) variables that point Darkroom's storage at `rgw`'s `bucket`, as its README
 * documents for Ceph: the endpoint, the keys through the standard AWS chain, the provider and path style.
 */
export function darkroomStorageEnv(rgw: RgwCluster, bucket: string): Record<string, string> {
  return {
    DARKROOM_S3_ENDPOINT: rgw.endpoint,
    AWS_ACCESS_KEY_ID: rgw.accessKeyId,
    AWS_SECRET_ACCESS_KEY: rgw.secretAccessKey,
    DARKROOM_S3_PROVIDER: 'ceph',
    DARKROOM_S3_FORCE_PATH_STYLE: 'true',
    DARKROOM_S3_BUCKET: bucket,
  };
}

const live = new Set<string>();
let exitHookInstalled = false;

/** On a normal exit, clusters nobody stopped go too (a killed process is covered by up.sh's watchdog). */
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const dir of live) {
      try {
        execFileSync(path.join(SCRIPTS, 'down.sh'), [dir], { stdio: 'ignore', timeout: 10_000 });
      } catch {
        // The watchdog still removes it within a second of this process being gone.
      }
    }
  });
}

/**
 * Starts a single-node Ceph cluster (monitor, memstore OSD, RADOS Gateway) on free loopback ports with
 * packages/testkit/ceph-rgw/up.sh: 3-6 s. One per test file; `stop()` in afterAll. The daemons are
 * stopped by PID, and a watchdog stops them within a second if this process dies first (a test
 * runner killed mid-run, Ctrl-C), so no ceph process outlives its test.
 */
export async function startRgw(): Promise<RgwCluster> {
  installExitHook();
  let stdout: string;
  try {
    ({ stdout } = await run(path.join(SCRIPTS, 'up.sh'), [], {
      env: { ...process.env, CEPH_RGW_OWNER_PID: String(process.pid) },
      timeout: 180_000,
    }));
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`Ceph RGW did not start: ${e.stderr ?? e.message}`);
  }
  const env = Object.fromEntries(
    [...stdout.matchAll(/^export (\w+)=(.*)$/gm)].map((m) => [m[1]!, m[2]!] as const),
  );
  const dir = env.CEPH_RGW_DIR!;
  live.add(dir);
  const gatewayPid = () => {
    const lines = fs.readFileSync(path.join(dir, 'pids'), 'utf8').trim().split('\n');
    const last = lines.filter((l) => l.startsWith('rgw ')).at(-1);
    return last ? Number(last.split(' ')[1]) : undefined;
  };
  const alive = (pid: number) => fs.existsSync(`/proc/${pid}`) && !/^State:\s+Z/m.test(readStatus(pid));
  /** True from killGateway() until startGateway() has it answering again. */
  let down = false;
  /** A restart after a crash in progress, which killGateway() and startGateway() wait for. */
  let restarting: Promise<void> | undefined;
  const start = () =>
    run(path.join(SCRIPTS, 'rgw-start.sh'), [dir], { timeout: 180_000 }).then(() => undefined);
  return {
    endpoint: env.S3_ENDPOINT!,
    accessKeyId: env.AWS_ACCESS_KEY_ID!,
    secretAccessKey: env.AWS_SECRET_ACCESS_KEY!,
    region: env.AWS_DEFAULT_REGION!,
    dir,
    async killGateway() {
      await restarting;
      down = true;
      const pid = gatewayPid();
      if (pid === undefined) return;
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        return; // already gone
      }
      while (alive(pid)) await new Promise((r) => setTimeout(r, 20));
    },
    async startGateway() {
      await restarting;
      await start();
      down = false;
    },
    restartOnCrash(onCrash) {
      const timer = setInterval(() => {
        const pid = gatewayPid();
        if (down || restarting || pid === undefined || alive(pid) || !live.has(dir)) return;
        let output = '';
        try {
          output = fs.readFileSync(path.join(dir, 'log/rgw.out'), 'utf8').split('\n').slice(-8).join('\n');
        } catch {
          // no output kept
        }
        onCrash(output);
        restarting = start()
          .catch((err: unknown) => onCrash(`and did not start again: ${String(err)}`))
          .finally(() => {
            restarting = undefined;
          });
      }, 250);
      timer.unref();
      return () => clearInterval(timer);
    },
    gatewayLog(lines = 40) {
      try {
        return fs.readFileSync(path.join(dir, 'log/rgw.log'), 'utf8').split('\n').slice(-lines).join('\n');
      } catch {
        return '(no gateway log)';
      }
    },
    async stop() {
      if (!live.delete(dir)) return;
      await run(path.join(SCRIPTS, 'down.sh'), [dir], { timeout: 60_000 });
    },
  };
}

function readStatus(pid: number): string {
  try {
    return fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return 'State: Z';
  }
}
