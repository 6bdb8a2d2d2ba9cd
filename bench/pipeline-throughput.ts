/**
 * Pipeline throughput: images per second through the whole of `darkroom start` (POST /v1/uploads →
 * presigned PUT to the embedded S3 → ObjectCreated → embedded SQS → worker → variants stored → ready,
 * learnt from GET /v1/events), for the 22 MP photo in testdata/ with the default variants,
 * against bare sharp doing the same transforms on the same file with the same concurrency, in the same
 * run. Also p50/p99 from "PUT complete" to "ready", split by where the time goes.
 *
 * Run: npm run bench:pipeline   (writes the "Pipeline throughput" section of bench/RESULTS.md)
 * Knobs: BENCH_IMAGES (measured images, default 20), BENCH_WARMUP (default 2 per side),
 *        BENCH_INFLIGHT (images uploaded but not yet ready, default concurrency + 1).
 * Runs the compiled server (packages/server/dist): `npm run build` first after changing it.
 */

import fs from 'node:fs';
import fsp from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { testImage } from '@darkroom/testdata';
import sharp from 'sharp';
import { rgbaToThumbHash } from 'thumbhash';
import { mintToken } from '../packages/server/src/api/auth/jwt.ts';
import { DEFAULT_VARIANTS, parseVariants, type VariantSpec } from '../packages/server/src/pipeline/index.ts';
import {
  type Child,
  darkroomBin,
  freePort,
  percentile,
  repoRoot,
  spawnServer,
  statusMiB,
  stopChild,
  writeResults,
} from './lib.ts';

const SECTION = '## Pipeline throughput (upload → ready, 22 MP photo)';
const PHOTO = testImage('photos/canon-eos-5d-mark-iii_22mp.jpg');
const CONCURRENCY = os.cpus().length;
const IMAGES = Number(process.env.BENCH_IMAGES ?? 20);
const WARMUP = Number(process.env.BENCH_WARMUP ?? 2);
const IN_FLIGHT = Number(process.env.BENCH_INFLIGHT ?? CONCURRENCY + 1);
const TARGET = 0.85;
const SECRET = 'bench-jwt-secret-0123456789abcdef';
const OWNER = 'bench-pipeline';
const VARIANTS: readonly VariantSpec[] = parseVariants(undefined);
const CLK_TCK = 100;

// ---------------------------------------------------------------------------------------------------
// Small helpers.

/** Wall clock in ms with sub-ms resolution, comparable with the server's Date.now() timestamps. */
const now = () => performance.timeOrigin + performance.now();

/** CPU seconds (user + system) a process has used so far, from /proc/<pid>/stat; undefined off Linux. */
function cpuSeconds(pid: number | undefined): number | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
  } catch {
    return undefined;
  }
}

const selfCpu = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};

/** CPU seconds every process on the machine has been busy so far (all cores), from /proc/stat. */
function machineBusy(): number | undefined {
  try {
    const line = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0]!;
    // user nice system idle iowait irq softirq steal …: busy = all but idle and iowait.
    const t = line.split(/\s+/).slice(1, 9).map(Number);
    return ((t[0] ?? 0) + (t[1] ?? 0) + (t[2] ?? 0) + (t[5] ?? 0) + (t[6] ?? 0) + (t[7] ?? 0)) / CLK_TCK;
  } catch {
    return undefined;
  }
}

/** Wall time and CPU of one measured phase: this process, the darkroom server and everything else. */
interface Phase {
  wallS: number;
  selfS: number;
  serverS: number;
  /** CPU-s used by processes other than these two (other jobs on the machine), when /proc says. */
  othersS: number;
}

async function phase<T>(serverPid: number | undefined, fn: () => Promise<T>): Promise<[T, Phase]> {
  const [t0, self0, server0, all0] = [now(), selfCpu(), cpuSeconds(serverPid) ?? 0, machineBusy()];
  const value = await fn();
  const [t1, self1, server1, all1] = [now(), selfCpu(), cpuSeconds(serverPid) ?? 0, machineBusy()];
  const selfS = self1 - self0;
  const serverS = server1 - server0;
  const othersS = all0 === undefined || all1 === undefined ? Number.NaN : all1 - all0 - selfS - serverS;
  return [value, { wallS: (t1 - t0) / 1000, selfS, serverS, othersS: Math.max(0, othersS) }];
}

const fmt = (n: number | undefined, digits = 0) =>
  n === undefined || Number.isNaN(n) ? 'n/a' : n.toFixed(digits);

/** Runs `count` jobs, `parallel` at a time; resolves with each job's duration in ms. */
async function pool(count: number, parallel: number, job: (i: number) => Promise<void>): Promise<number[]> {
  const times: number[] = [];
  let next = 0;
  const lane = async () => {
    while (next < count) {
      const i = next++;
      const t0 = now();
      await job(i);
      times[i] = now() - t0;
    }
  };
  await Promise.all(Array.from({ length: parallel }, lane));
  return times;
}

// ---------------------------------------------------------------------------------------------------
// Baseline: bare sharp, in this process, the transforms developImage applies to a JPEG.

function configureBareSharp(): void {
  // What the worker's configureSharp({ concurrency: 1 }) sets: no operation cache, one libvips thread
  // per image; parallelism comes from images at once.
  sharp.cache(false);
  sharp.concurrency(1);
}

/** Auto-orient → for each variant fit-inside resize + WebP (q80, effort 4) to a file; then the 100 px
 *  placeholder render, its ThumbHash and dominant colour. */
async function bareSharp(file: string, outDir: string): Promise<void> {
  for (const v of VARIANTS) {
    await sharp(file)
      .rotate()
      .resize({ width: v.maxDimension, height: v.maxDimension, fit: 'inside', withoutEnlargement: true })
      .webp({ quality: v.quality ?? 80, effort: 4 })
      .toFile(path.join(outDir, `${v.name}.webp`));
  }
  const small = await sharp(file)
    .rotate()
    .resize({ width: 100, height: 100, fit: 'inside', withoutEnlargement: true })
    .ensureAlpha()
    .raw()
    .toBuffer({ resolveWithObject: true });
  const { width, height } = small.info;
  rgbaToThumbHash(width, height, small.data);
  await sharp(small.data, { raw: { width, height, channels: 4 } }).stats();
}

/** Runs `count` bare-sharp jobs, CONCURRENCY at a time, one output folder per lane. */
function runBare(count: number, dirs: readonly string[]): Promise<number[]> {
  return pool(count, CONCURRENCY, (i) => bareSharp(PHOTO, dirs[i % dirs.length]!));
}

// ---------------------------------------------------------------------------------------------------
// The whole pipeline, through `darkroom start`.

interface StatusEvent {
  imageId: string;
  status: string;
  at: string;
}

/** One SSE stream for the owner; calls `onEvent` for each status event, resolves once connected. */
function openEvents(api: string, token: string, onEvent: (e: StatusEvent, receivedAt: number) => void) {
  return new Promise<http.ClientRequest>((resolve, reject) => {
    const req = http.get(
      `${api}/v1/events`,
      { headers: { authorization: `Bearer ${token}`, accept: 'text/event-stream' } },
      (res) => {
        if (res.statusCode !== 200) {
          reject(new Error(`GET /v1/events → ${res.statusCode}`));
          res.resume();
          return;
        }
        res.setEncoding('utf8');
        let buffer = '';
        res.on('data', (chunk: string) => {
          const receivedAt = now();
          buffer += chunk;
          for (let end = buffer.indexOf('\n\n'); end >= 0; end = buffer.indexOf('\n\n')) {
            const block = buffer.slice(0, end);
            buffer = buffer.slice(end + 2);
            // `id:` lines carry the resume point (unused here: one stream for the whole run).
            const data = block
              .split('\n')
              .filter((l) => l.startsWith('data:'))
              .map((l) => l.slice(5).trimStart())
              .join('\n');
            if (data) onEvent(JSON.parse(data) as StatusEvent, receivedAt);
          }
        });
        resolve(req);
      },
    );
    req.once('error', reject);
  });
}

interface Upload {
  id: string;
  putStart: number;
  putDone: number;
  /** Server timestamps (ms) of the status events, by status. */
  at: Map<string, number>;
  /** When the `ready` event reached this client. */
  readyReceived?: number;
}

type Stages = Map<string, { sum: number; count: number }>;

/** darkroom_worker_stage_seconds sums and counts by stage, from GET /metrics. */
async function stageTotals(api: string): Promise<Stages> {
  const text = await (await fetch(`${api}/metrics`)).text();
  const out: Stages = new Map();
  for (const m of text.matchAll(/^darkroom_worker_stage_seconds_(sum|count)\{stage="(\w+)"\} (\S+)$/gm)) {
    const entry = out.get(m[2]!) ?? { sum: 0, count: 0 };
    entry[m[1] as 'sum' | 'count'] = Number(m[3]);
    out.set(m[2]!, entry);
  }
  return out;
}

interface Darkroom {
  server: Child;
  api: string;
  /** POST the intent, PUT the bytes; resolves when the SSE stream says the image is ready. */
  uploadOne(): Promise<Upload>;
  failed: string[];
  close(): Promise<void>;
}

/** Spawns `darkroom start`, opens the owner's event stream and returns an uploader. */
async function startDarkroom(dataDir: string): Promise<Darkroom> {
  const env = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    DARKROOM_PORT: String(await freePort()),
    DARKROOM_S3_PORT: String(await freePort()),
    DARKROOM_SQS_PORT: String(await freePort()),
    DARKROOM_DATA_DIR: dataDir,
    DARKROOM_JWT_SECRET: SECRET,
    DARKROOM_LOG_LEVEL: 'warn',
    DARKROOM_WORKER_CONCURRENCY: String(CONCURRENCY),
    DARKROOM_UPLOADS_PER_MINUTE: '100000',
    DARKROOM_MAX_PENDING_UPLOADS: '100000',
    DARKROOM_QUOTA_BYTES: String(1024 ** 4),
  };
  const server = await spawnServer([darkroomBin, 'start'], env, (l) => /^\s*API:\s+(http\S+)/.exec(l)?.[1]);
  let events: http.ClientRequest | undefined;
  try {
    const api = server.url;
    const token = await mintToken(SECRET, { sub: OWNER, ttlSeconds: 3600 });
    const bytes = await fsp.readFile(PHOTO);
    const byId = new Map<string, Upload>();
    const waiters = new Map<string, { resolve: () => void; reject: (e: Error) => void }>();
    const early = new Map<string, StatusEvent[]>();
    const failed: string[] = [];
    const record = (u: Upload, e: StatusEvent, receivedAt: number) => {
      u.at.set(e.status, Date.parse(e.at));
      if (e.status === 'ready') {
        u.readyReceived = receivedAt;
        waiters.get(u.id)?.resolve();
      } else if (e.status === 'failed') {
        failed.push(u.id);
        waiters.get(u.id)?.reject(new Error(`image ${u.id} failed: ${JSON.stringify(e)}`));
      }
    };
    events = await openEvents(api, token, (e, receivedAt) => {
      const u = byId.get(e.imageId);
      if (u) record(u, e, receivedAt);
      // The intent's `pending` event can beat the POST's response; keep it until the id is known.
      else early.set(e.imageId, [...(early.get(e.imageId) ?? []), e]);
    });
    const stream = events;

    const uploadOne = async (): Promise<Upload> => {
      const putStart = now();
      const intent = await fetch(`${api}/v1/uploads`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify({
          filename: path.basename(PHOTO),
          contentType: 'image/jpeg',
          size: bytes.length,
        }),
      });
      const body = (await intent.json()) as {
        image: { id: string };
        upload: { method: string; url: string; headers?: Record<string, string> };
      };
      if (intent.status !== 201 || body.upload.method !== 'put')
        throw new Error(`POST /v1/uploads → ${intent.status}: ${JSON.stringify(body)}`);
      const u: Upload = { id: body.image.id, putStart, putDone: 0, at: new Map() };
      const ready = new Promise<void>((resolve, reject) => waiters.set(u.id, { resolve, reject }));
      byId.set(u.id, u);
      const put = await fetch(body.upload.url, {
        method: 'PUT',
        headers: body.upload.headers ?? {},
        body: new Uint8Array(bytes),
      });
      const answer = await put.text();
      if (put.status !== 200) throw new Error(`PUT → ${put.status}: ${answer}`);
      u.putDone = now();
      // What the client SDK does once the bytes are stored: `complete`, which hands the image to the
      // workers too, racing the bucket's notification (the duplicate must not be developed again).
      const complete = await fetch(`${api}/v1/uploads/${u.id}/complete`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}` },
      });
      if (complete.status !== 200) throw new Error(`complete → ${complete.status}: ${await complete.text()}`);
      for (const e of early.get(u.id) ?? []) record(u, e, u.putDone);
      early.delete(u.id);
      await ready;
      waiters.delete(u.id);
      return u;
    };
    return {
      server,
      api,
      uploadOne,
      failed,
      async close() {
        stream.destroy();
        await stopChild(server);
      },
    };
  } catch (e) {
    events?.destroy();
    await stopChild(server);
    throw e;
  }
}

/** Uploads `count` images keeping IN_FLIGHT between "upload started" and "ready". */
async function runPipeline(darkroom: Darkroom, count: number): Promise<Upload[]> {
  const uploads: Upload[] = [];
  await pool(count, IN_FLIGHT, async () => {
    uploads.push(await darkroom.uploadOne());
  });
  return uploads;
}

// ---------------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  if (!fs.existsSync(PHOTO)) throw new Error(`missing test photo ${PHOTO}`);
  if (!fs.existsSync(path.join(repoRoot, 'packages/server/dist/cli.js')))
    throw new Error('packages/server/dist is missing: run `npm run build` first');
  if (VARIANTS !== DEFAULT_VARIANTS) throw new Error('expected the default variants');
  const meta = await sharp(PHOTO).metadata();
  const photoMiB = fs.statSync(PHOTO).size / 1024 ** 2;
  const workRoot = await fsp.mkdtemp(path.join(os.tmpdir(), 'darkroom-bench-pipeline-'));
  let darkroom: Darkroom | undefined;
  try {
    process.stdout.write(
      `${path.basename(PHOTO)}: ${meta.width}x${meta.height}, ${fmt(photoMiB, 1)} MiB; ${IMAGES} images ` +
        `(+${WARMUP} warm-up) per side, concurrency ${CONCURRENCY}, ${IN_FLIGHT} in flight; load average ${os
          .loadavg()
          .map((x) => x.toFixed(2))
          .join(' ')}\n`,
    );
    darkroom = await startDarkroom(path.join(workRoot, 'data'));
    const pid = darkroom.server.proc.pid;
    configureBareSharp();
    const dirs = await Promise.all(
      Array.from({ length: CONCURRENCY }, (_, i) => fsp.mkdtemp(path.join(workRoot, `bare-${i}-`))),
    );

    // Warm both up (first decode, JIT, SQLite and connection set-up), then measure bare sharp in two
    // halves around the darkroom run, so drift and other load on the machine hit both alike.
    await runBare(WARMUP, dirs);
    await runPipeline(darkroom, WARMUP);
    const firstHalf = Math.ceil(IMAGES / 2);
    const [bareA, bareAPhase] = await phase(pid, () => runBare(firstHalf, dirs));
    process.stdout.write(`bare sharp (1/2): ${fmt(firstHalf / bareAPhase.wallS, 2)} images/s\n`);
    const stages0 = await stageTotals(darkroom.api);
    const [uploads, pipePhase] = await phase(pid, () => runPipeline(darkroom!, IMAGES));
    const stages1 = await stageTotals(darkroom.api);
    const peakRss = statusMiB(pid, 'VmHWM');
    const first = Math.min(...uploads.map((u) => u.putStart));
    const last = Math.max(...uploads.map((u) => u.readyReceived!));
    const pipeRate = IMAGES / ((last - first) / 1000);
    process.stdout.write(`darkroom: ${fmt(pipeRate, 2)} images/s\n`);
    const developRuns = (stages1.get('develop')?.count ?? 0) - (stages0.get('develop')?.count ?? 0);
    process.stdout.write(`develop runs: **${developRuns}** for ${IMAGES} images\n`);
    const [bareB, bareBPhase] = await phase(pid, () => runBare(IMAGES - firstHalf, dirs));
    const bareMs = [...bareA, ...bareB];
    const bareWall = bareAPhase.wallS + bareBPhase.wallS;
    const bareRate = IMAGES / bareWall;
    process.stdout.write(`bare sharp (2/2): ${fmt((IMAGES - firstHalf) / bareBPhase.wallS, 2)} images/s\n`);
    const failed = darkroom.failed.length;
    await darkroom.close();
    darkroom = undefined;

    const ratio = pipeRate / bareRate;
    const latency = uploads.map((x) => x.readyReceived! - x.putDone);
    const at = (x: Upload, status: string) => x.at.get(status) ?? Number.NaN;
    const putMs = uploads.map((x) => x.putDone - x.putStart);
    const queued = uploads.map((x) => at(x, 'processing') - x.putDone);
    const working = uploads.map((x) => at(x, 'ready') - at(x, 'processing'));
    const notify = uploads.map((x) => x.readyReceived! - at(x, 'ready'));
    const meanWorking = working.reduce((a, b) => a + b, 0) / working.length;
    const stage = (name: string) => {
      const a = stages1.get(name);
      const b = stages0.get(name) ?? { sum: 0, count: 0 };
      return a && a.count > b.count ? ((a.sum - b.sum) / (a.count - b.count)) * 1000 : Number.NaN;
    };
    const row = (label: string, xs: number[]) =>
      `| ${label} | ${fmt(percentile(xs, 50))} | ${fmt(percentile(xs, 99))} |`;
    const pct = (cpuS: number, wallS: number) => `${fmt((cpuS / wallS) * 100)} %`;
    const bareSelf = bareAPhase.selfS + bareBPhase.selfS;
    const bareServer = bareAPhase.serverS + bareBPhase.serverS;
    const bareOthers = bareAPhase.othersS + bareBPhase.othersS;
    const cpu = os.cpus()[0]?.model.trim() ?? 'unknown CPU';

    const section = `${SECTION}

Run ${new Date().toISOString().replace(/\.\d{3}Z$/, 'Z')}; ${os.cpus().length} cores (${cpu}), ${Math.round(os.totalmem() / 1024 ** 3)} GiB RAM, Linux ${os.release()}, Node ${process.version}, sharp ${sharp.versions.sharp} (libvips ${sharp.versions.vips}).

Input: \`${path.basename(PHOTO)}\` (${meta.width}x${meta.height}, ${fmt(photoMiB, 1)} MiB JPEG), the same file every time; default variants (${VARIANTS.map((v) => `${v.name} ${v.maxDimension}`).join(', ')}; WebP q80, effort 4) plus the ThumbHash placeholder. ${IMAGES} measured images per side after ${WARMUP} warm-up images each, in the same run: bare sharp ${firstHalf}, then darkroom ${IMAGES}, then bare sharp ${IMAGES - firstHalf}, so drift hits both.

- **Darkroom**: \`darkroom start\` (compiled \`packages/server/dist\`, spawned: API, worker, embedded S3 and SQS in one process, SQLite under a temp dir, \`DARKROOM_WORKER_CONCURRENCY=${CONCURRENCY}\`, logging at \`warn\`, per-owner limits raised). The client keeps ${IN_FLIGHT} images between "upload started" and "ready" (${CONCURRENCY} being developed, the next usually already queued, so a freed worker slot does not wait for the client; \`BENCH_INFLIGHT\` changes it): each is \`POST /v1/uploads\`, a PUT of the file to the presigned URL, then \`POST /v1/uploads/{id}/complete\` as the client SDK sends it (so every image reaches the workers twice: the bucket's notification and the complete's hand-off); readiness comes from one \`GET /v1/events\` stream for the owner (no polling). Throughput = ${IMAGES} ÷ (first upload start → last \`ready\` event received).
- **Bare sharp**: in the benchmark process, ${CONCURRENCY} images at a time, \`sharp.cache(false)\`, \`sharp.concurrency(1)\` (as the worker configures it): for each variant \`sharp(file).rotate().resize({fit: 'inside', withoutEnlargement: true})\` → \`.webp({quality: 80, effort: 4}).toFile()\`, then the 100 px RGBA render, \`rgbaToThumbHash\` and \`stats()\` for the dominant colour. No queue, HTTP, storage or database.

| | images/s | p50 ms | p99 ms |
|---|--:|--:|--:|
| darkroom, upload → ready | ${fmt(pipeRate, 2)} | ${fmt(percentile(latency, 50))} | ${fmt(percentile(latency, 99))} |
| bare sharp, same transforms | ${fmt(bareRate, 2)} | ${fmt(percentile(bareMs, 50))} | ${fmt(percentile(bareMs, 99))} |

Develop runs: **${developRuns}** for ${IMAGES} images (each image claimed once; the second message is dropped without decoding).

Ratio darkroom / bare sharp: **${fmt(ratio, 2)}** (target ≥ ${TARGET}: ${ratio >= TARGET ? 'met' : 'not met'}). Darkroom's p50/p99 runs from the PUT's response to the \`ready\` event reaching the client (waiting in the queue included); bare sharp's is one image's transforms. Darkroom peak RSS (VmHWM of the \`darkroom start\` process over the whole run): ${fmt(peakRss)} MiB.${failed > 0 ? ` **${failed} images failed.**` : ''}

Where darkroom's time goes, per image (server timestamps from the status events; worker stages from \`/metrics\`):

| part | p50 ms | p99 ms |
|---|--:|--:|
${row('POST /v1/uploads + PUT (client)', putMs)}
${row('PUT complete → `processing` (S3 event → SQS → receive, and waiting for a free worker slot)', queued)}
${row('`processing` → `ready` (download the original, develop, store 3 variants, DB)', working)}
${row('`ready` → event received (the SSE hub polls the DB every 250 ms)', notify)}

Inside \`processing\` → \`ready\` (means): download ${fmt(stage('download'))} ms, develop ${fmt(stage('develop'))} ms, the rest (storing the variants, status updates) ${fmt(meanWorking - stage('download') - stage('develop'))} ms${Number.isNaN(stage('upload')) ? ' (the worker declares an `upload` stage but never records it, so this is the difference)' : ''}. Bare sharp's mean for the same transforms: ${fmt(bareMs.reduce((a, b) => a + b, 0) / bareMs.length)} ms.

CPU (${CONCURRENCY} cores = ${CONCURRENCY * 100} %): during the darkroom phase (${fmt(pipePhase.wallS, 1)} s) the \`darkroom start\` process used ${pct(pipePhase.serverS, pipePhase.wallS)}, the benchmark client ${pct(pipePhase.selfS, pipePhase.wallS)} and other processes on the machine ${pct(pipePhase.othersS, pipePhase.wallS)}; during bare sharp (${fmt(bareWall, 1)} s) sharp used ${pct(bareSelf, bareWall)}, the idle darkroom process ${pct(bareServer, bareWall)} and other processes ${pct(bareOthers, bareWall)}. In the darkroom run the client, the API, the embedded S3 (MD5 + fsync of each object) and SQS servers and the ${CONCURRENCY} develop jobs share the cores; bare sharp has them to itself.

Reproduce: \`npm run bench:pipeline\` (\`BENCH_IMAGES=50\` for a longer run).
`;
    await writeResults(SECTION, section);
    process.stdout.write(`\n${section}\n`);
  } finally {
    await darkroom?.close();
    await fsp.rm(workRoot, { recursive: true, force: true });
  }
}

await main();
