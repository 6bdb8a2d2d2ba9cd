/**
 * Presign throughput: POST /v1/uploads requests per second and CPU per request with the API pinned to
 * one core (auth + validation + limits + insert + SigV4 presigning), on SQLite and on PostgreSQL, against
 * a bare Fastify route that returns a constant JSON of the same size, pinned the same way, in the same
 * run; after each round of the API's load, each necessary part of an intent alone (bench/presign-parts.ts),
 * and the ratio of the API's CPU per intent to their sum. autocannon drives the servers from the other core.
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
import { CONNECTIONS, type PartCosts, PartsProcess, USERS } from './presign-parts.ts';

const SECTION = '## Presign throughput (POST /v1/uploads)';
const DURATION_S = Number(process.env.BENCH_DURATION ?? 10);
/**
 * Each server's warm-up, not measured: at least 10 s whatever the rounds' length, as V8 optimises a
 * route after enough calls (3 s of warm-up left the API's first 3 s round at 2.2× its parts, the third at 1.2×).
 */
const WARMUP_S = Math.max(10, DURATION_S);
const PIN_CORE = '0';
/** Rounds per engine (the API's load, then the parts): the tables show the one with the median ratio. */
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);

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
async function load(
  server: Child,
  tokens: readonly string[],
  body: string,
  durationS = DURATION_S,
): Promise<Result> {
  let next = 0;
  const cpuBefore = cpuSeconds(server.proc.pid);
  const r = await autocannon({
    url: `${server.url}/v1/uploads`,
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body,
    connections: CONNECTIONS,
    duration: durationS,
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

/** One round: the API's intents under load, then the parts alone, right after. */
interface Round {
  api: Result;
  parts: PartCosts;
}

/** One engine's run: its rounds, in order. */
interface EngineRun {
  label: string;
  rounds: Round[];
  rssMiB: number | undefined;
}

/**
 * Starts `darkroom api` pinned to the server core against `databaseUrl` (SQLite under `dataDir` when
 * undefined) and the parts' process on the same core against a fresh database of the same engine; warms
 * both up, then measures ROUNDS rounds, each the API's load then the parts alone, so that each round's
 * ratio compares figures taken within seconds of each other.
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
  let parts: PartsProcess | undefined;
  try {
    stack = await startStack({ roles: ['api'], dataDir, databaseUrl, pin: { api: PIN_CORE } });
    const api = stack.child('api');
    const sample = await fetch(`${api.url}/v1/uploads`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${tokens[0]}` },
      body,
    });
    if (sample.status !== 201) throw new Error(`API answered ${sample.status}: ${await sample.text()}`);
    partsDatabase = databaseUrl === undefined ? undefined : await createPgDatabase();
    parts = PartsProcess.start(PIN_CORE, {
      dataDir: path.join(dataDir, 'parts'),
      ...(partsDatabase ? { databaseUrl: partsDatabase.url } : {}),
    });
    const warmUp = await load(api, tokens, body, WARMUP_S);
    await parts.replay(warmUp.requests);
    const rounds: Round[] = [];
    for (let i = 0; i < ROUNDS; i++) {
      const result = await load(api, tokens, body);
      rounds.push({ api: result, parts: await parts.round(result.requests) });
    }
    return { label, rounds, rssMiB: statusMiB(api.proc.pid, 'VmHWM') };
  } finally {
    await parts?.close();
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
    await load(bare, tokens, body, WARMUP_S);
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
    const necessary = (round: Round) =>
      round.parts.jwtCached + round.parts.presign + round.parts.transaction + baseline.cpuUs;
    const ratioOf = (round: Round) => round.api.cpuUs / necessary(round);
    // The tables show each engine's round with the median ratio.
    const shown = (r: EngineRun) =>
      [...r.rounds].sort((a, b) => ratioOf(a) - ratioOf(b))[Math.floor((r.rounds.length - 1) / 2)]!;
    const row = (name: string, r: Result) =>
      `| ${name} | ${Math.round(r.rps)} | ${r.p50} | ${r.p99} | ${Math.round(r.cpuUs)} | ${r.errors + r.non2xx} |`;
    const partRow = (name: string, pick: (round: Round) => string) =>
      `| ${name} | ${runs.map((r) => pick(shown(r))).join(' | ')} |`;
    const ratios = runs
      .map(
        (r) =>
          `**${ratioOf(shown(r)).toFixed(2)}** on ${r.label} (rounds in order: ${r.rounds.map((x) => ratioOf(x).toFixed(2)).join(', ')})`,
      )
      .join(', ');
    const section = `${SECTION}

Measured ${new Date().toISOString().replace(/\.\d{3}Z$/, 'Z')}; ${os.cpus().length} cores (${os.cpus()[0]?.model.trim() ?? 'unknown CPU'}), Node ${process.version}, loopback; 1-minute load average ${load0.toFixed(1)} at the start, ${load1.toFixed(1)} at the end (other sessions share the machine: compare the ratios, measured in one run, rather than absolute figures across runs). Each server is
pinned to core ${PIN_CORE} with \`taskset\`; autocannon (${CONNECTIONS} connections, ${ROUNDS} rounds of ${DURATION_S} s after a warm-up of ${WARMUP_S} s,
keep-alive) runs on the other core; the darkroom rows are each engine's round with the median ratio (below). Darkroom does JWT verification, schema validation, the per-owner limit checks in a
transaction, the insert and SigV4 presigning of a PUT URL, for ${USERS} users in rotation at the default
per-user limits, on SQLite (the default) and on PostgreSQL (a throw-away database on the machine's server); the baseline parses the same body and returns a constant JSON of the size of a real response. Logging at \`warn\`.

| server | req/s | p50 ms | p99 ms | server CPU µs / request | errors + non-2xx |
|---|--:|--:|--:|--:|--:|
${runs.map((r) => row(`darkroom api, POST /v1/uploads (put), ${r.label}`, shown(r).api)).join('\n')}
${row('bare Fastify route, constant JSON', baseline)}

Parts of an intent, each measured alone right after each round of the API's load, in a process of their own pinned
to core ${PIN_CORE} as the API is (\`bench/presign-parts.ts\`; CPU µs per call, the API's own code; the database part with
${CONNECTIONS} intents in flight, as under load, replaying the API's warm-up and rounds, same users in the same order,
on a fresh database), against the API's CPU per intent in that round:

| part (µs) | ${runs.map((r) => r.label).join(' | ')} |
|---|${runs.map(() => '--:').join('|')}|
${partRow('JWT verification, HS256, first sight of a token (jose; not a part: tokens are cached)', (x) => us(x.parts.jwtUncached))}
${partRow('JWT verification, token seen before (verified-token cache)', (x) => us(x.parts.jwtCached))}
${partRow('SigV4 presigning of the PUT URL (S3RequestPresigner)', (x) => us(x.parts.presign))}
${partRow('limits check + intent log + image insert + event, one transaction (SQLite: group commit)', (x) => us(x.parts.transaction))}
${partRow("the bare route's whole request", () => us(baseline.cpuUs))}
${partRow('**sum of the necessary parts**', (x) => us(necessary(x)))}
${partRow('**POST /v1/uploads, server CPU per request**', (x) => us(x.api.cpuUs))}
${partRow('overhead: neither auth, signing, database nor HTTP', (x) => us(x.api.cpuUs - necessary(x)))}

Ratio CPU per intent / sum of its necessary parts: ${ratios} (target ≤ 1.25). API peak RSS: ${runs.map((r) => `${r.rssMiB?.toFixed(0) ?? 'n/a'} MiB (${r.label})`).join(', ')}.

Reproduce: \`npm run bench:presign\` (\`BENCH_DURATION=30\` for longer rounds, \`BENCH_ROUNDS\` for more of them; \`BENCH_PG=0\` for SQLite only; \`DARKROOM_TEST_PG_URL\` names the PostgreSQL server, default \`postgres://postgres@127.0.0.1:5432/postgres\`).
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
