/**
 * Delivery throughput: requests per second for a ~100 KB variant served by Darkroom's delivery route
 * (`GET /img/{id}/{variant}`: Fastify → AWS SDK GetObject → embedded S3 → file), against nginx serving
 * the same bytes from disk, in the same run. Both servers are pinned to the same core with `taskset`
 * (nginx with one worker process); wrk (keep-alive, 64 connections, one thread) runs on the other core.
 * Then the cost of on-the-fly transforms: a first request (render from the 2560 px variant, store) and
 * a repeat (streamed from storage), timed from the client.
 *
 * Run: npm run bench:delivery   (writes the "Delivery throughput" section of bench/RESULTS.md)
 */

import { spawn } from 'node:child_process';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { signTransformPath } from '@darkroom/server/parts';
import { testImage } from '@darkroom/testdata';
import { benchDir, type Child, freePort, spawnServer, statusMiB, stopChild } from './lib/processes.ts';
import { writeResults } from './lib/results.ts';
import { type Stack, startStack } from './lib/stack.ts';

const SECTION = '## Delivery throughput (GET /img/{id}/{variant} vs nginx)';
const DURATION_S = Number(process.env.BENCH_DURATION ?? 10);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const CONNECTIONS = 64;
const PIN_CORE = '0';
const CLIENT_CORE = '1';
const WRK = process.env.WRK ?? 'wrk';
const TRANSFORM_SECRET = 'bench-transform-secret-0123456789';
const PHOTO = testImage('photos/2569067123_aca715a2ee_o.jpg');
/** `bench` at 1200 px WebP is ~100 KB for this photo; `large` is the transform source. */
const VARIANTS = 'thumb:320,bench:1200,large:2560';
const NGINX = process.env.NGINX ?? '/usr/sbin/nginx';
const TRANSFORM_SAMPLES = 5;
/** Makes the delivery route go to storage (a 200: the variant is newer than 1970). */
const BYPASS = 'If-Modified-Since: Thu, 01 Jan 1970 00:00:00 GMT';
/**
 * What a browser that takes WebP asks with (Firefox's): every request of the run sends it, so that the
 * delivery route answers the WebP variant. Without an Accept (wrk's default) or with wildcards alone
 * (fetch's default) it answers the variant's rendered JPEG fallback instead.
 */
const ACCEPT_WEBP = 'image/webp,*/*';

interface Result {
  rps: number;
  mbps: number;
  p50: number;
  p99: number;
  errors: number;
  /** wrk's socket errors by kind, e.g. `timeout 19` (wrk gives up on a response after 2 s). */
  errorKinds: string;
  non2xx: number;
}

/**
 * wrk GETs of one URL (keep-alive, CONNECTIONS connections, one thread pinned to the other core).
 * wrk rather than autocannon: autocannon's JavaScript client tops out near 70 MiB/s of 100 KB bodies on
 * this machine, far below either server, so it would measure itself.
 */
async function load(url: string, headers: readonly string[] = []): Promise<Result> {
  const out = await new Promise<string>((resolve, reject) => {
    const proc = spawn(
      'taskset',
      [
        '-c',
        CLIENT_CORE,
        WRK,
        '-t1',
        `-c${CONNECTIONS}`,
        `-d${DURATION_S}s`,
        '--latency',
        ...[`Accept: ${ACCEPT_WEBP}`, ...headers].flatMap((h) => ['-H', h]),
        url,
      ],
      {
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    let text = '';
    proc.stdout.on('data', (d: Buffer) => {
      text += d.toString();
    });
    proc.once('error', reject);
    proc.once('exit', (code) =>
      code === 0 ? resolve(text) : reject(new Error(`wrk exited ${code}: ${text}`)),
    );
  });
  const num = (re: RegExp) => Number(re.exec(out)?.[1] ?? Number.NaN);
  const ms = (re: RegExp) => {
    const m = re.exec(out);
    if (!m) return Number.NaN;
    const unit = m[2];
    return Number(m[1]) * (unit === 'us' ? 0.001 : unit === 's' ? 1000 : 1);
  };
  const transfer = /Transfer\/sec:\s+([\d.]+)(\w+)/.exec(out);
  const scale: Record<string, number> = { B: 1 / 1024 ** 2, KB: 1 / 1024, MB: 1, GB: 1024 };
  return {
    rps: num(/Requests\/sec:\s+([\d.]+)/),
    mbps: transfer ? Number(transfer[1]) * (scale[transfer[2] ?? 'MB'] ?? 1) : Number.NaN,
    p50: ms(/50%\s+([\d.]+)(us|ms|s)/),
    p99: ms(/99%\s+([\d.]+)(us|ms|s)/),
    ...socketErrors(out),
    non2xx: num(/Non-2xx or 3xx responses: (\d+)/) || 0,
  };
}

/** The table's last cell: errors and non-2xx answers, with what they were when there were any. */
function errorCell(r: Result): string {
  const what = [r.errorKinds, r.non2xx > 0 ? `non-2xx ${r.non2xx}` : ''].filter((x) => x !== '').join(', ');
  return what === '' ? '0' : `${r.errors + r.non2xx} (${what})`;
}

/** wrk's "Socket errors" line: their sum and the kinds that occurred. */
function socketErrors(out: string): { errors: number; errorKinds: string } {
  const m = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  if (!m) return { errors: 0, errorKinds: '' };
  const kinds = ['connect', 'read', 'write', 'timeout'].map((kind, i) => [kind, Number(m[i + 1])] as const);
  return {
    errors: kinds.reduce((sum, [, n]) => sum + n, 0),
    errorKinds: kinds
      .filter(([, n]) => n > 0)
      .map(([kind, n]) => `${kind} ${n}`)
      .join(', '),
  };
}

/** nginx with a generated config in `dir` (`-p dir -c nginx.conf`, daemon off, logs and pid in `dir`). */
async function startNginx(dir: string, root: string): Promise<Child> {
  const port = await freePort();
  const temp = (name: string) => path.join(dir, name);
  const conf = `daemon off;
worker_processes 1;
pid ${temp('nginx.pid')};
error_log ${temp('error.log')} warn;
events { worker_connections 1024; }
http {
  access_log ${temp('access.log')} combined buffer=256k flush=5s;
  client_body_temp_path ${temp('client_body')};
  proxy_temp_path ${temp('proxy')};
  fastcgi_temp_path ${temp('fastcgi')};
  uwsgi_temp_path ${temp('uwsgi')};
  scgi_temp_path ${temp('scgi')};
  types { image/webp webp; }
  sendfile on;
  tcp_nopush on;
  keepalive_requests 1000000;
  keepalive_timeout 65;
  server {
    listen 127.0.0.1:${port};
    root ${root};
    location / { add_header Cache-Control "public, max-age=31536000, immutable"; }
  }
}
`;
  await fsp.writeFile(temp('nginx.conf'), conf);
  const proc = spawn('taskset', ['-c', PIN_CORE, NGINX, '-p', dir, '-c', temp('nginx.conf')], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 100; i++) {
    if (proc.exitCode !== null)
      throw new Error(`nginx exited: ${await fsp.readFile(temp('error.log'), 'utf8').catch(() => '')}`);
    const ok = await fetch(url).then(
      () => true,
      () => false,
    );
    if (ok) return { proc, url };
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('nginx did not start');
}

/** CPU time (user + system) of a process and its children's live tasks, in µs, from /proc (Linux). */
function cpuMicros(pid: number | undefined): number {
  if (pid === undefined) return Number.NaN;
  const ticks = (p: number) => {
    try {
      // Fields after the command name (which may contain spaces): utime and stime are the 12th and 13th.
      const stat = fs.readFileSync(`/proc/${p}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      return Number(fields[11]) + Number(fields[12]);
    } catch {
      return 0;
    }
  };
  let children: number[] = [];
  try {
    children = fs
      .readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8')
      .trim()
      .split(/\s+/)
      .filter(Boolean)
      .map(Number);
  } catch {
    // no children file: count the process alone
  }
  const total = [pid, ...children].reduce((sum, p) => sum + ticks(p), 0);
  return (total * 1_000_000) / 100; // USER_HZ is 100 on Linux
}

/** Runs `load` and adds the server's CPU time per request (robust to other load on the machine). */
type Measured = Result & { cpuUs: number };

async function measured(
  url: string,
  pid: number | undefined,
  headers: readonly string[] = [],
): Promise<Measured> {
  const before = cpuMicros(pid);
  const r = await load(url, headers);
  const used = cpuMicros(pid) - before;
  return { ...r, cpuUs: used / (r.rps * DURATION_S) };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? Number.NaN;
}

/** Client-side time of one full GET, body included, in ms; throws on anything but 200. */
async function timedGet(url: string, accept?: string): Promise<number> {
  const t0 = performance.now();
  const res = await fetch(url, accept ? { headers: { accept } } : {});
  await res.arrayBuffer();
  if (res.status !== 200) throw new Error(`${url}: ${res.status}`);
  return performance.now() - t0;
}

async function main(): Promise<void> {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'darkroom-bench-delivery-'));
  const dataDir = path.join(tmp, 'data');
  let stack: Stack | undefined;
  let nginx: Child | undefined;
  let bare: Child | undefined;
  try {
    stack = await startStack({
      roles: ['start'],
      dataDir,
      pin: { start: PIN_CORE },
      // BENCH_CPU_PROF=dir writes a V8 CPU profile of the darkroom process there on exit.
      nodeArgs: process.env.BENCH_CPU_PROF
        ? ['--cpu-prof', '--cpu-prof-dir', process.env.BENCH_CPU_PROF]
        : [],
      env: { DARKROOM_TRANSFORM_SECRET: TRANSFORM_SECRET, DARKROOM_VARIANTS: VARIANTS },
    });
    const darkroom = stack.child('start');
    const api = stack.api;

    // One upload, developed by the worker in the same process.
    const token = await stack.token('bench');
    const auth = { authorization: `Bearer ${token}` };
    const bytes = await fsp.readFile(PHOTO);
    const intent = await fetch(`${api}/v1/uploads`, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/json' },
      body: JSON.stringify({ filename: 'photo.jpg', contentType: 'image/jpeg', size: bytes.length }),
    });
    const created = (await intent.json()) as {
      image: { id: string };
      upload: { url: string; headers: Record<string, string> };
    };
    const put = await fetch(created.upload.url, {
      method: 'PUT',
      body: new Uint8Array(bytes),
      headers: created.upload.headers,
    });
    if (put.status !== 200) throw new Error(`PUT failed: ${put.status}`);
    const id = created.image.id;
    let image: { status: string; variants: Record<string, { url: string; bytes: number }> };
    const deadline = Date.now() + 60_000;
    do {
      await new Promise((r) => setTimeout(r, 200));
      image = (await (await fetch(`${api}/v1/images/${id}`, { headers: auth })).json()) as typeof image;
      if (Date.now() > deadline) throw new Error(`image still ${image.status}`);
    } while (image.status !== 'ready');
    if (image.status !== 'ready') throw new Error(`image is ${image.status}`);
    const variant = image.variants.bench!;
    const variantUrl = `${api}/img/${id}/bench`;

    // nginx serves the very same bytes from disk.
    const body = Buffer.from(
      await (await fetch(variantUrl, { headers: { accept: ACCEPT_WEBP } })).arrayBuffer(),
    );
    const root = path.join(tmp, 'www');
    await fsp.mkdir(path.join(root, 'img', id), { recursive: true });
    await fsp.writeFile(path.join(root, 'img', id, 'bench.webp'), body);
    // Run as root, nginx's workers drop to `nobody`: they need to traverse the temp dir and read the file.
    await fsp.chmod(tmp, 0o711);
    for (const dir of [root, path.join(root, 'img'), path.join(root, 'img', id)]) await fsp.chmod(dir, 0o755);
    await fsp.chmod(path.join(root, 'img', id, 'bench.webp'), 0o644);
    nginx = await startNginx(tmp, root);
    const nginxUrl = `${nginx.url}/img/${id}/bench.webp`;
    const check = await fetch(nginxUrl);
    if (!Buffer.from(await check.arrayBuffer()).equals(body)) {
      throw new Error(`nginx answers ${check.status} with other bytes than the variant`);
    }

    // A yardstick: node:http alone answering the same bytes from memory, pinned like the others.
    bare = await spawnServer(
      [path.join(benchDir, 'bare-file-server.ts'), path.join(root, 'img', id, 'bench.webp')],
      { PATH: process.env.PATH, NODE_OPTIONS: '--import tsx' },
      (l) => /^listening (http\S+)/.exec(l)?.[1],
      PIN_CORE,
    );
    const bareUrl = `${bare.url}/img/${id}/bench.webp`;

    // Warm all up, then measure in rounds, alternately, so drift and neighbours hit each alike.
    await load(variantUrl);
    await load(nginxUrl);
    await load(bareUrl);
    const rounds: Array<{ dr: Measured; ng: Measured; bn: Measured }> = [];
    for (let i = 0; i < ROUNDS; i++) {
      const dr = await measured(variantUrl, darkroom.proc.pid);
      const ng = await measured(nginxUrl, nginx.proc.pid);
      const bn = await measured(bareUrl, bare.proc.pid);
      rounds.push({ dr, ng, bn });
      process.stdout.write(
        `round ${i + 1}: darkroom ${Math.round(dr.rps)} req/s ${Math.round(dr.cpuUs)} µs, nginx ${Math.round(ng.rps)} req/s ${Math.round(ng.cpuUs)} µs, node:http ${Math.round(bn.rps)} req/s ${Math.round(bn.cpuUs)} µs; darkroom / nginx ${(dr.rps / ng.rps).toFixed(2)} by req/s, ${(ng.cpuUs / dr.cpuUs).toFixed(2)} by CPU\n`,
      );
    }
    // The round with the median req/s ratio stands for the run; every round is listed.
    const byRatio = [...rounds].sort((a, b) => a.dr.rps / a.ng.rps - b.dr.rps / b.ng.rps);
    const { dr, ng, bn } = byRatio[Math.floor(byRatio.length / 2)]!;
    const cpuRatios = rounds.map((r) => r.ng.cpuUs / r.dr.cpuUs).sort((a, b) => a - b);
    const cpuRatio = cpuRatios[Math.floor(cpuRatios.length / 2)]!;
    // If-Modified-Since is answered by storage, never from memory: the cost of a request that is not held.
    const cold = await measured(variantUrl, darkroom.proc.pid, [BYPASS]);
    const rss = statusMiB(darkroom.proc.pid, 'VmHWM');

    // Transforms: each sample a new size, so the first request renders (2560 px WebP source).
    const firsts: number[] = [];
    const repeats: number[] = [];
    const avifFirsts: number[] = [];
    for (let i = 0; i < TRANSFORM_SAMPLES; i++) {
      const url = `${api}${signTransformPath(TRANSFORM_SECRET, id, `w_${1000 + i},h_750,fit_cover,f_webp`)}`;
      firsts.push(await timedGet(url));
      repeats.push(await timedGet(url));
      const avif = `${api}${signTransformPath(TRANSFORM_SECRET, id, `w_${800 + i}`)}`;
      avifFirsts.push(await timedGet(avif, 'image/avif,image/webp,*/*'));
    }

    const ratio = dr.rps / ng.rps;
    const row = (name: string, r: Measured) =>
      `| ${name} | ${Math.round(r.rps)} | ${r.mbps.toFixed(0)} | ${r.p50} | ${r.p99} | ${Math.round(r.cpuUs)} | ${errorCell(r)} |`;
    const ms = (x: number) => x.toFixed(1);
    const section = `${SECTION}

Measured ${new Date().toISOString().slice(0, 10)} on the development machine (${os.cpus().length} cores, loopback), Node ${process.version}.
The file: the \`bench\` variant (1200 px WebP, **${body.length} bytes**) of \`photos/2569067123_aca715a2ee_o.jpg\`.
Darkroom is \`darkroom start\` (compiled; API, worker, embedded S3 and SQS in one process, logging at \`warn\`):
a first request is the delivery route (SQLite lookup of the image row, then the object) → AWS SDK GetObject over
loopback → the embedded S3 server → the file, with ETag/Last-Modified/immutable Cache-Control; objects up to
1 MiB are then held in the process's memory (64 MiB LRU). Later requests for a held public object take the lean
path in front of the router: the edge decision (remembered per URL and Accept), the image row read synchronously
from SQLite (so a deleted image is still refused at once), the held bytes with headers built once.
nginx (\`worker_processes 1\`, sendfile, access log buffered to the temp dir) serves the same bytes from disk
with the same Cache-Control. Both are pinned to core ${PIN_CORE}
with \`taskset\`; wrk (1 thread pinned to core ${CLIENT_CORE}, ${CONNECTIONS} connections, keep-alive, ${DURATION_S} s after a
warm-up run of each, every request with \`Accept: ${ACCEPT_WEBP}\` as a WebP browser sends) drives them. (autocannon, tried first, tops out near 70 MiB/s of 100 KB bodies here: it
measured itself, not the servers.)

| server | req/s | MiB/s | p50 ms | p99 ms | server CPU µs / request | errors + non-2xx |
|---|--:|--:|--:|--:|--:|--:|
${row('darkroom, GET /img/{id}/bench (held in memory after the first GET)', dr)}
${row('nginx, same file from disk', ng)}
${row('yardstick: bare node:http, the same bytes from memory (`bench/bare-file-server.ts`)', bn)}
${row('darkroom, same URL through storage (`If-Modified-Since` bypasses memory)', cold)}

Ratio darkroom / nginx: **${ratio.toFixed(2)}** by req/s, **${cpuRatio.toFixed(2)}** by CPU time per request
(through storage: ${(cold.rps / ng.rps).toFixed(2)} and ${(ng.cpuUs / cold.cpuUs).toFixed(2)}). Machine load average at the end: ${os.loadavg()[0]?.toFixed(1)}
(other sessions share the 2 cores). Darkroom peak RSS: ${rss?.toFixed(0) ?? 'n/a'} MiB.

${ROUNDS} rounds of ${DURATION_S} s each (darkroom, nginx, node:http in turn); the table shows the round with the median req/s ratio, the CPU ratio is the median of the rounds'. Every round, darkroom / nginx by req/s and by CPU per request: ${rounds.map((r) => `${(r.dr.rps / r.ng.rps).toFixed(2)} and ${(r.ng.cpuUs / r.dr.cpuUs).toFixed(2)}`).join('; ')}. Bare node:http / nginx by CPU per request: ${rounds.map((r) => (r.ng.cpuUs / r.bn.cpuUs).toFixed(2)).join(', ')} (what Node itself allows: it copies each body into the socket, nginx sends the file with sendfile).

Before the lean path (commit 3b396d4, this bench, 2026-12-05, load average ≈ 4): darkroom / nginx 0.54 by req/s and 0.30 by CPU per request (rounds 0.50/0.28, 0.62/0.30, 0.54/0.30), darkroom 188–213 µs per request against node:http's 66–71 µs. Profiled (\`BENCH_CPU_PROF=dir\`), a held request's main-thread time went to the body's write into the socket (~37 %, the same as node:http's), Kysely and SQLite reading the image row (~19 %), Fastify's hooks and routing, the security and metrics hooks (prom-client label hashing), the edge function and the variants' JSON on every request. After: the write is ~50 % of what is left; the row read ~1 % (once per event-loop turn), prom-client's histogram ~4 %, Node's HTTP machinery the rest. A \`darkroom start\` process also runs the worker, S3 and SQS servers: idle, it uses ~1 % of a core, some µs per request at these rates.

On-the-fly transforms from the 2560 px variant (client time, body included, median of ${TRANSFORM_SAMPLES}, server idle):

| request | median ms | min ms | max ms |
|---|--:|--:|--:|
| first \`w_1000,h_750,fit_cover,f_webp\` (render + store, then stream) | ${ms(median(firsts))} | ${ms(Math.min(...firsts))} | ${ms(Math.max(...firsts))} |
| repeat of the same URL (stored result, now held in memory) | ${ms(median(repeats))} | ${ms(Math.min(...repeats))} | ${ms(Math.max(...repeats))} |
| first \`w_800\` negotiated to AVIF | ${ms(median(avifFirsts))} | ${ms(Math.min(...avifFirsts))} | ${ms(Math.max(...avifFirsts))} |

Reproduce: \`npm run bench:delivery\` (\`BENCH_DURATION=30\` for longer runs).
`;
    await writeResults(SECTION, section);
    process.stdout.write(`${section}\n`);
    if (variant.bytes !== body.length) throw new Error('variant size mismatch');
  } finally {
    await stopChild(nginx);
    await stopChild(bare);
    await stack?.stop();
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

await main();
