/**
 * Pipeline throughput: images per second through the whole of Darkroom (POST /v1/uploads → presigned
 * PUT → ObjectCreated → queue → worker → variants stored → ready, learnt from GET /v1/events), for the
 * 22 MP photo in testdata/ with the default variants, against bare sharp doing the same transforms on
 * the same file with the same concurrency, in the same run. Two Darkroom lanes: `darkroom start` on the
 * embedded engines, and `darkroom setup` + `darkroom api` + `darkroom worker` on a throw-away Ceph RGW,
 * a fresh RabbitMQ vhost and a fresh PostgreSQL database (packages/testkit). Also p50/p99 from "PUT
 * complete" to "ready", split by where the time goes.
 *
 * Run: npm run bench:pipeline   (writes the "Pipeline throughput" section of bench/RESULTS.md)
 * Knobs: BENCH_IMAGES (measured images, default 20), BENCH_WARMUP (default 2 per side),
 *        BENCH_INFLIGHT (images uploaded but not yet ready, default concurrency + 1),
 *        BENCH_ROUNDS (each lane's images in this many chunks, interleaved with bare sharp; default 2),
 *        BENCH_ENGINES=0 (skip the RGW + RabbitMQ + PostgreSQL lane, e.g. where those are not installed).
 * Runs the compiled server (packages/server/dist): `npm run build` first after changing it.
 */

import fs from 'node:fs';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { DEFAULT_VARIANTS, parseVariants, type VariantSpec } from '@darkroom/contract';
import { DEFAULT_LIMITS, developImage } from '@darkroom/server/parts';
import { testImage } from '@darkroom/testdata';
import {
  createPgDatabase,
  createVhost,
  darkroomStorageEnv,
  type RgwCluster,
  startRgw,
} from '@darkroom/testkit';
import sharp from 'sharp';
import { rgbaToThumbHash } from 'thumbhash';
import { now, openEvents, type StatusEvent } from './lib/events.ts';
import { repoRoot, statusMiB } from './lib/processes.ts';
import { writeResults } from './lib/results.ts';
import { type Stack, startStack } from './lib/stack.ts';
import { percentile } from './lib/stats.ts';

const SECTION = '## Pipeline throughput (upload → ready, 22 MP photo)';
const PHOTO = testImage('photos/canon-eos-5d-mark-iii_22mp.jpg');
const CONCURRENCY = os.cpus().length;
const IMAGES = Number(process.env.BENCH_IMAGES ?? 20);
const WARMUP = Number(process.env.BENCH_WARMUP ?? 2);
const IN_FLIGHT = Number(process.env.BENCH_INFLIGHT ?? CONCURRENCY + 1);
const ENGINES = process.env.BENCH_ENGINES !== '0';
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 2);
// Issue 16.5: the whole pipeline at least as fast as bare sharp (0.85 before).
const TARGET = 1.0;
const OWNER = 'bench-pipeline';
const BUCKET = 'bench-pipeline';
const VARIANTS: readonly VariantSpec[] = parseVariants(undefined);
const CLK_TCK = 100;

// ---------------------------------------------------------------------------------------------------
// Small helpers.

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

/** Groups of processes whose CPU a phase reports apart (the Darkroom roles, Ceph's daemons). */
type PidGroups = Record<string, () => number[]>;

/** Wall time and CPU of one measured phase: this process, each group of processes and everything else. */
interface Phase {
  wallS: number;
  selfS: number;
  /** CPU-s by group. */
  groups: Record<string, number>;
  /** CPU-s used by processes outside this one and the groups (other jobs on the machine), when /proc says. */
  othersS: number;
}

async function phase<T>(groups: PidGroups, fn: () => Promise<T>): Promise<[T, Phase]> {
  // Per pid: one that starts inside the phase counts from 0; one that ends inside it (a radosgw that
  // crashed and was restarted) cannot be read any more and counts for nothing.
  const sample = () =>
    Object.fromEntries(
      Object.entries(groups).map(([name, pids]) => [
        name,
        new Map(pids().map((pid) => [pid, cpuSeconds(pid)] as const)),
      ]),
    );
  const [t0, self0, groups0, all0] = [now(), selfCpu(), sample(), machineBusy()];
  const value = await fn();
  const [t1, self1, groups1, all1] = [now(), selfCpu(), sample(), machineBusy()];
  const selfS = self1 - self0;
  const used: Record<string, number> = {};
  for (const [name, after] of Object.entries(groups1)) {
    let sum = 0;
    for (const [pid, cpu] of after) if (cpu !== undefined) sum += cpu - (groups0[name]?.get(pid) ?? 0);
    used[name] = sum;
  }
  const inGroups = Object.values(used).reduce((a, b) => a + b, 0);
  const othersS = all0 === undefined || all1 === undefined ? Number.NaN : all1 - all0 - selfS - inGroups;
  return [value, { wallS: (t1 - t0) / 1000, selfS, groups: used, othersS: Math.max(0, othersS) }];
}

/** Sums phases (bare sharp is measured in several pieces). */
function addPhases(phases: readonly Phase[]): Phase {
  const groups: Record<string, number> = {};
  for (const p of phases) for (const [k, v] of Object.entries(p.groups)) groups[k] = (groups[k] ?? 0) + v;
  return {
    wallS: phases.reduce((a, p) => a + p.wallS, 0),
    selfS: phases.reduce((a, p) => a + p.selfS, 0),
    groups,
    othersS: phases.reduce((a, p) => a + p.othersS, 0),
  };
}

const fmt = (n: number | undefined, digits = 0) =>
  n === undefined || Number.isNaN(n) ? 'n/a' : n.toFixed(digits);

/** `total` split into `parts` near-equal whole numbers, larger first. */
const split = (total: number, parts: number) =>
  Array.from({ length: parts }, (_, i) => Math.floor(total / parts) + (i < total % parts ? 1 : 0));

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

/** The worker's image work alone: developImage in this process, CONCURRENCY at a time. */
function runDevelop(count: number, root: string, recipe: 'auto' | 'per-variant'): Promise<number[]> {
  return pool(count, CONCURRENCY, async () => {
    const dir = await fsp.mkdtemp(path.join(root, 'develop-'));
    await developImage(PHOTO, dir, VARIANTS, DEFAULT_LIMITS, { recipe });
    await fsp.rm(dir, { recursive: true, force: true });
  });
}

/** What runs in this process between the Darkroom chunks: the baseline and the two develop recipes. */
const IN_PROCESS = [
  { name: 'bare sharp', run: (n: number, dirs: readonly string[], _root: string) => runBare(n, dirs) },
  {
    name: 'developImage, per-variant recipe',
    run: (n: number, _dirs: readonly string[], root: string) => runDevelop(n, root, 'per-variant'),
  },
  {
    name: 'developImage, decoded once',
    run: (n: number, _dirs: readonly string[], root: string) => runDevelop(n, root, 'auto'),
  },
] as const;

// ---------------------------------------------------------------------------------------------------
// The whole pipeline, through Darkroom's public API.

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

/** darkroom_worker_stage_seconds sums and counts by stage, from a role's GET /metrics. */
async function stageTotals(metricsUrl: string): Promise<Stages> {
  const text = await (await fetch(metricsUrl)).text();
  const out: Stages = new Map();
  for (const m of text.matchAll(/^darkroom_worker_stage_seconds_(sum|count)\{stage="(\w+)"\} (\S+)$/gm)) {
    const entry = out.get(m[2]!) ?? { sum: 0, count: 0 };
    entry[m[1] as 'sum' | 'count'] = Number(m[3]);
    out.set(m[2]!, entry);
  }
  return out;
}

/** One way of running Darkroom, started and ready for uploads. */
interface Darkroom {
  /** Short name for output: `embedded` or `engines`. */
  lane: string;
  /** The processes whose CPU counts as Darkroom's, and others reported apart (Ceph's daemons). */
  pids: PidGroups;
  /** Where the worker's darkroom_worker_stage_seconds are. */
  metricsUrl: string;
  /** POST the intent, PUT the bytes; resolves when the SSE stream says the image is ready. */
  uploadOne(): Promise<Upload>;
  failed: string[];
  /** Peak RSS (VmHWM, MiB) of each Darkroom process so far. */
  peakRss(): Record<string, number | undefined>;
  /** What went wrong around the run that did not fail it (a gateway that crashed and was restarted). */
  notes: string[];
  /** Requests the client sent again, with why (a 503 while radosgw restarted…). */
  retries: string[];
  /** What the worker printed (logging at warn: its warnings and errors). */
  workerOutput(): string;
  close(): Promise<void>;
}

/** Opens the owner's event stream on the stack's API and returns an uploader. */
async function uploader(stack: Stack) {
  const api = stack.api;
  const token = await stack.token(OWNER);
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
  const stream = await openEvents(api, token, (e, receivedAt) => {
    const u = byId.get(e.imageId);
    if (u) record(u, e, receivedAt);
    // The intent's `pending` event can beat the POST's response; keep it until the id is known.
    else early.set(e.imageId, [...(early.get(e.imageId) ?? []), e]);
  });

  const retries: string[] = [];
  /** fetch(), tried again on a network error, a 5xx or a 429 (up to 8 times, backing off), as the SDK does. */
  const send = async (label: string, url: string, init: RequestInit): Promise<Response> => {
    for (let attempt = 1; ; attempt++) {
      let why: string;
      try {
        const res = await fetch(url, init);
        if (res.status < 500 && res.status !== 429) return res;
        why = `${res.status} ${(await res.text()).slice(0, 200)}`;
      } catch (err) {
        why = String(err);
      }
      if (attempt >= 8) throw new Error(`${label}: ${why}`);
      retries.push(`${label}: ${why}`);
      await new Promise((r) => setTimeout(r, Math.min(5000, 200 * 2 ** attempt)));
    }
  };

  const uploadOne = async (): Promise<Upload> => {
    const putStart = now();
    const intent = await send('POST /v1/uploads', `${api}/v1/uploads`, {
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
    const put = await send('PUT', body.upload.url, {
      method: 'PUT',
      headers: body.upload.headers ?? {},
      body: new Uint8Array(bytes),
    });
    const answer = await put.text();
    if (put.status !== 200) throw new Error(`PUT → ${put.status}: ${answer}`);
    u.putDone = now();
    // What the client SDK does once the bytes are stored: `complete`, which hands the image to the
    // workers too, racing the bucket's notification (the duplicate must not be developed again).
    const complete = await send('complete', `${api}/v1/uploads/${u.id}/complete`, {
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
  return { uploadOne, failed, retries, close: () => stream.destroy() };
}

/** Settings both lanes share (with the stack's logging at warn): the per-owner limits out of the way. */
const commonEnv = () => ({
  DARKROOM_WORKER_CONCURRENCY: String(CONCURRENCY),
  DARKROOM_UPLOADS_PER_MINUTE: '100000',
  DARKROOM_MAX_PENDING_UPLOADS: '100000',
  DARKROOM_QUOTA_BYTES: String(1024 ** 4),
});

/** Spawns `darkroom start` (every role and the embedded engines in one process). */
async function startEmbedded(dataDir: string): Promise<Darkroom> {
  const stack = await startStack({ roles: ['start'], dataDir, env: commonEnv() });
  try {
    const client = await uploader(stack);
    const pid = stack.pid('start');
    return {
      lane: 'embedded',
      pids: { darkroom: () => [pid] },
      metricsUrl: `${stack.api}/metrics`,
      uploadOne: client.uploadOne,
      failed: client.failed,
      retries: client.retries,
      peakRss: () => ({ 'darkroom start': statusMiB(pid, 'VmHWM') }),
      notes: [],
      workerOutput: () => stack.child('start').output?.() ?? '',
      async close() {
        client.close();
        await stack.stop();
      },
    };
  } catch (e) {
    await stack.stop();
    throw e;
  }
}

/** Every Ceph daemon of the cluster (monitor, OSD, gateway; a restarted gateway too), from its pids file. */
function cephPids(rgw: RgwCluster): number[] {
  try {
    return fs
      .readFileSync(path.join(rgw.dir, 'pids'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => Number(l.split(' ')[1]))
      .filter((pid) => Number.isInteger(pid) && pid > 0);
  } catch {
    return [];
  }
}

/**
 * A throw-away Ceph RGW cluster, a fresh RabbitMQ vhost and a fresh PostgreSQL database (testkit), then
 * `darkroom setup`, one `darkroom api` and one `darkroom worker`, each its own process, as the deploy guide
 * runs them. Everything is removed by close() (and by testkit's watchdogs if this process is killed).
 */
async function startEngines(dataDir: string): Promise<Darkroom> {
  const cleanups: (() => Promise<void>)[] = [];
  const notes: string[] = [];
  const cleanup = async () => {
    for (const f of cleanups.splice(0).reverse()) await f().catch((e: unknown) => console.warn(String(e)));
  };
  try {
    const [rgw, vhost, db] = await Promise.all([startRgw(), createVhost('bench'), createPgDatabase()]);
    cleanups.push(
      () => rgw.stop(),
      () => vhost.drop(),
      () => db.drop(),
    );
    // RGW 16 segfaults now and then on a starved machine (see the real-engines test); production's
    // supervisor restarts it, and so does this, saying so in the results.
    const stopWatching = rgw.restartOnCrash((output) => {
      // The log keeps earlier crashes too: only this one's banner.
      const lines = output
        .split('\n')
        .map((l) => l.trim())
        .filter(Boolean);
      const last = lines.map((l) => /Caught signal/.test(l)).lastIndexOf(true);
      const said = lines.slice(Math.max(0, last)).join(' / ').slice(0, 300);
      notes.push(`radosgw died by itself and was started again (it printed: ${said || 'nothing'})`);
    });
    cleanups.push(async () => stopWatching());
    const stack = await startStack({
      roles: ['api', 'worker'],
      dataDir,
      databaseUrl: db.url,
      setup: true,
      workerMetrics: true,
      env: {
        ...commonEnv(),
        ...darkroomStorageEnv(rgw, BUCKET),
        DARKROOM_QUEUE_URL: vhost.url,
      },
    });
    cleanups.push(() => stack.stop());
    process.stdout.write(`darkroom setup:\n${stack.setupOutput.trimEnd().replace(/^/gm, '  ')}\n`);
    const [api, worker] = [stack.child('api'), stack.child('worker')];
    const client = await uploader(stack);
    cleanups.push(async () => {
      client.close();
    });
    const apiPid = api.proc.pid!;
    const workerPid = worker.proc.pid!;
    return {
      lane: 'engines',
      pids: { darkroom: () => [apiPid, workerPid], ceph: () => cephPids(rgw) },
      metricsUrl: worker.url,
      uploadOne: client.uploadOne,
      failed: client.failed,
      retries: client.retries,
      peakRss: () => ({
        'darkroom api': statusMiB(apiPid, 'VmHWM'),
        'darkroom worker': statusMiB(workerPid, 'VmHWM'),
      }),
      notes,
      workerOutput: () => worker.output?.() ?? '',
      close: cleanup,
    };
  } catch (e) {
    await cleanup();
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

/** What one Darkroom lane measured, over all its chunks. */
interface LaneResult {
  darkroom: Darkroom;
  uploads: Upload[];
  phase: Phase;
  /** Images ÷ the sum of each chunk's first upload start → last `ready` received. */
  rate: number;
  developRuns: number;
  stages0: Stages;
  stages1: Stages;
  peakRss: Record<string, number | undefined>;
}

/** Measures one chunk of `count` uploads through a lane: the uploads, the phase and its wall time. */
async function measureChunk(darkroom: Darkroom, count: number) {
  const [uploads, chunkPhase] = await phase(darkroom.pids, () => runPipeline(darkroom, count));
  const first = Math.min(...uploads.map((u) => u.putStart));
  const last = Math.max(...uploads.map((u) => u.readyReceived!));
  const wallS = (last - first) / 1000;
  process.stdout.write(`darkroom (${darkroom.lane}): ${fmt(count / wallS, 2)} images/s\n`);
  return { uploads, phase: chunkPhase, wallS };
}

/** Per-image timings of a lane: where the time between "upload started" and "ready received" went. */
function breakdown(r: LaneResult) {
  const at = (x: Upload, status: string) => x.at.get(status) ?? Number.NaN;
  const { uploads } = r;
  const working = uploads.map((x) => at(x, 'ready') - at(x, 'processing'));
  const stage = (name: string) => {
    const a = r.stages1.get(name);
    const b = r.stages0.get(name) ?? { sum: 0, count: 0 };
    return a && a.count > b.count ? ((a.sum - b.sum) / (a.count - b.count)) * 1000 : Number.NaN;
  };
  return {
    latency: uploads.map((x) => x.readyReceived! - x.putDone),
    putMs: uploads.map((x) => x.putDone - x.putStart),
    queued: uploads.map((x) => at(x, 'processing') - x.putDone),
    working,
    notify: uploads.map((x) => x.readyReceived! - at(x, 'ready')),
    meanWorking: working.reduce((a, b) => a + b, 0) / working.length,
    stage,
  };
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
  const lanes: Darkroom[] = [];
  const loadAtStart = os.loadavg()[0]!.toFixed(2);
  try {
    process.stdout.write(
      `${path.basename(PHOTO)}: ${meta.width}x${meta.height}, ${fmt(photoMiB, 1)} MiB; ${IMAGES} images ` +
        `(+${WARMUP} warm-up) per side, concurrency ${CONCURRENCY}, ${IN_FLIGHT} in flight; load average ${os
          .loadavg()
          .map((x) => x.toFixed(2))
          .join(' ')}\n`,
    );
    lanes.push(await startEmbedded(path.join(workRoot, 'data')));
    if (ENGINES) lanes.push(await startEngines(path.join(workRoot, 'engines')));
    const idle: PidGroups = Object.fromEntries(
      lanes.flatMap((l) => Object.entries(l.pids).map(([k, f]) => [`${l.lane} ${k}`, f] as const)),
    );
    configureBareSharp();
    const dirs = await Promise.all(
      Array.from({ length: CONCURRENCY }, (_, i) => fsp.mkdtemp(path.join(workRoot, `bare-${i}-`))),
    );

    // Warm everything up (first decode, JIT, database and connection set-up), then measure in rounds:
    // each lane's chunk between two pieces of bare sharp (bare, embedded, bare, engines, bare, embedded,
    // …, bare), so drift and other load on the machine hit all alike.
    for (const lane of IN_PROCESS) await lane.run(WARMUP, dirs, workRoot);
    for (const lane of lanes) await runPipeline(lane, WARMUP);
    const laneChunks = split(IMAGES, ROUNDS);
    const bareChunks = split(IMAGES, ROUNDS * lanes.length + 1);
    const inProcess = IN_PROCESS.map(() => ({ ms: [] as number[], phases: [] as Phase[] }));
    const bareMs = inProcess[0]!.ms;
    const barePhases = inProcess[0]!.phases;
    const order: string[] = [];
    let piece = 0;
    const measureBare = async () => {
      const count = bareChunks[piece++]!;
      for (const [i, lane] of IN_PROCESS.entries()) {
        const [ms, p] = await phase(idle, () => lane.run(count, dirs, workRoot));
        inProcess[i]!.ms.push(...ms);
        inProcess[i]!.phases.push(p);
        process.stdout.write(`${lane.name}: ${fmt(count / p.wallS, 2)} images/s\n`);
      }
      order.push(`in-process ${count}`);
    };
    const chunks = lanes.map(() => [] as Awaited<ReturnType<typeof measureChunk>>[]);
    const stages0 = await Promise.all(lanes.map((l) => stageTotals(l.metricsUrl)));
    await measureBare();
    for (const count of laneChunks) {
      for (const [i, lane] of lanes.entries()) {
        chunks[i]!.push(await measureChunk(lane, count));
        order.push(`${lane.lane} ${count}`);
        await measureBare();
      }
    }
    const stages1 = await Promise.all(lanes.map((l) => stageTotals(l.metricsUrl)));
    const results: LaneResult[] = lanes.map((darkroom, i) => {
      const rate = IMAGES / chunks[i]!.reduce((a, c) => a + c.wallS, 0);
      const developRuns = (stages1[i]!.get('develop')?.count ?? 0) - (stages0[i]!.get('develop')?.count ?? 0);
      process.stdout.write(
        `darkroom (${darkroom.lane}): ${fmt(rate, 2)} images/s; develop runs: **${developRuns}** for ${IMAGES} images\n`,
      );
      return {
        darkroom,
        uploads: chunks[i]!.flatMap((c) => c.uploads),
        phase: addPhases(chunks[i]!.map((c) => c.phase)),
        rate,
        developRuns,
        stages0: stages0[i]!,
        stages1: stages1[i]!,
        peakRss: darkroom.peakRss(),
      };
    });
    for (const r of results) {
      const retried = r.darkroom.retries;
      if (retried.length > 0)
        r.darkroom.notes.push(
          `the client tried ${retried.length} requests again (${[...new Set(retried.map((x) => x.slice(0, 160)))].slice(0, 3).join('; ')})`,
        );
      if (r.developRuns === IMAGES) continue;
      // Say why (a retry after a storage error while radosgw was down, a redelivered message…).
      const said = r.darkroom
        .workerOutput()
        .split('\n')
        .filter((l) => /"level":(40|50)|warn|error/i.test(l))
        .slice(-5)
        .map((l) => l.slice(0, 300));
      r.darkroom.notes.push(
        `${r.developRuns} develop runs for ${IMAGES} images; the worker's last warnings: ${said.length > 0 ? said.map((l) => `\`${l}\``).join(' / ') : 'none'}`,
      );
    }
    for (const lane of lanes.splice(0)) await lane.close();

    const bare = addPhases(barePhases);
    const bareRate = IMAGES / bare.wallS;
    const developed = inProcess.slice(1).map((x, i) => {
      const p = addPhases(x.phases);
      return { name: IN_PROCESS[i + 1]!.name, rate: IMAGES / p.wallS, cpu: p.selfS / IMAGES, ms: x.ms };
    });
    const [perVariant, once] = developed as [(typeof developed)[0], (typeof developed)[0]];
    process.stdout.write(
      `Image work alone (same run): decoded once ÷ per-variant recipe = **${fmt(once.rate / perVariant.rate, 2)}** by images/s, ${fmt(perVariant.cpu / once.cpu, 2)} by CPU per image; ÷ bare sharp: ${fmt(once.rate / bareRate, 2)}\n`,
    );
    const ratio = (r: LaneResult) => r.rate / bareRate;
    const bareCpu = bare.selfS / IMAGES;
    const cpuPerImage = (r: LaneResult) =>
      (Object.values(r.phase.groups).reduce((a, b) => a + b, 0) + r.phase.selfS) / IMAGES;
    for (const r of results)
      process.stdout.write(
        `Ratio darkroom (${r.darkroom.lane}) / bare sharp: **${fmt(ratio(r), 2)}** by images/s, ${fmt(bareCpu / cpuPerImage(r), 2)} by CPU per image\n`,
      );
    const [embedded, engines] = results as [LaneResult, LaneResult | undefined];
    const parts = results.map((r) => ({ r, b: breakdown(r) }));
    const row = (label: string, pick: (b: ReturnType<typeof breakdown>) => number[]) =>
      `| ${label} | ${parts.map(({ b }) => `${fmt(percentile(pick(b), 50))} | ${fmt(percentile(pick(b), 99))}`).join(' | ')} |`;
    const pct = (cpuS: number | undefined, wallS: number) =>
      cpuS === undefined ? 'n/a' : `${fmt((cpuS / wallS) * 100)} %`;
    const laneName = (r: LaneResult) =>
      r.darkroom.lane === 'embedded'
        ? 'darkroom start, embedded S3 + SQS + SQLite'
        : 'darkroom api + worker, Ceph RGW + RabbitMQ + PostgreSQL';
    const cpuLine = (r: LaneResult) => {
      const p = r.phase;
      const roles =
        r.darkroom.lane === 'embedded' ? 'the `darkroom start` process' : 'the api and worker processes';
      return `during the ${r.darkroom.lane} lane (${fmt(p.wallS, 1)} s) ${roles} used ${pct(p.groups.darkroom, p.wallS)}${p.groups.ceph === undefined ? '' : `, Ceph's daemons (monitor, OSD, radosgw) ${pct(p.groups.ceph, p.wallS)}`}, the benchmark client ${pct(p.selfS, p.wallS)} and other processes on the machine${r.darkroom.lane === 'engines' ? ' (RabbitMQ and PostgreSQL among them)' : ''} ${pct(p.othersS, p.wallS)}`;
    };
    const idleCpu = Object.values(bare.groups).reduce((a, b) => a + b, 0);
    const cpu = os.cpus()[0]?.model.trim() ?? 'unknown CPU';
    const notes = results.flatMap((r) => r.darkroom.notes.map((n) => `${r.darkroom.lane}: ${n}`));
    const bareOrder = order.join(', ');

    const section = `${SECTION}

Run ${new Date().toISOString().replace(/\.\d{3}Z$/, 'Z')}; ${os.cpus().length} cores (${cpu}), ${Math.round(os.totalmem() / 1024 ** 3)} GiB RAM, Linux ${os.release()}, Node ${process.version}, sharp ${sharp.versions.sharp} (libvips ${sharp.versions.vips}); load average ${loadAtStart} at the start, ${os.loadavg()[0]!.toFixed(2)} at the end (the machine is shared with other jobs: see the CPU paragraph).

Input: \`${path.basename(PHOTO)}\` (${meta.width}x${meta.height}, ${fmt(photoMiB, 1)} MiB JPEG), the same file every time; default variants (${VARIANTS.map((v) => `${v.name} ${v.maxDimension}`).join(', ')}; WebP q80, effort 4) plus the ThumbHash placeholder. ${IMAGES} measured images per lane after ${WARMUP} warm-up images each, in the same run, in ${ROUNDS} rounds with the in-process lanes between every two chunks (${bareOrder}), so drift and the load of other jobs hit all lanes alike.

- **Darkroom, embedded engines**: \`darkroom start\` (compiled \`packages/server/dist\`, spawned: API, worker, embedded S3 and SQS in one process, SQLite under a temp dir).
${
  engines
    ? `- **Darkroom, real engines**: a throw-away single-node Ceph 16 cluster (monitor, memstore OSD, radosgw; \`packages/testkit\` \`startRgw\`), a fresh vhost on the machine's RabbitMQ and a fresh database on its PostgreSQL; \`darkroom setup\` (bucket, exchange and quorum queue with dead letters, the RGW topic pushing \`uploads/\` events over AMQP), then \`darkroom api\` and \`darkroom worker\` as two processes (\`DARKROOM_S3_PROVIDER=ceph\`, \`DARKROOM_S3_FORCE_PATH_STYLE=true\`, \`DARKROOM_QUEUE_URL=amqp://…/<vhost>\`, \`DARKROOM_DATABASE_URL=postgres://…\`). All of it runs on this machine and is removed at the end.\n`
    : '- The real-engines lane was skipped (`BENCH_ENGINES=0`).\n'
}- Both lanes: \`DARKROOM_WORKER_CONCURRENCY=${CONCURRENCY}\`, logging at \`warn\`, per-owner limits raised. The client keeps ${IN_FLIGHT} images between "upload started" and "ready" (${CONCURRENCY} being developed, the next usually already queued, so a freed worker slot does not wait for the client; \`BENCH_INFLIGHT\` changes it): each is \`POST /v1/uploads\`, a PUT of the file to the presigned URL, then \`POST /v1/uploads/{id}/complete\` as the client SDK sends it (so every image reaches the workers twice: the bucket's notification and the complete's hand-off); readiness comes from one \`GET /v1/events\` stream for the owner (no polling). Throughput = ${IMAGES} ÷ the sum over the lane's chunks of (first upload start → last \`ready\` event received).
- **In this process** (between the Darkroom chunks, one after the other): bare sharp, then \`developImage\` with \`recipe: 'per-variant'\` (the image work as it was: a pipeline from the file per variant and for the placeholder), then \`developImage\` as the worker runs it (decoded once; see \`packages/server/src/pipeline/develop.ts\`), ${CONCURRENCY} images at a time each.
- **Bare sharp**: in the benchmark process, ${CONCURRENCY} images at a time, \`sharp.cache(false)\`, \`sharp.concurrency(1)\` (as the worker configures it): for each variant \`sharp(file).rotate().resize({fit: 'inside', withoutEnlargement: true})\` → \`.webp({quality: 80, effort: 4}).toFile()\`, then the 100 px RGBA render, \`rgbaToThumbHash\` and \`stats()\` for the dominant colour. No queue, HTTP, storage or database.

| | images/s | ÷ bare sharp | p50 ms | p99 ms | CPU s / image | develop runs |
|---|--:|--:|--:|--:|--:|--:|
${results
  .map((r) => {
    const b = breakdown(r);
    return `| ${laneName(r)}, upload → ready | ${fmt(r.rate, 2)} | **${fmt(ratio(r), 2)}** | ${fmt(percentile(b.latency, 50))} | ${fmt(percentile(b.latency, 99))} | ${fmt(cpuPerImage(r), 2)} | ${r.developRuns} |`;
  })
  .join('\n')}
| bare sharp, same transforms | ${fmt(bareRate, 2)} | 1.00 | ${fmt(percentile(bareMs, 50))} | ${fmt(percentile(bareMs, 99))} | ${fmt(bareCpu, 2)} | |
${developed.map((d) => `| ${d.name}, in this process | ${fmt(d.rate, 2)} | ${fmt(d.rate / bareRate, 2)} | ${fmt(percentile(d.ms, 50))} | ${fmt(percentile(d.ms, 99))} | ${fmt(d.cpu, 2)} | |`).join('\n')}

The image work alone, in this process and the same run: the worker's \`developImage\` (sniffing, header checks, the variants and placeholders; no queue, HTTP, storage or database) decoding the photo once and resizing the smaller outputs from its pixels makes **${fmt(once.rate / perVariant.rate, 2)}×** the images per second of its per-variant recipe (one pipeline from the file per variant and for the placeholder, as bare sharp does; CPU per image ${fmt(perVariant.cpu / once.cpu, 2)}× less), and ${fmt(once.rate / bareRate, 2)}× bare sharp's.

CPU s / image: the Darkroom processes' CPU time (and Ceph's daemons' on the real engines; not RabbitMQ's or PostgreSQL's, which other jobs on this machine share) plus the benchmark client's, ÷ images; bare sharp's is the benchmark process's. On a machine shared with other jobs it is the steadier figure: bare sharp's CPU per image ÷ Darkroom's is ${results.map((r) => `**${fmt(bareCpu / cpuPerImage(r), 2)}** (${r.darkroom.lane})`).join(', ')}.

Develop runs: **${embedded.developRuns}** for ${IMAGES} images${engines ? ` on the embedded engines, **${engines.developRuns}** on the real ones` : ''} (each image claimed once; the second message is dropped without decoding).

Ratio darkroom / bare sharp: **${fmt(ratio(embedded), 2)}** on the embedded engines (target ≥ ${TARGET}: ${ratio(embedded) >= TARGET ? 'met' : 'not met'})${engines ? `, **${fmt(ratio(engines), 2)}** on Ceph RGW + RabbitMQ + PostgreSQL` : ''}. Darkroom's p50/p99 runs from the PUT's response to the \`ready\` event reaching the client (waiting in the queue included); bare sharp's is one image's transforms. Peak RSS (VmHWM over the whole run): ${results.flatMap((r) => Object.entries(r.peakRss).map(([k, v]) => `${k} ${fmt(v)} MiB`)).join(', ')}.${results.some((r) => r.darkroom.failed.length > 0) ? ` **Failed images: ${results.map((r) => `${r.darkroom.lane} ${r.darkroom.failed.length}`).join(', ')}.**` : ''}${notes.length > 0 ? `\n\nDuring the run: ${notes.join('; ')}.` : ''}

Where Darkroom's time goes, per image (server timestamps from the status events; worker stages from \`/metrics\`):

| part | ${parts.map(({ r }) => `${r.darkroom.lane} p50 ms | ${r.darkroom.lane} p99 ms`).join(' | ')} |
|---|${parts.map(() => '--:|--:|').join('')}
${row('POST /v1/uploads + PUT (client)', (b) => b.putMs)}
${row('PUT complete → `processing` (S3 event → queue → receive, and waiting for a free worker slot)', (b) => b.queued)}
${row('`processing` → `ready` (download the original, develop, store 3 variants, DB)', (b) => b.working)}
${row('`ready` → event received', (b) => b.notify)}

Inside \`processing\` → \`ready\` (means): ${parts.map(({ r, b }) => `${r.darkroom.lane}: download ${fmt(b.stage('download'))} ms, develop ${fmt(b.stage('develop'))} ms, the rest (storing the variants, status updates) ${fmt(b.meanWorking - b.stage('download') - b.stage('develop'))} ms`).join('; ')}${Number.isNaN(parts[0]!.b.stage('upload')) ? ' (the worker declares an `upload` stage but never records it, so the rest is the difference)' : ''}. Bare sharp's mean for the same transforms: ${fmt(bareMs.reduce((a, b) => a + b, 0) / bareMs.length)} ms.

CPU (${CONCURRENCY} cores = ${CONCURRENCY * 100} %): ${results.map(cpuLine).join('; ')}; during bare sharp (${fmt(bare.wallS, 1)} s) sharp used ${pct(bare.selfS, bare.wallS)}, the idle Darkroom processes${engines ? ' and Ceph' : ''} ${pct(idleCpu, bare.wallS)} and other processes ${pct(bare.othersS, bare.wallS)}. In a Darkroom lane the client, the API, the storage and queue and the ${CONCURRENCY} develop jobs share the cores; bare sharp has them to itself.

Reproduce: \`npm run bench:pipeline\` (\`BENCH_IMAGES=50\` for a longer run; \`BENCH_ENGINES=0\` without Ceph, RabbitMQ and PostgreSQL).
`;
    await writeResults(SECTION, section);
    process.stdout.write(`\n${section}\n`);
  } finally {
    for (const lane of lanes) await lane.close();
    await fsp.rm(workRoot, { recursive: true, force: true });
  }
}

await main();
