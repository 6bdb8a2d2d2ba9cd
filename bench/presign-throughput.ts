/**
 * Presign throughput: POST /v1/uploads requests per second and CPU per request with the API pinned to
 * one core (auth + validation + limits + insert + SigV4 presigning), on SQLite and on PostgreSQL, against
 * a bare Fastify route that returns a constant JSON of the same size, pinned the same way, in the same
 * run; then each necessary part of an intent alone, and the ratio of the API's CPU per intent to their
 * sum. autocannon drives the servers from the other core.
 *
 * Run: npm run bench:presign   (writes the "Presign throughput" section of bench/RESULTS.md)
 */

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createPgDatabase, type TestDatabase } from '@darkroom/testkit';
import autocannon from 'autocannon';
import { type Child, cpuSeconds, listeningPort, spawnServer, statusMiB, stopChild } from './lib/processes.ts';
import { writeResults } from './lib/results.ts';
import { mintToken, type Stack, startStack } from './lib/stack.ts';
import { CONNECTIONS, measureParts, type PartCosts, USERS } from './presign-parts.ts';

const SECTION = '## Presign throughput (POST /v1/uploads)';
const DURATION_S = Number(process.env.BENCH_DURATION ?? 10);
const PIN_CORE = '0';

interface Result {
  rps: number;
  p50: number;
  p99: number;
  errors: number;
  non2xx: number;
  /** Requests answered in the run. */
  requests: number;
  /** The server's CPU time per answered request, in µs: robust to other load on the machine. */
  cpuUs: number;
}

/** Runs autocannon against POST /v1/uploads, rotating through `tokens` (one per simulated user). */
async function load(server: Child, tokens: readonly string[], body: string): Promise<Result> {
  let next = 0;
  const cpuBefore = cpuSeconds(server.proc.pid);
  const r = await autocannon({
    url: `${server.url}/v1/uploads`,
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
    requests: r.requests.total,
    cpuUs: ((cpuSeconds(server.proc.pid) - cpuBefore) * 1e6) / r.requests.total,
  };
}

/** One engine's run: the API's intents under load, then the parts alone against the same engine. */
interface EngineRun {
  label: string;
  result: Result;
  rssMiB: number | undefined;
  parts: PartCosts;
}

/**
 * Starts `darkroom api` pinned to the server core against `databaseUrl` (SQLite under `dataDir` when
 * undefined), warms it up, measures it, stops it, then measures the parts alone.
 */
async function runEngine(
  label: string,
  dataDir: string,
  databaseUrl: string | undefined,
  tokens: readonly string[],
  body: string,
): Promise<EngineRun> {
  let stack: Stack | undefined;
  let partsDatabase: TestDatabase | undefined;
  try {
    stack = await startStack({ roles: ['api'], dataDir, databaseUrl, pin: { api: PIN_CORE } });
    const api = stack.child('api');
    const sample = await fetch(`${api.url}/v1/uploads`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${tokens[0]}` },
      body,
    });
    if (sample.status !== 201) throw new Error(`API answered ${sample.status}: ${await sample.text()}`);
    const warmUp = await load(api, tokens, body);
    const result = await load(api, tokens, body);
    const rssMiB = statusMiB(api.proc.pid, 'VmHWM');
    await stack.stop();
    stack = undefined;
    partsDatabase = databaseUrl === undefined ? undefined : await createPgDatabase();
    const parts = await measureParts(PIN_CORE, {
      dataDir: path.join(dataDir, 'parts'),
      ...(partsDatabase ? { databaseUrl: partsDatabase.url } : {}),
      warmUp: warmUp.requests,
      measured: result.requests,
    });
    return { label, result, rssMiB, parts };
  } finally {
    await stack?.stop();
    await partsDatabase?.drop();
  }
}

async function main(): Promise<void> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'darkroom-bench-presign-'));
  let bare: Child | undefined;
  let pgDatabase: TestDatabase | undefined;
  const load0 = os.loadavg()[0]!;
  try {
    // Many users at the default per-user limits, as in production: no one hits 429, and per-owner
    // counts stay the size they are in real life.
    const tokens = await Promise.all(Array.from({ length: USERS }, (_, i) => mintToken(`bench-user-${i}`)));
    const body = JSON.stringify({ filename: 'photo.jpg', contentType: 'image/jpeg', size: 2_400_000 });
    bare = await spawnServer(
      ['--import', 'tsx', 'bench/bare-server.ts'],
      { PATH: process.env.PATH, HOME: process.env.HOME, RESPONSE_BYTES: '900' },
      listeningPort,
      PIN_CORE,
    );
    await load(bare, tokens, body);
    const baseline = await load(bare, tokens, body);
    await stopChild(bare);
    bare = undefined;

    const runs: EngineRun[] = [
      await runEngine('SQLite', path.join(dataDir, 'sqlite'), undefined, tokens, body),
    ];
    if (process.env.BENCH_PG !== '0') {
      pgDatabase = await createPgDatabase();
      runs.push(await runEngine('PostgreSQL', path.join(dataDir, 'pg'), pgDatabase.url, tokens, body));
    }
    const load1 = os.loadavg()[0]!;

    const us = (v: number) => `${Math.round(v)}`;
    const necessary = (r: EngineRun) =>
      r.parts.jwtCached + r.parts.presign + r.parts.transaction + baseline.cpuUs;
    const ratio = (r: EngineRun) => r.result.cpuUs / necessary(r);
    const row = (name: string, r: Result) =>
      `| ${name} | ${Math.round(r.rps)} | ${r.p50} | ${r.p99} | ${Math.round(r.cpuUs)} | ${r.errors + r.non2xx} |`;
    const partRow = (name: string, pick: (r: EngineRun) => string) =>
      `| ${name} | ${runs.map(pick).join(' | ')} |`;
    const ratios = runs.map((r) => `**${ratio(r).toFixed(2)}** on ${r.label}`).join(', ');
    const section = `${SECTION}

Measured ${new Date().toISOString().replace(/\.\d{3}Z$/, 'Z')}; ${os.cpus().length} cores (${os.cpus()[0]?.model.trim() ?? 'unknown CPU'}), Node ${process.version}, loopback; 1-minute load average ${load0.toFixed(1)} at the start, ${load1.toFixed(1)} at the end (other sessions share the machine: compare the ratios, measured in one run, rather than absolute figures across runs). Each server is
pinned to core ${PIN_CORE} with \`taskset\`; autocannon (${CONNECTIONS} connections, ${DURATION_S} s after a warm-up as long, keep-alive)
runs on the other core. Darkroom does JWT verification, schema validation, the per-owner limit checks in a
transaction, the insert and SigV4 presigning of a PUT URL, for ${USERS} users in rotation at the default
per-user limits, on SQLite (the default) and on PostgreSQL (a throw-away database on the machine's server); the baseline parses the same body and returns a constant JSON of the size of a real response. Logging at \`warn\`.

| server | req/s | p50 ms | p99 ms | server CPU µs / request | errors + non-2xx |
|---|--:|--:|--:|--:|--:|
${runs.map((r) => row(`darkroom api, POST /v1/uploads (put), ${r.label}`, r.result)).join('\n')}
${row('bare Fastify route, constant JSON', baseline)}

Parts of an intent, each measured alone after the API's run, in a process of their own pinned to core ${PIN_CORE} as the
API was (\`bench/presign-parts.ts\`; CPU µs per call, the API's own code; the database part with ${CONNECTIONS} intents in
flight, as under load, replaying the API's warm-up and measured run, same users in the same order, on a fresh
database), against the API's CPU per intent:

| part (µs) | ${runs.map((r) => r.label).join(' | ')} |
|---|${runs.map(() => '--:').join('|')}|
${partRow('JWT verification, HS256, first sight of a token (jose; not a part: tokens are cached)', (r) => us(r.parts.jwtUncached))}
${partRow('JWT verification, token seen before (verified-token cache)', (r) => us(r.parts.jwtCached))}
${partRow('SigV4 presigning of the PUT URL (S3RequestPresigner)', (r) => us(r.parts.presign))}
${partRow('limits check + intent log + image insert + event, one transaction (SQLite: group commit)', (r) => us(r.parts.transaction))}
${partRow("the bare route's whole request", () => us(baseline.cpuUs))}
${partRow('**sum of the necessary parts**', (r) => us(necessary(r)))}
${partRow('**POST /v1/uploads, server CPU per request**', (r) => us(r.result.cpuUs))}
${partRow('overhead: neither auth, signing, database nor HTTP', (r) => us(r.result.cpuUs - necessary(r)))}

Ratio CPU per intent / sum of its necessary parts: ${ratios} (target ≤ 1.25). API peak RSS: ${runs.map((r) => `${r.rssMiB?.toFixed(0) ?? 'n/a'} MiB (${r.label})`).join(', ')}.

Reproduce: \`npm run bench:presign\` (\`BENCH_DURATION=30\` for longer runs; \`BENCH_PG=0\` for SQLite only; \`DARKROOM_TEST_PG_URL\` names the PostgreSQL server, default \`postgres://postgres@127.0.0.1:5432/postgres\`).
`;
    await writeResults(SECTION, section);
    process.stdout.write(`${section}\n`);
  } finally {
    await stopChild(bare);
    await pgDatabase?.drop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

await main();
