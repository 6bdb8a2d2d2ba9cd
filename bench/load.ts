/**
 * Bounded load test on loopback: CLIENTS simulated users for DURATION seconds, each doing the whole
 * flow in a loop: POST /v1/uploads, PUT the photo to the presigned URL, wait until the image is ready
 * (GET /v1/images/{id} every 250 ms), then fetch its thumb variant. Counts errors by kind (429s are
 * intended and counted apart), lost images (an intent that never became ready), the latency of
 * POST /v1/uploads and of the whole flow, and the RSS of `darkroom start` before, at peak and after.
 *
 * Run: npm run bench:load   (BENCH_CLIENTS, BENCH_DURATION to change the defaults of 200 and 60)
 */

import fs from 'node:fs';
import path from 'node:path';
import { testImage } from '@darkroom/testdata';
import { cpuSeconds, statusMiB } from './lib/processes.ts';
import { writeResults } from './lib/results.ts';
import { startStack } from './lib/stack.ts';
import { percentile } from './lib/stats.ts';

const SECTION = '## Load: 200 clients doing the whole flow';
const CLIENTS = Number(process.env.BENCH_CLIENTS ?? 200);
const DURATION_S = Number(process.env.BENCH_DURATION ?? 60);
const READY_TIMEOUT_MS = 180_000;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function main(): Promise<void> {
  const stack = await startStack({
    roles: ['start'],
    env: {
      DARKROOM_VARIANTS: 'thumb:320,medium:1280',
      // Every simulated client connects from 127.0.0.1: the per-address cap must make room for all of them.
      DARKROOM_MAX_CONNECTIONS_PER_CLIENT: String(4 * CLIENTS),
    },
  });
  const pid = stack.pid('start');
  try {
    const api = stack.api;
    const dir = testImage('orientation');
    const photos = fs
      .readdirSync(dir)
      .filter((f) => f.endsWith('.jpg'))
      .map((f) => fs.readFileSync(path.join(dir, f)));
    const meanKiB = photos.reduce((a, b) => a + b.length, 0) / photos.length / 1024;
    const tokens = await Promise.all(Array.from({ length: CLIENTS }, (_, i) => stack.token(`load-${i}`)));
    const intentMs: number[] = [];
    const flowMs: number[] = [];
    const errors = new Map<string, number>();
    const fail = (kind: string): void => {
      errors.set(kind, (errors.get(kind) ?? 0) + 1);
    };
    let rateLimited = 0;
    let intents = 0;
    let completed = 0;
    const lost: string[] = [];

    const flow = async (client: number, n: number): Promise<void> => {
      const auth = { authorization: `Bearer ${tokens[client]}` };
      const bytes = photos[(client + n) % photos.length]!;
      const started = performance.now();
      const res = await fetch(`${api}/v1/uploads`, {
        method: 'POST',
        headers: { ...auth, 'content-type': 'application/json' },
        body: JSON.stringify({
          filename: `c${client}-${n}.jpg`,
          contentType: 'image/jpeg',
          size: bytes.length,
        }),
      });
      intentMs.push(performance.now() - started);
      if (res.status === 429) {
        rateLimited++;
        await res.arrayBuffer();
        await sleep(Number(res.headers.get('retry-after') ?? 1) * 1000);
        return;
      }
      if (res.status !== 201) return fail(`POST /v1/uploads ${res.status}`);
      intents++;
      const { image, upload } = (await res.json()) as {
        image: { id: string };
        upload: { url: string; headers: Record<string, string> };
      };
      const put = await fetch(upload.url, {
        method: 'PUT',
        headers: upload.headers,
        body: new Uint8Array(bytes),
      });
      await put.arrayBuffer();
      if (put.status !== 200) return fail(`PUT ${put.status}`);
      const deadline = Date.now() + READY_TIMEOUT_MS;
      for (;;) {
        const got = await fetch(`${api}/v1/images/${image.id}`, { headers: auth });
        if (got.status !== 200) {
          await got.arrayBuffer();
          fail(`GET /v1/images/{id} ${got.status}`);
        } else {
          const json = (await got.json()) as { status: string; variants: Record<string, { url: string }> };
          if (json.status === 'ready') {
            const variant = await fetch(json.variants.thumb!.url);
            const body = await variant.arrayBuffer();
            if (variant.status !== 200 || body.byteLength === 0) return fail(`GET /img ${variant.status}`);
            flowMs.push(performance.now() - started);
            completed++;
            return;
          }
          if (json.status === 'failed') return fail('image failed');
        }
        if (Date.now() > deadline) {
          lost.push(image.id);
          return;
        }
        await sleep(250);
      }
    };

    const rssBefore = statusMiB(pid, 'VmRSS');
    const cpuBefore = cpuSeconds(pid);
    const end = Date.now() + DURATION_S * 1000;
    const startedAt = performance.now();
    await Promise.all(
      Array.from({ length: CLIENTS }, async (_, client) => {
        for (let n = 0; Date.now() < end; n++) {
          await flow(client, n).catch((err: unknown) => fail(`network: ${(err as Error).message}`));
        }
      }),
    );
    const elapsedS = (performance.now() - startedAt) / 1000;
    const cpu = cpuSeconds(pid) - cpuBefore;
    const rssPeak = statusMiB(pid, 'VmHWM');
    await sleep(5000);
    const rssAfter = statusMiB(pid, 'VmRSS');
    const errorCount = [...errors.values()].reduce((a, b) => a + b, 0);
    const mib = (v: number | undefined) => (v === undefined ? 'n/a' : `${v.toFixed(0)} MiB`);
    const ms = (v: number) => `${v.toFixed(0)} ms`;
    const section = `${SECTION}

Measured ${new Date().toISOString().slice(0, 10)} on the development machine (2 cores, loopback, shared with other work).
\`darkroom start\` (API, worker with 2 jobs at a time, embedded S3 and SQS, SQLite; variants thumb 320 and
medium 1280) and ${CLIENTS} simulated clients, each its own owner at the default per-owner limits, for
${DURATION_S} s. Each client loops: \`POST /v1/uploads\`, PUT one of the ${photos.length} real photos of
\`testdata/orientation\` (600×450 JPEGs with every EXIF orientation, ${meanKiB.toFixed(0)} KiB on average) to the presigned URL, poll \`GET /v1/images/{id}\` every 250 ms until \`ready\`, GET the thumb variant. The run ends
when every client has finished its last flow (the clients stop starting new ones at ${DURATION_S} s).

| measure | value |
|---|--:|
| flows completed (intent → ready → variant fetched) | ${completed} in ${elapsedS.toFixed(0)} s (${(completed / elapsedS).toFixed(1)}/s) |
| intents created | ${intents} |
| lost images (intent created, never ready within ${READY_TIMEOUT_MS / 1000} s) | **${lost.length}** |
| errors other than 429 | **${errorCount}**${errorCount ? ` (${[...errors].map(([k, v]) => `${k}: ${v}`).join(', ')})` : ''} |
| 429 answers (intended: per-owner limits) | ${rateLimited} |
| \`POST /v1/uploads\` latency p50 / p99 / max | ${ms(percentile(intentMs, 50))} / ${ms(percentile(intentMs, 99))} / ${ms(Math.max(...intentMs))} |
| whole flow latency p50 / p99 | ${ms(percentile(flowMs, 50))} / ${ms(percentile(flowMs, 99))} |
| \`darkroom start\` RSS before / peak / 5 s after | ${mib(rssBefore)} / ${mib(rssPeak)} / ${mib(rssAfter)} |
| \`darkroom start\` CPU during the run | ${cpu.toFixed(1)} s (${((100 * cpu) / elapsedS).toFixed(0)} % of one core) |

The flow rate is bounded by the worker (two images developed at a time on two cores shared with the
clients), so most of a flow's latency is waiting in the queue; the API's own latency is the intent row.

Reproduce: \`npm run bench:load\` (\`BENCH_CLIENTS\`, \`BENCH_DURATION\`).
`;
    await writeResults(SECTION, section);
    process.stdout.write(`${section}\n`);
    if (lost.length > 0 || errorCount > 0) process.exitCode = 1;
  } finally {
    await stack.stop();
  }
}

await main();
