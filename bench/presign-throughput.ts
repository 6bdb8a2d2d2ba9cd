/**
 * Presign throughput: POST /v1/uploads requests per second with the API pinned to one core
 * (auth + validation + limits + SQLite insert + SigV4 presigning), against a bare Fastify route that
 * returns a constant JSON of the same size, pinned the same way, in the same run. autocannon drives
 * both from the other core.
 *
 * Run: npm run bench:presign   (writes the "Presign throughput" section of bench/RESULTS.md)
 */

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import autocannon from 'autocannon';
import { mintToken } from '../packages/server/src/api/auth/jwt.ts';
import { type Child, darkroomBin, spawnServer, statusMiB, stopChild, writeResults } from './lib.ts';

const SECTION = '## Presign throughput (POST /v1/uploads)';
const DURATION_S = Number(process.env.BENCH_DURATION ?? 10);
const CONNECTIONS = 32;
const SECRET = 'bench-jwt-secret-0123456789abcdef';
const PIN_CORE = '0';
const USERS = 5000;

interface Result {
  rps: number;
  p50: number;
  p99: number;
  errors: number;
  non2xx: number;
}

/** Runs autocannon against POST /v1/uploads, rotating through `tokens` (one per simulated user). */
async function load(url: string, tokens: readonly string[], body: string): Promise<Result> {
  let next = 0;
  const r = await autocannon({
    url: `${url}/v1/uploads`,
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body,
    connections: CONNECTIONS,
    duration: DURATION_S,
    requests: [
      {
        setupRequest: (req) => ({
          ...req,
          headers: { ...req.headers, authorization: `Bearer ${tokens[next++ % tokens.length]}` },
        }),
      },
    ],
  });
  return {
    rps: r.requests.average,
    p50: r.latency.p50,
    p99: r.latency.p99,
    errors: r.errors,
    non2xx: r.non2xx,
  };
}

async function main(): Promise<void> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'darkroom-bench-presign-'));
  let api: Child | undefined;
  let bare: Child | undefined;
  try {
    const env = {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      DARKROOM_PORT: '0',
      DARKROOM_DATA_DIR: dataDir,
      DARKROOM_JWT_SECRET: SECRET,
      DARKROOM_LOG_LEVEL: 'warn',
    };
    const pinned = (args: string[]) => ['-c', PIN_CORE, process.execPath, ...args];
    api = await spawnServer(
      pinned([darkroomBin, 'api']),
      env,
      (l) => /API listening on (\S+)/.exec(l)?.[1],
      'taskset',
    );
    bare = await spawnServer(
      pinned(['--import', 'tsx', 'bench/bare-server.ts']),
      { ...env, RESPONSE_BYTES: '900' },
      (l) => {
        const port = /^listening (\d+)/.exec(l)?.[1];
        return port ? `http://127.0.0.1:${port}` : undefined;
      },
      'taskset',
    );
    // Many users at the default per-user limits, as in production: no one hits 429, and per-owner
    // counts stay the size they are in real life.
    const tokens = await Promise.all(
      Array.from({ length: USERS }, (_, i) =>
        mintToken(SECRET, { sub: `bench-user-${i}`, ttlSeconds: 3600 }),
      ),
    );
    const token = tokens[0]!;
    const body = JSON.stringify({ filename: 'photo.jpg', contentType: 'image/jpeg', size: 2_400_000 });
    const sample = await fetch(`${api.url}/v1/uploads`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body,
    });
    const sampleBytes = (await sample.text()).length;
    if (sample.status !== 201) throw new Error(`API answered ${sample.status}`);

    // Warm both up, then measure alternately so drift hits both.
    await load(api.url, tokens, body);
    await load(bare.url, tokens, body);
    const darkroom = await load(api.url, tokens, body);
    const baseline = await load(bare.url, tokens, body);
    const rss = statusMiB(api.proc.pid, 'VmHWM');
    const ratio = darkroom.rps / baseline.rps;
    const row = (name: string, r: Result) =>
      `| ${name} | ${Math.round(r.rps)} | ${r.p50} | ${r.p99} | ${r.errors + r.non2xx} |`;
    const section = `${SECTION}

Measured ${new Date().toISOString().slice(0, 10)} on the development machine (2 cores, loopback). Each server is
pinned to core ${PIN_CORE} with \`taskset\`; autocannon (${CONNECTIONS} connections, ${DURATION_S} s, keep-alive)
runs on the other core. Darkroom does JWT verification, schema validation, the per-owner limit checks in a
transaction, the SQLite insert and SigV4 presigning of a PUT URL, for ${USERS} users in rotation at the default
per-user limits; the baseline parses the same body and returns a constant ${sampleBytes}-byte JSON (the size
of a real response). Logging at \`warn\`.

| server | req/s | p50 ms | p99 ms | errors + non-2xx |
|---|--:|--:|--:|--:|
${row('darkroom api, POST /v1/uploads (put)', darkroom)}
${row('bare Fastify route, constant JSON', baseline)}

Ratio darkroom / bare: **${ratio.toFixed(2)}** (target ≥ 0.50). API peak RSS: ${rss?.toFixed(0) ?? 'n/a'} MiB.

Reproduce: \`npm run bench:presign\` (\`BENCH_DURATION=30\` for longer runs).
`;
    await writeResults(SECTION, section);
    process.stdout.write(`${section}\n`);
  } finally {
    await stopChild(api);
    await stopChild(bare);
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

await main();
