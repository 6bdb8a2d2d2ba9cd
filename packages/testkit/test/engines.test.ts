import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createVhost, listQueues, PG_ADMIN_URL, type RgwCluster, startRgw } from '../src/index.ts';

const DOOMED_OWNER = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures', 'doomed-owner.ts');

/** Whether `pid` is a live process (a zombie is not). */
const alive = (pid: number) =>
  fs.existsSync(`/proc/${pid}/cmdline`) && fs.readFileSync(`/proc/${pid}/cmdline`).length > 0;

/** The PIDs of every daemon a cluster started. */
const daemonPids = (dir: string) =>
  fs
    .readFileSync(`${dir}/pids`, 'utf8')
    .trim()
    .split('\n')
    .map((l) => Number(l.split(' ')[1]));

const vhosts = () => execFileSync('rabbitmqctl', ['-q', 'list_vhosts'], { encoding: 'utf8' }).split('\n');

async function databases(): Promise<string[]> {
  const client = new pg.Client({ connectionString: PG_ADMIN_URL });
  await client.connect();
  try {
    return (await client.query<{ datname: string }>('SELECT datname FROM pg_database')).rows.map(
      (r) => r.datname,
    );
  } finally {
    await client.end();
  }
}

// The helpers other suites stand on: a cluster that starts, keeps its data across a gateway restart
// and leaves nothing behind; a vhost that exists only for its test.
let rgw: RgwCluster;
beforeAll(async () => {
  rgw = await startRgw();
}, 180_000);
afterAll(() => rgw.stop());

const signedFetch = (url: string, method: string, body?: string) =>
  // RGW lets the bucket owner in with SigV4 only; curl signs it (the S3 SDK is not a dependency here).
  Promise.resolve(
    execFileSync(
      'curl',
      [
        '-sS',
        '-o',
        '-',
        '-w',
        '\n%{http_code}',
        '--aws-sigv4',
        'aws:amz:us-east-1:s3',
        '--user',
        `${rgw.accessKeyId}:${rgw.secretAccessKey}`,
        '-H',
        'x-amz-content-sha256: UNSIGNED-PAYLOAD',
        '-X',
        method,
        ...(body === undefined ? [] : ['--data-binary', body]),
        url,
      ],
      { encoding: 'utf8' },
    ),
  );

describe('startRgw', () => {
  it('serves S3, and a killed gateway comes back with every object', async () => {
    expect(rgw.endpoint).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(await signedFetch(`${rgw.endpoint}/kept`, 'PUT')).toMatch(/200$/);
    expect(await signedFetch(`${rgw.endpoint}/kept/object`, 'PUT', 'bytes in the OSD')).toMatch(/200$/);
    await rgw.killGateway();
    await expect(fetch(rgw.endpoint)).rejects.toThrow();
    await rgw.startGateway();
    expect(await signedFetch(`${rgw.endpoint}/kept/object`, 'GET')).toBe('bytes in the OSD\n200');
  });

  it('restartOnCrash: a gateway that dies by itself is started again, one killed on purpose is not', async () => {
    const crashes: string[] = [];
    const stopWatching = rgw.restartOnCrash((output) => crashes.push(output));
    try {
      await rgw.killGateway();
      await new Promise((r) => setTimeout(r, 1000));
      expect(crashes).toEqual([]);
      await expect(fetch(rgw.endpoint)).rejects.toThrow();
      await rgw.startGateway();
      // As a segfault would: the gateway gone without killGateway(). Ceph's own SIGSEGV handler
      // writes a backtrace before the process ends, and the gateway keeps answering meanwhile, so
      // wait for the crash to be seen and then for the restarted gateway to answer.
      process.kill(daemonPids(rgw.dir).at(-1)!, 'SIGSEGV');
      const deadline = Date.now() + 120_000;
      while (
        Date.now() < deadline &&
        !(
          crashes.length > 0 &&
          (await fetch(rgw.endpoint).then(
            (r) => r.ok,
            () => false,
          ))
        )
      )
        await new Promise((r) => setTimeout(r, 200));
      expect(crashes).toHaveLength(1);
      expect(await signedFetch(`${rgw.endpoint}/kept/object`, 'GET')).toBe('bytes in the OSD\n200');
    } finally {
      stopWatching();
    }
  }, 180_000);

  it('stop() stops every daemon it started and removes its directory', async () => {
    const pids = daemonPids(rgw.dir);
    await rgw.stop();
    expect(fs.existsSync(rgw.dir)).toBe(false);
    expect(pids.filter(alive)).toEqual([]);
  });
});

describe('createVhost', () => {
  it('makes a vhost of its own, and drop() removes it', async () => {
    const vhost = await createVhost();
    expect(vhost.url).toBe(`amqp://guest:guest@127.0.0.1:5672/${vhost.name}`);
    expect(await listQueues(vhost.name)).toEqual([]);
    expect(vhosts()).toContain(vhost.name);
    await vhost.drop();
    expect(vhosts()).not.toContain(vhost.name);
  });
});

describe('a test process killed mid-run (runner interrupted, Ctrl-C, SIGKILL)', () => {
  it('leaves nothing behind: its Ceph daemons, the processes it started, its vhost and its database', async () => {
    const owner = spawn(process.execPath, ['--import', 'tsx', DOOMED_OWNER], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    owner.stdout.on('data', (d: Buffer) => (out += d.toString()));
    owner.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise((r) => owner.on('exit', r));
    const deadline = Date.now() + 120_000;
    while (!out.includes('\n') && Date.now() < deadline && owner.exitCode === null)
      await new Promise((r) => setTimeout(r, 100));
    const made = JSON.parse(out.split('\n')[0]!) as {
      child: number;
      rgwDir: string;
      vhost: string;
      database: string;
    };
    const daemons = daemonPids(made.rgwDir);
    expect([made.child, ...daemons].filter(alive)).toHaveLength(1 + daemons.length);
    expect(vhosts()).toContain(made.vhost);
    expect(await databases()).toContain(made.database);

    owner.kill('SIGKILL');
    await exited;
    const gone = async () =>
      ![made.child, ...daemons].some(alive) &&
      !fs.existsSync(made.rgwDir) &&
      !vhosts().includes(made.vhost) &&
      !(await databases()).includes(made.database);
    const until = Date.now() + 30_000;
    while (!(await gone()) && Date.now() < until) await new Promise((r) => setTimeout(r, 500));
    expect([made.child, ...daemons].filter(alive)).toEqual([]);
    expect(fs.existsSync(made.rgwDir)).toBe(false);
    expect(vhosts()).not.toContain(made.vhost);
    expect(await databases()).not.toContain(made.database);
  }, 180_000);
});
